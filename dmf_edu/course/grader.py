r"""``dmf-edu check PATH...``: grade students' files, one or a whole class.

PATH is any mix of ``.py`` files, ``.ipynb`` notebooks and folders of them.  A file answers
exercise ``name`` by defining a function called ``name`` (:func:`dmf_edu.course.names`).  The
student's code runs only in a child process (:mod:`.sandbox`), with a time limit per exercise and
a memory limit; the child hands back plain arrays, and the verdict is computed here, by the same
checkers as :func:`dmf_edu.course.check`, on cases drawn from the grading seed (printed, stored
in every output; ``--seed S`` changes it), so the same file gets the same verdict every time.

A function that is the package's own answer, or that calls it however wrapped, is flagged and
scores nothing; an answer that modifies its inputs gets a warning; a public function that no
checker knows is listed loudly as *not graded* (an instructor's checkers come in with
``--exercises FILE``, written with :func:`dmf_edu.course.exercise`).

Outputs: a table per file (default), ``--json``, ``--csv FILE`` (one row per submission: file,
student, status, points per exercise, total, seed, package version) and ``--gradescope FILE``
(Gradescope's ``results.json``).  Exit code 0 only when every submission could be graded
(right or wrong answers alike); 1 when one could not (syntax error, failing import, nothing to
grade); 2 for bad arguments.

The command line is wired by :mod:`dmf_edu.cli` through :func:`add_arguments` and :func:`main`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .._version import __version__
from .checking import DEFAULT_SEED, REGISTRY, check, names
from .gradebook import class_summary, gradescope_results, table, write_csv
from .sandbox import DEFAULT_MEMORY_MB, Sandbox, SandboxCrash, SandboxTimeout
from .submissions import find_submissions, load_source

__all__ = ["grade", "grade_paths", "exit_code", "load_exercises", "add_arguments", "main", "check_main"]


def _row(name, success, status, message, **extra):
    ex = REGISTRY.get(name)
    worth = ex.points if ex is not None else 0.0
    row = dict(name=name, success=bool(success), status=status, message=message,
               points=worth if success else 0.0, max_points=worth, lesson=ex.lesson if ex else None,
               wall_time=0.0, warnings=[])
    row.update(extra)
    return row


def _grade_exercise(sandbox, name, info, seed, timeout):
    """One exercise against the running child; returns (row, whether the child must be restarted)."""
    if info.get("own"):
        return _row(name, False, "flagged", f"this is the package's own {info['own']}, not your "
                    "implementation: write it yourself"), False
    proxy = sandbox.function(name)
    sandbox.deadline = time.monotonic() + timeout
    start = time.perf_counter()
    try:
        report = check(name, proxy, seed=seed)
    except SandboxTimeout:
        return _row(name, False, "timeout", f"did not finish within {timeout:g} s: an endless loop, or far too "
                    "slow (the reference solution takes well under a second)",
                    wall_time=round(time.perf_counter() - start, 2)), True
    except SandboxCrash as crash:
        return _row(name, False, "crashed", f"the check ended without an answer (child exit code "
                    f"{crash.args[0] if crash.args else '?'}): does your code call os._exit, exhaust the "
                    "memory limit or crash the interpreter?"), True
    row = _row(name, report.success, report.status, report.message, wall_time=round(report.wall_time, 2),
               warnings=list(report.warnings))
    if proxy.library:
        used = ", ".join(sorted(proxy.library))
        row.update(success=False, status="flagged", points=0.0,
                   message=f"your function calls the package's own {used}"
                           + (": the checker passes it, but the exercise is to write it yourself" if report.success
                              else f"; and it is wrong: {report.message}"))
    return row, False


def _file_result(sub, status, message, seed):
    return dict(file=str(sub.path), student=sub.path.stem, status=status, message=message, rows=[],
                unknown=[], seed=seed, version=__version__, points=0.0, max_points=0.0, output="")


def grade(path, seed=None, timeout=60.0, memory_mb=DEFAULT_MEMORY_MB, import_timeout=None):
    """Grade one student's file (``.py`` or ``.ipynb``).

    Returns
    -------
    dict
        ``file``, ``student``, ``status`` (``graded``, or why the file could not be: ``syntax
        error``, ``import error``, ``timeout``, ``crashed``, ``no exercises``, ``unreadable``),
        ``message``, ``rows`` (one per exercise found: ``name``, ``success``, ``status``,
        ``message``, ``points``, ``max_points``, ``wall_time``, ``warnings``), ``unknown``
        (public functions no checker knows), ``points``, ``max_points``, ``seed``, ``version``,
        ``output`` (the tail of what the student's code printed).
    """
    seed = DEFAULT_SEED if seed is None else int(seed)
    sub = load_source(path)
    if sub.source is None:
        return _file_result(sub, "unreadable", sub.problem, seed)
    try:
        compile(sub.source, str(sub.path), "exec")
    except SyntaxError as exc:
        return _file_result(sub, "syntax error", f"syntax error at {sub.line_label(exc.lineno or 1)}: {exc.msg} "
                            "(nothing in the file could be run)", seed)
    with tempfile.TemporaryDirectory() as tmp:
        file = sub.path if sub.path.suffix == ".py" else Path(tmp) / (sub.path.stem + ".py")
        if file != sub.path:
            file.write_text(sub.source, encoding="utf-8")
        return _grade_file(sub, file, seed, timeout, memory_mb, import_timeout or timeout)


def _start(sub, file, memory_mb, limit):
    """(sandbox, ready message) or (None, file result) when the import fails."""
    sandbox = Sandbox(file, memory_mb, line_label=sub.line_label, cwd=sub.path.resolve().parent)
    try:
        ready = sandbox.start(limit)
    except SandboxTimeout:
        sandbox.stop()
        return None, ("timeout", f"importing the file did not finish within {limit:g} s: is there an endless "
                                 "loop at the top level? (put trials under if __name__ == '__main__':)")
    except SandboxCrash as crash:
        sandbox.stop()
        return None, ("crashed", f"importing the file stopped the interpreter (exit code {crash.args[0]}): "
                                 f"{sandbox.output.strip()[-300:]}")
    if ready.get("kind") != "ready":
        line = ready.get("lineno")
        sandbox.stop()
        return None, ("import error", f"importing the file raised {ready.get('text')}"
                                      + (f" ({sub.line_label(line)})" if line else ""))
    return sandbox, ready


def _grade_file(sub, file, seed, timeout, memory_mb, import_limit):
    sandbox, ready = _start(sub, file, memory_mb, import_limit)
    if sandbox is None:
        return _file_result(sub, *ready, seed)
    functions = ready["functions"]
    found = [n for n in names() if n in functions]
    unknown = sorted(n for n, info in functions.items() if info["defined_here"] and n not in REGISTRY)
    result = _file_result(sub, "graded", "", seed)
    result["unknown"] = unknown
    if not found:
        sandbox.stop()
        result.update(status="no exercises", output=sandbox.output[-2000:],
                      message="found no function named after an exercise; define one of: " + ", ".join(names())
                      + (f". No checker knows {', '.join(unknown)}: if it answers an instructor's exercise, "
                         "pass the checkers with --exercises FILE" if unknown else ""))
        return result
    for name in found:
        row, restart = _grade_exercise(sandbox, name, functions[name], seed, timeout)
        result["rows"].append(row)
        if restart and name != found[-1]:
            sandbox.stop()
            output = sandbox.output
            sandbox, ready = _start(sub, file, memory_mb, import_limit)
            if sandbox is None:
                result.update(status=ready[0], message=ready[1], output=output[-2000:])
                return result
            sandbox.output = output
    sandbox.stop()
    result.update(output=sandbox.output[-2000:], points=sum(r["points"] for r in result["rows"]),
                  max_points=sum(r["max_points"] for r in result["rows"]))
    return result


def grade_paths(paths, seed=None, timeout=60.0, memory_mb=DEFAULT_MEMORY_MB, jobs=1):
    """Grade every submission under ``paths`` (files and folders), ``jobs`` at a time.

    Returns ``(results, problems)``: one :func:`grade` dict per file in order, and messages for
    paths that hold nothing to grade.
    """
    files, problems = find_submissions(paths)
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        results = list(pool.map(lambda f: grade(f, seed=seed, timeout=timeout, memory_mb=memory_mb), files))
    return results, problems


def exit_code(results, problems=()):
    """0 when every submission could be graded (whatever its score) and every path held one, else 1."""
    return 0 if results and not problems and all(r["status"] == "graded" for r in results) else 1


def load_exercises(path):
    """Import an instructor's file of checkers (trusted: it runs in the grading process); its
    :func:`dmf_edu.course.exercise` decorators add to the registry.  Returns the names it added."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--exercises {path}: no such file")
    before = set(REGISTRY)
    spec = importlib.util.spec_from_file_location(f"dmf_edu_instructor_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sorted(set(REGISTRY) - before)


def add_arguments(parser):
    """The options of ``dmf-edu check`` on an ``argparse`` parser."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="student files (.py, .ipynb) or folders of them")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"grading seed of the random test cases (default {DEFAULT_SEED}; printed and stored)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per exercise (default 60)")
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MB, metavar="MB",
                        help=f"memory limit of the student's process in MiB (default {DEFAULT_MEMORY_MB})")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="J", help="submissions graded at once")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--csv", metavar="FILE", help="write one row per submission to FILE")
    parser.add_argument("--gradescope", metavar="FILE", help="write Gradescope's results.json to FILE")
    parser.add_argument("--exercises", metavar="FILE", action="append", default=[],
                        help="an instructor's file of checkers (@dmf_edu.course.exercise); repeatable")
    return parser


def main(args):
    """Run ``dmf-edu check`` with parsed ``args`` (from :func:`add_arguments`); return the exit code."""
    if args.seed < 0 or args.timeout <= 0 or args.jobs < 1 or args.memory < 256:
        print("dmf-edu check: --seed must be >= 0, --timeout > 0, --jobs >= 1 and --memory >= 256 (MiB)",
              file=sys.stderr)
        return 2
    try:
        for file in args.exercises:
            load_exercises(file)
    except Exception as exc:            # the instructor's file may raise anything: say which file
        print(f"dmf-edu check: --exercises {file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results, problems = grade_paths(args.paths, seed=args.seed, timeout=args.timeout, memory_mb=args.memory,
                                    jobs=args.jobs)
    if args.json:
        print(json.dumps({"submissions": results, "problems": problems}, indent=1))
    else:
        for result in results:
            print(table(result, args.timeout) + "\n")
        print(class_summary(results, problems, time.perf_counter() - start, args.jobs))
    if args.csv:
        write_csv(results, args.csv)
    if args.gradescope:
        Path(args.gradescope).write_text(json.dumps(gradescope_results(results), indent=1), encoding="utf-8")
    return exit_code(results, problems)


def check_main(path, json_output=False, timeout=60.0):
    """``dmf-edu check FILE`` as the current command line calls it (kept until cli.py uses :func:`main`)."""
    args = add_arguments(argparse.ArgumentParser()).parse_args(
        [str(path), "--timeout", str(timeout)] + (["--json"] if json_output else []))
    return main(args)
