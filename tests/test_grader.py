"""The grader behind ``dmf-edu check FILE.py`` (dmf_edu.course.grader): right answers pass; wrong
answers, exceptions, endless loops and the package's own functions are reported per exercise with
their hint; syntax errors, failing or endless imports per file; the exit code and --json agree;
the grader itself never crashes."""

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from dmf_edu.course import exercises
from dmf_edu.course import grader

QUICK = 20.0          # generous per-exercise limit on a loaded 2-core machine (the checks take < 1 s)


def _file(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _reference_source(name):
    """The reference solution's source, renamed to the exercise's name (what a good student hands in)."""
    return inspect.getsource(exercises.reference(name)).replace(f"def solution_{name}(", f"def {name}(")


def _by_name(rows):
    return {r["name"]: r for r in rows}


def test_right_answers_pass_and_the_exit_code_is_zero(tmp_path):
    path = _file(tmp_path, "right.py", "import numpy as np\nprint('student output is not the verdict')\n\n"
                 + _reference_source("layer_gradients") + "\n\n" + _reference_source("effective_rank"))
    rows = grader.grade(path, timeout=QUICK)
    assert [r["name"] for r in rows] == ["layer_gradients", "effective_rank"]      # course order
    assert all(r["passed"] and r["status"] == "passed" for r in rows), rows
    assert "student output" in rows[0]["output"]
    assert grader.exit_code(rows) == 0
    table = grader._table(path, rows, QUICK)
    assert "layer_gradients" in table and "passed" in table and "2 of 2 exercises passed" in table


def test_wrong_answers_exceptions_and_endless_loops_are_reported_per_exercise(tmp_path):
    path = _file(tmp_path, "mixed.py", """
        import numpy as np

        def effective_rank(W):                     # the stable rank: a classic mix-up
            s = np.linalg.svd(W, compute_uv=False)
            return float(np.sum(s ** 2) / s[0] ** 2)

        def depth_multiplier(x, y, depth):
            raise NotImplementedError("todo")

        def singular_value_velocity(W, G, depth):
            while True:
                pass

        def helper_not_an_exercise():
            return 1
        """)
    rows = _by_name(grader.grade(path, timeout=4.0))
    assert set(rows) == {"effective_rank", "depth_multiplier", "singular_value_velocity"}
    assert rows["effective_rank"]["status"] == "failed" and "stable rank" in rows["effective_rank"]["message"]
    assert rows["depth_multiplier"]["status"] == "failed"
    assert "raised NotImplementedError: todo" in rows["depth_multiplier"]["message"]
    loop = rows["singular_value_velocity"]
    assert loop["status"] == "timeout" and "within 4 s" in loop["message"] and loop["seconds"] < 15
    assert not any(r["passed"] for r in rows.values())
    assert grader.exit_code(list(rows.values())) == 1


def test_the_packages_own_functions_are_flagged(tmp_path):
    path = _file(tmp_path, "copied.py", """
        import dmf_edu
        from dmf_edu import effective_rank                      # handed in as is
        from dmf_edu.course import exercises

        def layer_gradients(weights, G):                        # a thin wrapper
            return dmf_edu.layer_gradients(weights, G)

        def depth_multiplier(x, y, depth):                      # the printed reference solution, called
            return exercises.reference("depth_multiplier")(x, y, depth)
        """)
    rows = _by_name(grader.grade(path, timeout=QUICK))
    assert {r["status"] for r in rows.values()} == {"flagged"}, rows
    assert "package's own dmf_edu.metrics.effective_rank" in rows["effective_rank"]["message"]
    assert "calls the package's own dmf_edu.factorization.layer_gradients" in rows["layer_gradients"]["message"]
    assert "solution_depth_multiplier" in rows["depth_multiplier"]["message"]
    assert not any(r["passed"] for r in rows.values())


@pytest.mark.parametrize("body, status, fragment", [
    ("def layer_gradients(weights, G)\n    return weights\n", "syntax error", "syntax error at line 1"),
    ("import time\nwhile True:\n    time.sleep(0.05)\n", "timeout", "endless loop at the top level"),
    ("x = 1 / 0\n", "import error", "ZeroDivisionError: division by zero (line 1 of"),
    ("import sys\nsys.exit(3)\n", "import error", "SystemExit"),
    ("def my_layer_gradients(weights, G):\n    return weights\n", "no exercises", "rename"),
])
def test_problems_with_the_file_are_reported_for_the_file(tmp_path, body, status, fragment):
    path = _file(tmp_path, "student.py", body)
    rows = grader.grade(path, timeout=4.0)
    assert len(rows) == 1 and rows[0]["file"] and rows[0]["name"] == "student.py"
    assert rows[0]["status"] == status and fragment in rows[0]["message"], rows[0]
    assert grader.exit_code(rows) == 1


def test_command_line_json_and_exit_codes(tmp_path):
    good = _file(tmp_path, "good.py", "import numpy as np\n\n" + _reference_source("effective_rank"))
    bad = _file(tmp_path, "bad.py", "import numpy as np\n\ndef effective_rank(W):\n    return 0.0\n")
    run = [sys.executable, "-m", "dmf_edu", "check"]
    proc = subprocess.run(run + [str(good), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["name"] == "effective_rank" and rows[0]["passed"] is True and rows[0]["message"]
    proc = subprocess.run(run + [str(bad), "--timeout", "30"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "effective_rank" in proc.stdout
    proc = subprocess.run(run + [str(tmp_path / "missing.py")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr
