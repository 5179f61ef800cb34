r"""``dmf-edu check FILE.py``: grade a student's file against every checkable exercise it answers.

The file answers exercise ``name`` by defining a function called ``name`` (the names of
``dmf_edu.course.exercises.names()``, e.g. ``layer_gradients``).  The grader never runs the student's
code in its own process: a first subprocess imports the file and lists the functions it
defines, then each exercise runs in a fresh subprocess with a time limit.  A syntax error,
an exception at import or an import that never ends is reported for the file; an exception,
a wrong answer or an infinite loop in one function is reported for that exercise.  Handing
in the package's own function (``from dmf_edu import layer_gradients``), or a function that
calls it or the reference solution, is flagged and does not pass.

Exit code 0 only if at least one exercise was found and every one found passed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

from . import exercises
from .checking import REGISTRY, names

__all__ = ["grade", "check_main", "exit_code", "PACKAGE_ANSWERS"]

# functions of the package that answer an exercise outright: (module, attribute)
PACKAGE_ANSWERS = {
    "layer_gradients": [("dmf_edu.factorization", "layer_gradients")],
    "end_to_end_operator": [("dmf_edu.dynamics", "end_to_end_operator"),
                            ("dmf_edu.dynamics", "end_to_end_operator_sum")],
    "singular_value_velocity": [("dmf_edu.dynamics", "singular_value_velocity")],
    "depth_multiplier": [("dmf_edu.linalg", "depth_multiplier")],
    "effective_rank": [("dmf_edu.metrics", "effective_rank")],
    "completion_schatten_norm": [("dmf_edu.baselines", "schatten_profile"),
                                 ("dmf_edu.metrics", "schatten_norm")],
    "hessian_vector_product": [("dmf_edu.landscape", "hessian_vector_product")],
    "heldout_error": [("dmf_edu.metrics", "heldout_error")],
}
_MODULE = "dmf_edu_student_submission"


# --------------------------------------------------------------------------- the worker (subprocess)

def _guard(path):
    """Wrap the package's answers so that calls coming from the student's file are recorded."""
    target, calls = os.path.realpath(path), {}
    originals = {}
    for name, places in PACKAGE_ANSWERS.items():
        fns = [REGISTRY[name].reference] if name in REGISTRY else []
        for module, attr in places:
            try:
                fns.append(getattr(importlib.import_module(module), attr))
            except (ImportError, AttributeError):
                continue
        for fn in fns:
            originals[id(fn)] = (name, fn)

    def wrap(name, fn):
        def wrapper(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if os.path.realpath(caller) == target:
                calls.setdefault(name, set()).add(f"{fn.__module__}.{fn.__name__}")
            return fn(*args, **kwargs)
        wrapper.__dmf_edu_original__ = f"{fn.__module__}.{fn.__name__}"
        wrapper.__dmf_edu_exercise__ = name
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper

    wrappers = {key: wrap(name, fn) for key, (name, fn) in originals.items()}
    for mod_name, module in list(sys.modules.items()):
        if mod_name.split(".")[0] != "dmf_edu" or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if callable(value) and id(value) in wrappers:
                setattr(module, attr, wrappers[id(value)])
    for name, ex in list(REGISTRY.items()):          # exercises.reference(name) and solution(name) too
        if id(ex.reference) in wrappers:
            REGISTRY[name] = dataclasses.replace(ex, reference=wrappers[id(ex.reference)])
    return calls


def _import_student(path):
    sys.path.insert(0, str(Path(path).resolve().parent))
    spec = importlib.util.spec_from_file_location(_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE] = module
    spec.loader.exec_module(module)
    return module


def _student_traceback(exc, path):
    """``Type: message (line L of FILE)`` with the deepest line of the student's file."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.realpath(frame.filename) == os.path.realpath(path):
            line = frame.lineno
    return f"{type(exc).__name__}: {exc}" + (f" (line {line} of {Path(path).name})" if line else "")


def _worker(mode, path, name, out):
    result, captured = {}, io.StringIO()
    calls = _guard(path)
    with contextlib.redirect_stdout(captured):
        try:
            module = _import_student(path)
        except BaseException as exc:          # the student's top level may raise anything, even SystemExit
            result = {"import_error": _student_traceback(exc, path)}
        else:
            if mode == "discover":
                result = {"found": [n for n in exercises.names() if callable(getattr(module, n, None))],
                          "near": sorted(n for n in vars(module) if callable(getattr(module, n))
                                         and any(n != e and e in n for e in exercises.names()))}
            else:
                result = _run_one(module, name, calls, exercises)
    result["output"] = captured.getvalue()[-2000:]
    Path(out).write_text(json.dumps(result), encoding="utf-8")


def _run_one(module, name, calls, exercises):
    fn = getattr(module, name)
    own = getattr(fn, "__dmf_edu_original__", None)
    if own is None and str(getattr(fn, "__module__", "")).split(".")[0] == "dmf_edu":
        own = f"{fn.__module__}.{getattr(fn, '__name__', name)}"
    if own:
        return {"passed": False, "status": "flagged",
                "message": f"this is the package's own {own}, not your implementation: write it yourself"}
    try:
        report = exercises.check(name, fn)
    except BaseException as exc:              # e.g. SystemExit from the student's function
        return {"passed": False, "status": "error",
                "message": f"checking stopped: your function raised {type(exc).__name__}: {exc}"}
    if report.passed and calls.get(name):
        used = ", ".join(sorted(calls[name]))
        return {"passed": False, "status": "flagged",
                "message": f"your function calls the package's own {used}: the checker passes it, but the "
                           "exercise is to write it yourself"}
    return {"passed": bool(report.passed), "status": "passed" if report.passed else "failed",
            "message": report.message}


# --------------------------------------------------------------------------- the parent

def _spawn(args, timeout):
    """Run a worker; return (result dict or None, exit code, stderr tail, timed out?)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, MPLBACKEND="Agg")
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.Popen([sys.executable, "-m", "dmf_edu.course.grader", "--worker", *args, str(out)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # the worker and anything the student's code started
            proc.communicate()
            return None, None, "", True
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        return (json.loads(text) if text else None), proc.returncode, " | ".join(tail), False


def _file_entry(path, status, message):
    return [{"name": Path(path).name, "passed": False, "status": status, "message": message, "file": True}]


def grade(path, timeout=60.0, import_timeout=None):
    """Grade a student's file.

    Parameters
    ----------
    path : str or Path
        A ``.py`` file defining functions named after exercises.
    timeout : float
        Seconds allowed per exercise (the subprocess, its imports included).
    import_timeout : float, optional
        Seconds allowed for importing the file (default: ``timeout``).

    Returns
    -------
    list of dict
        One per exercise found: ``name``, ``passed``, ``status`` (``passed``, ``failed``,
        ``error``, ``timeout``, ``flagged``), ``message``, ``seconds``, ``lesson``, ``output``
        (what the student's code printed, last 2000 characters).  When the file itself cannot
        be graded (syntax error, failing or endless import, no exercise found): a single entry
        for the file, with ``file: True``.
    """
    path = Path(path)
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except SyntaxError as exc:
        return _file_entry(path, "syntax error", f"syntax error at line {exc.lineno}: {exc.msg} "
                                                 "(nothing in the file could be run)")
    limit = import_timeout or timeout
    found, code, err, late = _spawn(["discover", str(path), "-"], limit)
    if late:
        return _file_entry(path, "timeout", f"importing the file did not finish within {limit:g} s: is there an "
                                            "endless loop at the top level? (put trials under "
                                            "if __name__ == '__main__':)")
    if found is None:
        return _file_entry(path, "error", f"importing the file stopped the interpreter (exit code {code}): {err}")
    if "import_error" in found:
        return _file_entry(path, "import error", f"importing the file raised {found['import_error']}")
    if not found["found"]:
        near = (f" (your file has {', '.join(found['near'])}: rename to the exercise's name)"
                if found["near"] else "")
        return _file_entry(path, "no exercises", "found no function named after an exercise; define one of: "
                                                 + ", ".join(names()) + near)
    rows = []
    for name in found["found"]:
        start = time.perf_counter()
        res, code, err, late = _spawn(["run", str(path), name], timeout)
        if late:
            res = {"passed": False, "status": "timeout",
                   "message": f"did not finish within {timeout:g} s: an endless loop, or far too slow "
                              "(the reference solution takes well under a second)"}
        elif res is None:
            res = {"passed": False, "status": "error",
                   "message": f"the check ended without a verdict (exit code {code}): does your code call "
                              f"os._exit or crash the interpreter? {err}"}
        res.update(name=name, seconds=round(time.perf_counter() - start, 2), lesson=REGISTRY[name].lesson)
        rows.append(res)
    return rows


def _table(path, rows, timeout):
    lines = [f"dmf-edu check {path}: time limit {timeout:g} s per exercise", ""]
    width = max(len("exercise"), *(len(r["name"]) for r in rows))
    lines.append(f"{'exercise':<{width}}  {'result':<12}  hint")
    lines.append(f"{'-' * width}  {'-' * 12}  {'-' * 60}")
    for r in rows:
        result = "passed" if r["passed"] else r.get("status", "failed").upper()
        wrapped = textwrap.wrap(r["message"], max(50, 96 - width)) or [""]
        lines.append(f"{r['name']:<{width}}  {result:<12}  {wrapped[0]}")
        lines += [f"{'':<{width}}  {'':<12}  {w}" for w in wrapped[1:]]
    passed = sum(r["passed"] for r in rows)
    graded = [r for r in rows if not r.get("file")]
    lines += ["", f"{passed} of {len(graded)} exercises passed" if graded else "nothing graded"]
    return "\n".join(lines)


def check_main(path, json_output=False, timeout=60.0):
    """``dmf-edu check FILE.py [--json] [--timeout S]``: print the table (or JSON); exit code."""
    if not Path(path).is_file():
        print(f"dmf-edu check: no such file {path!r}", file=sys.stderr)
        return 2
    rows = grade(path, timeout=timeout)
    print(json.dumps(rows, indent=1) if json_output else _table(path, rows, timeout))
    return exit_code(rows)


def exit_code(rows):
    """0 if at least one exercise was graded and every one passed, else 1."""
    ok = rows and all(r["passed"] for r in rows) and not any(r.get("file") for r in rows)
    return 0 if ok else 1


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "--worker":
    _worker(*sys.argv[2:])
