"""The command line speaks plainly and protects the committed figures (issue 14).

Bad arguments: one line on stderr, exit code 2, never a traceback.  Quick runs write to
figures/quick and never replace a full-mode sidecar without --force.  Shards fill the cache,
a plain reproduce plots from it, --no-compute lists what is missing.  The Python API's rng=
arguments reject negative seeds naming the argument.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dmf_edu.cli import main
from dmf_edu.experiments import REGISTRY
from dmf_edu.experiments.runner import parse_shard

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys):
    """(exit code, stdout, stderr) of ``dmf-edu argv``."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, says", [
    (["demo", "--seed", "-5"], "seed must be >= 0"),
    (["reproduce", "X2", "--seed", "-1"], "seed must be >= 0"),
    (["reproduce", "X8", "--seed", "1.5"], "whole number"),
    (["reproduce", "X8", "--jobs", "0"], "--jobs must be >= 1"),
    (["demo", "--jobs", "0"], "--jobs must be >= 1"),
    (["reproduce", "X8", "--shard", "3/2"], "1 <= K <= N"),
    (["reproduce", "X8", "--shard", "two"], "K/N"),
    (["reproduce", "X99"], "unknown experiment 'X99'"),
    (["tasks", "X0"], "unknown experiment 'X0'"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(argv, says, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_negative_seed_in_a_real_process_has_no_traceback():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "dmf_edu", "demo", "--seed", "-5", "--quick"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_python_api_rng_arguments_reject_negative_seeds_naming_them():
    from dmf_edu.checks import directional_check
    from dmf_edu.experiments.demo import run_demo
    from dmf_edu.experiments import reproduce
    from dmf_edu.factorization import init_weights
    from dmf_edu.problems import gaussian_sensing, sample_completion
    from dmf_edu.targets import random_low_rank

    with pytest.raises(ValueError, match="rng must be a seed >= 0"):
        random_low_rank(4, 4, 1, rng=-1)
    with pytest.raises(ValueError, match="rng must be a seed >= 0"):
        init_weights((4, 4), 2, 1e-2, rng=np.int64(-3))
    M = np.ones((3, 3))
    with pytest.raises(ValueError, match="rng must be a seed >= 0"):
        sample_completion(M, 3, rng=-2)
    with pytest.raises(ValueError, match="rng must be a seed >= 0"):
        gaussian_sensing(M, 3, rng=-2)
    with pytest.raises(ValueError, match="rng must be a seed >= 0"):
        directional_check(lambda x: float(np.sum(x ** 2)), lambda x: 2 * x, [np.ones(3)], rng=-1)
    with pytest.raises(TypeError, match="rng must be None, an integer seed"):
        random_low_rank(4, 4, 1, rng=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        reproduce("X4", seed=-1, progress=False)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        run_demo(seed=-5, quick=True)
    random_low_rank(4, 4, 1, rng=np.random.default_rng(0))          # generators and None still work
    random_low_rank(4, 4, 1, rng=None)


def test_quick_runs_default_to_figures_quick(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["reproduce", "X4", "--quick"], capsys)
    assert code == 0
    assert (tmp_path / "figures" / "quick" / "X4.json").exists()
    assert not (tmp_path / "figures" / "X4.json").exists()
    assert "figures/quick/X4.png" in out


def test_quick_run_refuses_to_replace_a_full_mode_sidecar(tmp_path, capsys):
    full = dict(experiment="X4", quick=False, rows=[{"committed": True}])
    sidecar = tmp_path / "X4.json"
    sidecar.write_text(json.dumps(full))
    code, out, err = run_cli(["reproduce", "X4", "--quick", "--out", str(tmp_path)], capsys)
    assert code == 2 and "full-mode" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert json.loads(sidecar.read_text()) == full and not (tmp_path / "X4.png").exists()
    code, out, err = run_cli(["reproduce", "X4", "--quick", "--out", str(tmp_path), "--force"], capsys)
    assert code == 0 and json.loads(sidecar.read_text())["quick"] is True


def test_reproduce_ends_with_a_headline_table(tmp_path, capsys):
    code, out, err = run_cli(["reproduce", "X4", "--quick", "--out", str(tmp_path)], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("X4: wrote")
    assert lines[1].split()[:3] == ["to", "min", "nuclear;"] and len(lines) == 2 + 3    # header + depths 2, 3, 4
    side = json.loads((tmp_path / "X4.json").read_text())
    shown = float(lines[2].split()[-1])
    exact = next(r["distance_to_min_nuclear"] for r in side["rows"] if r["depth"] == 2 and r["alpha"] == 1e-3)
    assert shown == pytest.approx(exact, rel=5e-3)                 # the table shows the sidecar's numbers


def test_list_shows_the_wall_times_the_sidecars_recorded(capsys, tmp_path, monkeypatch):
    """Full and quick times come from figures/ID.json and figures/quick/ID.json; old names of the
    quantity are read too, and a missing sidecar or time is "unknown", never a guess."""
    (tmp_path / "figures" / "quick").mkdir(parents=True)
    (tmp_path / "figures" / "X1.json").write_text(json.dumps(dict(wall_time=394.7)))
    (tmp_path / "figures" / "X2.json").write_text(json.dumps(dict(seconds=20.4)))      # an older sidecar
    (tmp_path / "figures" / "X3.json").write_text(json.dumps(dict(rows=[])))           # no time stored
    (tmp_path / "figures" / "quick" / "X1.json").write_text(json.dumps(dict(wall_time=22.0)))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["list"], capsys)
    assert code == 0 and "2 cores" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == set(REGISTRY)
    assert lines["X1"].split()[1:4] == ["6.6", "min", "22"]
    assert lines["X2"].split()[1:5] == ["20", "s", "unknown", "singular"]
    assert lines["X3"].split()[1:3] == ["unknown", "unknown"]
    assert all(line.split()[1:3] == ["unknown", "unknown"] for key, line in lines.items() if key not in ("X1", "X2", "X3"))


def test_list_reads_the_committed_sidecars(capsys):
    code, out, err = run_cli(["list"], capsys)
    committed = {p.stem for p in (ROOT / "figures").glob("X*.json")}
    for key in committed & set(REGISTRY):
        line = next(line for line in out.splitlines() if line.startswith(key + " "))
        assert line.split()[1] != "unknown"


def test_tasks_prints_one_json_line_per_task(capsys):
    code, out, err = run_cli(["tasks", "X7", "--quick"], capsys)
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert code == 0 and len(lines) == 5 and len({t["key"] for t in lines}) == 5    # ranks 1, 2 x depths 2, 3 + escape
    assert [t["shard"] for t in lines] == [f"{i}/5" for i in range(1, 6)]


def test_shards_then_plain_reproduce_and_no_compute(tmp_path, capsys, monkeypatch):
    out = str(tmp_path)
    code, _, err = run_cli(["reproduce", "X7", "--quick", "--out", out, "--no-compute"], capsys)
    assert code == 1 and "5 of 5 tasks are not in the cache" in err and "stages_R=1_N=2" in err
    code, text, _ = run_cli(["reproduce", "X7", "--quick", "--out", out, "--shard", "1/2"], capsys)
    assert code == 0 and "shard 1/2 done" in text and not (tmp_path / "X7.png").exists()
    code, _, err = run_cli(["reproduce", "X7", "--quick", "--out", out, "--no-compute"], capsys)
    assert code == 1 and "2 of 5 tasks are not in the cache" in err
    for var, value in dict(ID="2", COUNT="2", MIN="1").items():
        monkeypatch.setenv(f"SLURM_ARRAY_TASK_{var}", value)
    code, text, _ = run_cli(["reproduce", "X7", "--quick", "--out", out, "--shard", "slurm"], capsys)
    assert code == 0 and "shard 2/2 done" in text
    code, text, err = run_cli(["reproduce", "X7", "--quick", "--out", out, "--no-compute"], capsys)
    assert code == 0 and "5 of 5 tasks found in the cache" in err and (tmp_path / "X7.png").exists()


def test_parse_shard_from_slurm_variables():
    assert parse_shard("3/8") == (3, 8)
    assert parse_shard("slurm", dict(SLURM_ARRAY_TASK_ID="1", SLURM_ARRAY_TASK_COUNT="4",
                                     SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_MAX="4")) == (1, 4)
    assert parse_shard("slurm", dict(SLURM_ARRAY_TASK_ID="0", SLURM_ARRAY_TASK_MIN="0",
                                     SLURM_ARRAY_TASK_MAX="3")) == (1, 4)          # --array=0-3
    assert parse_shard("slurm", dict(SLURM_ARRAY_TASK_ID="3", SLURM_ARRAY_TASK_COUNT="4")) == (4, 4)
    with pytest.raises(ValueError, match="SLURM_ARRAY_TASK_ID"):
        parse_shard("slurm", {})
    with pytest.raises(ValueError, match="outside the array"):
        parse_shard("slurm", dict(SLURM_ARRAY_TASK_ID="5", SLURM_ARRAY_TASK_COUNT="4", SLURM_ARRAY_TASK_MIN="1"))
    for bad in ("0/3", "4/3", "1/0", "a/b", "3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_a_failing_task_is_one_line_and_exit_code_1(tmp_path, capsys, monkeypatch):
    from dmf_edu.experiments import get

    def broken(task):
        raise FloatingPointError("planted failure")

    monkeypatch.setattr(get("X4"), "run_task", broken)
    code, out, err = run_cli(["reproduce", "X4", "--quick", "--out", str(tmp_path)], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "task all failed: FloatingPointError: planted failure" in err
