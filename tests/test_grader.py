"""The grader behind ``dmf-edu check PATH...`` (dmf_edu.course.grader): right answers pass; wrong
answers, exceptions, endless loops, memory hogs and the package's own functions (however wrapped)
are reported per exercise; syntax errors, failing or endless imports per file; student code never
touches the verdict; notebooks, folders, CSV, Gradescope, seeds, instructors' exercises; the exit
code says whether every submission could be graded."""

import argparse
import csv
import inspect
import json
import re
import shutil
import textwrap

import pytest

import dmf_edu.course as course
from dmf_edu._version import __version__
from dmf_edu.course import grader, notebook

QUICK = 20.0          # generous per-exercise limit on a loaded 2-core machine (the checks take < 1 s)


def _file(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _reference_source(name):
    """The reference solution's source, renamed to the exercise's name (what a good student hands in)."""
    return inspect.getsource(course.reference(name)).replace(f"def solution_{name}(", f"def {name}(")


def _by_name(result):
    return {r["name"]: r for r in result["rows"]}


def _main(*argv):
    return grader.main(grader.add_arguments(argparse.ArgumentParser()).parse_args([str(a) for a in argv]))


def test_right_answers_pass_and_the_file_is_graded(tmp_path):
    path = _file(tmp_path, "right.py", "import numpy as np\nprint('student output is not the verdict')\n\n"
                 + _reference_source("layer_gradients") + "\n\n" + _reference_source("effective_rank"))
    result = grader.grade(path, timeout=QUICK)
    assert [r["name"] for r in result["rows"]] == ["layer_gradients", "effective_rank"]      # course order
    assert all(r["success"] and r["status"] == "passed" and r["points"] == r["max_points"] > 0
               for r in result["rows"]), result
    assert result["status"] == "graded" and result["seed"] == course.DEFAULT_SEED
    assert result["version"] == __version__ and "student output" in result["output"]
    assert grader.exit_code([result]) == 0
    from dmf_edu.course.gradebook import table
    text = table(result, QUICK)
    assert f"seed {course.DEFAULT_SEED}" in text and "2 of 2 exercises passed" in text


def test_wrong_answers_exceptions_endless_loops_and_memory_hogs_per_exercise(tmp_path):
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

        def heldout_error(W, M, test_mask):
            return np.ones(10 ** 11)               # 800 GB: over the memory limit

        def helper_not_an_exercise():
            return 1
        """)
    result = grader.grade(path, timeout=4.0, memory_mb=2048)
    rows = _by_name(result)
    assert rows["effective_rank"]["status"] == "failed" and "stable rank" in rows["effective_rank"]["message"]
    assert rows["depth_multiplier"]["status"] == "error"
    assert "NotImplementedError: todo (line 9 of mixed.py)" in rows["depth_multiplier"]["message"]
    loop = rows["singular_value_velocity"]
    assert loop["status"] == "timeout" and "within 4 s" in loop["message"]
    assert rows["heldout_error"]["status"] == "error" and "MemoryError" in rows["heldout_error"]["message"]
    assert not any(r["success"] for r in rows.values()) and result["points"] == 0
    assert result["unknown"] == ["helper_not_an_exercise"]
    assert grader.exit_code([result]) == 0                 # graded, though nothing passed


def test_the_packages_own_functions_are_flagged_however_wrapped(tmp_path):
    path = _file(tmp_path, "copied.py", """
        import functools
        import dmf_edu as d
        from dmf_edu import depth_multiplier                    # handed in as is
        from dmf_edu.course import reference

        effective_rank = functools.partial(d.effective_rank)    # a partial
        heldout_error = lambda W, M, m: d.heldout_error(W, d.MatrixCompletion.from_mask(M, m, reduction="mean"))
        lr = d.layer_gradients

        def layer_gradients(weights, G):                        # a wrapper around an alias
            return lr(weights, G)

        def singular_value_velocity(W, G, depth):               # the printed reference solution, called
            return reference("singular_value_velocity")(W, G, depth)
        """)
    rows = _by_name(grader.grade(path, timeout=QUICK))
    assert set(rows) == {"layer_gradients", "singular_value_velocity", "depth_multiplier", "effective_rank",
                         "heldout_error"}
    assert {r["status"] for r in rows.values()} == {"flagged"}, rows
    assert "package's own dmf_edu.linalg.depth_multiplier" in rows["depth_multiplier"]["message"]
    assert "dmf_edu.metrics.effective_rank" in rows["effective_rank"]["message"]
    assert "calls the package's own dmf_edu.factorization.layer_gradients" in rows["layer_gradients"]["message"]
    assert "solution_singular_value_velocity" in rows["singular_value_velocity"]["message"]
    assert all(r["points"] == 0 for r in rows.values())


def test_student_code_cannot_fake_the_verdict(tmp_path):
    path = _file(tmp_path, "cheat.py", """
        import dmf_edu.course, dmf_edu.course.checking as c
        fake = lambda name, fn, seed=None: c.Report(name, True, "passed", "all good")
        dmf_edu.course.check = c.check = fake

        def effective_rank(W):
            return 1.0
        """)
    rows = _by_name(grader.grade(path, timeout=QUICK))
    assert rows["effective_rank"]["status"] == "failed" and "all good" not in rows["effective_rank"]["message"]


def test_inputs_modified_in_place_get_a_warning(tmp_path):
    path = _file(tmp_path, "inplace.py", """
        import numpy as np

        def heldout_error(W, M, test_mask):
            W -= M
            return float(np.mean(W[test_mask] ** 2))
        """)
    row = _by_name(grader.grade(path, timeout=QUICK))["heldout_error"]
    assert any("modifies its input argument 1" in w for w in row["warnings"]), row


@pytest.mark.parametrize("body, status, fragment", [
    ("def layer_gradients(weights, G)\n    return weights\n", "syntax error", "syntax error at line 1"),
    ("import time\nwhile True:\n    time.sleep(0.05)\n", "timeout", "endless loop at the top level"),
    ("x = 1 / 0\n", "import error", "ZeroDivisionError: division by zero (line 1 of"),
    ("import sys\nsys.exit(3)\n", "import error", "SystemExit"),
    ("def my_layer_gradients(weights, G):\n    return weights\n", "no exercises", "define one of"),
])
def test_problems_with_the_file_are_reported_for_the_file(tmp_path, body, status, fragment):
    result = grader.grade(_file(tmp_path, "student.py", body), timeout=4.0)
    assert result["status"] == status and fragment in result["message"], result
    assert grader.exit_code([result]) == 1


def test_notebooks_are_graded_by_their_exercise_cells(tmp_path):
    committed = tmp_path / "04.ipynb"
    shutil.copy(notebook.__file__.replace("dmf_edu/course/notebook.py", "docs/lessons/04_completion.ipynb"),
                committed)
    result = grader.grade(committed, timeout=QUICK)                      # unfilled stubs: graded, failing
    row = _by_name(result)["effective_rank"]
    assert result["status"] == "graded" and row["status"] == "error" and "not written yet" in row["message"]
    assert re.search(r"\(cell \d+, line \d+ of 04.ipynb\)", row["message"]), row["message"]
    nb = json.loads(committed.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if "exercise" in cell["metadata"].get("tags", []):
            cell["source"] = "import numpy as np\n\n" + _reference_source("effective_rank")
    committed.write_text(json.dumps(nb), encoding="utf-8")
    assert _by_name(grader.grade(committed, timeout=QUICK))["effective_rank"]["success"]
    empty = tmp_path / "empty.ipynb"
    empty.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "hi", "metadata": {}}],
                                 "nbformat": 4, "nbformat_minor": 5, "metadata": {}}), encoding="utf-8")
    result = grader.grade(empty)
    assert result["status"] == "unreadable" and "has no code" in result["message"]


def test_a_class_in_one_command_csv_gradescope_and_exit_code(tmp_path, capsys):
    sub = tmp_path / "submissions"
    sub.mkdir()
    _file(sub, "alice.py", "import numpy as np\n\n" + _reference_source("effective_rank"))
    _file(sub, "bob.py", "import numpy as np\n\ndef effective_rank(W):\n    return 0.0\n")
    nbdir = sub / "carol"
    nbdir.mkdir()
    shutil.copy(notebook.__file__.replace("dmf_edu/course/notebook.py", "docs/lessons/04_completion.ipynb"),
                nbdir / "hw.ipynb")
    out_csv, out_gs = tmp_path / "grades.csv", tmp_path / "results.json"
    code = _main(sub, "--csv", out_csv, "--gradescope", out_gs, "--jobs", "2", "--seed", "7", "--timeout", QUICK)
    assert code == 0
    text = capsys.readouterr().out
    assert "graded 3 of 3 submissions" in text and "seed 7" in text
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [r["student"] for r in rows] == ["alice", "bob", "hw"]
    assert all(r["seed"] == "7" and r["version"] == __version__ for r in rows)
    assert [float(r["total"]) for r in rows] == [1.0, 0.0, 0.0] and rows[0]["effective_rank"] == "1.0"
    gs = json.loads(out_gs.read_text(encoding="utf-8"))
    assert gs["score"] == 1.0 and {"name", "score", "max_score", "output"} <= set(gs["tests"][0])
    assert _main(sub, tmp_path / "missing") == 1                              # a path with nothing: not all graded
    _file(sub, "dave.py", "def effective_rank(W)\n")
    assert _main(sub, "--timeout", QUICK) == 1


def test_instructors_exercises_are_checked_and_unknown_functions_never_pass(tmp_path, capsys):
    checkers = _file(tmp_path, "my_checkers.py", """
        import numpy as np
        from dmf_edu.course import exercise, Fail
        from dmf_edu.course.checking import call, as_array

        def trace_gram_ref(W):
            return float(np.sum(W * W))

        @exercise("trace_gram", lesson=9, signature="fn(W) -> float", reference=trace_gram_ref, points=2)
        def _check(fn, rng, details):
            W = rng.standard_normal((4, 3))
            got = float(as_array(call(fn, (W,), "a 4x3 W"), "tr(W^T W)", "a 4x3 W", ()))
            if abs(got - np.sum(W * W)) > 1e-9:
                raise Fail("a 4x3 W: tr(W^T W) is the sum of the squared entries")
            return "right"
        """)
    hw = _file(tmp_path, "hw.py", "def trace_gram(W):\n    return float(W.sum())\n")
    assert _main(hw, "--timeout", QUICK) == 1                     # nothing it could grade
    text = capsys.readouterr().out
    assert "NOT GRADED" in text and "No checker knows trace_gram" in text and "--exercises" in text
    assert "passed" not in text
    try:
        assert _main(hw, "--exercises", checkers, "--timeout", QUICK) == 0
        text = capsys.readouterr().out
        assert "FAILED" in text and "0 of 1 exercises passed, 0 of 2 points" in text
    finally:
        from dmf_edu.course.checking import REGISTRY
        REGISTRY.pop("trace_gram", None)


def test_the_same_borderline_file_gets_the_same_verdict_20_times(tmp_path):
    body = """
        import numpy as np

        def effective_rank(W):                               # drops p_i < 0.08: right on most matrices
            s = np.linalg.svd(W, compute_uv=False)
            p = s / s.sum()
            p = p[p > 0.08]
            return float(np.exp(-np.sum(p * np.log(p))))
        """
    for k in range(20):
        _file(tmp_path, f"copy{k:02d}.py", body)
    results, problems = grader.grade_paths([tmp_path], timeout=QUICK, jobs=2)
    assert not problems and len(results) == 20
    verdicts = {(r["rows"][0]["success"], r["rows"][0]["message"]) for r in results}
    assert len(verdicts) == 1 and not verdicts.pop()[0]


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert _main(tmp_path, "--jobs", "0") == 2
    assert "--jobs >= 1" in capsys.readouterr().err
    assert _main(tmp_path, "--exercises", tmp_path / "nope.py") == 2


def test_lesson_9_answers_are_graded_and_the_library_cp_gradients_is_flagged(tmp_path):
    path = _file(tmp_path, "tensors9.py", """
        import numpy as np
        from dmf_edu import tensors

        def cp_gradient(factors, G):                            # a wrapper around the package's E20
            return tensors.cp_gradients(factors, G)

        def component_norm_velocity(factors, G):                # E22, written out
            N = len(factors)
            norms = np.prod([np.linalg.norm(A, axis=0) for A in factors], axis=0)
            units = [A / np.linalg.norm(A, axis=0) for A in factors]
            proj = np.array([np.einsum(G, list(range(N)), *sum(([u[:, r], [n]] for n, u in enumerate(units)), []))
                             for r in range(norms.size)])
            return -N * norms ** (2 - 2 / N) * proj
        """)
    rows = _by_name(grader.grade(path, timeout=QUICK))
    assert rows["cp_gradient"]["status"] == "flagged", rows["cp_gradient"]
    assert "dmf_edu.tensors.cp.cp_gradients" in rows["cp_gradient"]["message"]
    assert rows["component_norm_velocity"]["status"] == "passed", rows["component_norm_velocity"]
