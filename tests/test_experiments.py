"""Experiment registry and runner; every experiment in quick mode with the properties it claims."""

import json

import numpy as np
import pytest

from dmf_edu.cli import main
from dmf_edu.experiments import REGISTRY, get, list_experiments, reproduce
from dmf_edu.experiments._runner import run_tasks


def square_task(task):
    return [dict(x=task["x"], y=task["x"] ** 2)]


def refuse_task(task):
    raise AssertionError("a cached task was recomputed")


def test_runner_caches_and_resumes(tmp_path, capsys):
    tasks = [dict(key=f"x={x}", x=x) for x in range(4)]
    rows = run_tasks("T", tasks[:2], square_task, cache_dir=tmp_path)     # "interrupted" after two
    assert [r["y"] for r in rows] == [0, 1]
    assert len(list(tmp_path.glob("*.json"))) == 2
    rows = run_tasks("T", tasks, square_task, cache_dir=tmp_path)         # resumes: only two computed
    assert [r["y"] for r in rows] == [0, 1, 4, 9]
    err = capsys.readouterr().err
    assert "2 of 4 tasks found in the cache" in err and "task 2/2 done" in err and "ETA" in err
    assert [r["y"] for r in run_tasks("T", tasks, refuse_task, cache_dir=tmp_path)] == [0, 1, 4, 9]
    # a task whose parameters changed is recomputed, not read from a stale cache
    changed = [dict(key="x=3", x=5)]
    assert run_tasks("T", changed, square_task, cache_dir=tmp_path)[0]["y"] == 25
    with pytest.raises(ValueError, match="unique"):
        run_tasks("T", [tasks[0], tasks[0]], square_task)


def test_runner_process_pool_matches_serial():
    tasks = [dict(key=f"x={x}", x=x) for x in range(3)]
    assert run_tasks("T", tasks, square_task, jobs=2, progress=False) == \
        run_tasks("T", tasks, square_task, jobs=1, progress=False)


def test_registry_and_cli_list(capsys):
    assert [k for k, _ in list_experiments()] == list(REGISTRY)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for key in REGISTRY:
        assert key in out
    with pytest.raises(ValueError, match="unknown experiment"):
        get("X99")


def test_X2_quick_depth3_switches_on_rank_many_one_at_a_time(tmp_path):
    res = reproduce("X2", out=tmp_path, quick=True, progress=False)
    summ = {s["depth"]: s for s in res["summary"]}
    rank = res["params"]["rank"]
    d3 = summ[3]
    assert d3["n_switched_on"] == rank
    steps = d3["switch_on_steps"]
    assert all(b - a >= 0.1 * d3["steps"] for a, b in zip(steps, steps[1:]))   # one after another
    assert summ[1]["n_switched_on"] > rank                                       # depth 1: all together
    assert summ[3]["error"] < summ[2]["error"] < summ[1]["error"]
    side = json.loads((tmp_path / "X2.json").read_text())
    assert side["rows"] and {"depth", "step", "index", "singular_value"} <= set(side["rows"][0])
    assert "E19" in side["optimizer"] and side["versions"]["numpy"] == np.__version__
    assert (tmp_path / "X2.png").read_bytes()[:4] == b"\x89PNG"


def test_X8_quick_escape_law_and_closed_form(tmp_path):
    res = reproduce("X8", out=tmp_path, quick=True, progress=False)
    summ = {s["depth"]: s for s in res["summary"]}
    # GD (step 1e-2) matches the exact E10 escape time to O(lr): within 2 %
    assert all(s["max_rel_gap_gd_vs_closed"] < 0.02 for s in summ.values())
    # escape times ~ alpha^{-(N-2)}: slope over the smallest alphas (finite-alpha corrections
    # are O(alpha^{N-2}) relative, about 10 % at alpha 0.1 for N = 3)
    assert abs(summ[3]["loglog_slope"] + 1) < 0.15
    assert abs(summ[4]["loglog_slope"] + 2) < 0.1
    assert -0.8 < summ[2]["loglog_slope"] < 0         # N = 2: only logarithmic growth
    # diagonal target (4, 2, 1): modes learned one after another, times in ratio s_1/s_i (N >= 3)
    for N in (3, 4):
        t = summ[N]["diagonal_half_times"]
        assert t[0] < t[1] < t[2]
        np.testing.assert_allclose([t[1] / t[0], t[2] / t[0]], [2.0, 4.0], rtol=0.06)
    assert all(r["converged"] for r in res["rows"] if r["part"] == "escape")
