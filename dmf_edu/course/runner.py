r"""``dmf-edu lesson N``: the lesson in a terminal, text and code in order.

The text is printed readably (:func:`dmf_edu.course.markdown.to_terminal`: headings, maths in
Unicode); each snippet is printed, run in the lesson's one namespace, and followed by its output.
A snippet marked wrong on purpose is announced as such and its rejection shown as the point;
any other failure stops the run with exit code 1.  Figures go into ``--out DIR`` (default
``./dmf-edu-lessons``) and each path is printed.  ``--solutions`` prints the worked solutions,
``--notebook [PATH]`` writes the notebook; neither runs the lesson.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from .figures import DEFAULT_OUTPUT, OUTPUT_ENV
from .lessons import find_lesson, iter_lesson, snippets
from .markdown import blocks, to_terminal
from .notebook import write_notebook
from .solutions import solutions_text

__all__ = ["lesson_main"]

_RULE = "─" * 72


def _indent(text, prefix):
    return "".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n"))


def _print_snippet(snip, total):
    tag = "  ·  WRONG ON PURPOSE: the checker's rejection is the point" if snip.wrong_on_purpose else ""
    print(f"┌{_RULE[:4]} snippet {snip.index}/{total} (line {snip.line}){tag}")
    print(_indent(snip.source, "│ "), end="", flush=True)


def _print_result(res):
    snip = res.snippet
    if res.stdout:
        label = ("expected failure, the point of this snippet:" if snip.wrong_on_purpose else "output:")
        print(f"└{_RULE[:4]} {label}")
        print(_indent(res.stdout, "    "), end="")
    if res.success:
        verdict = "rejected as intended" if snip.wrong_on_purpose else "ran"
        print(f"    [{verdict}; {res.wall_time:.2f} s]\n", flush=True)


def _run(lesson, out):
    parts = blocks(lesson.path)
    total = len(snippets(lesson.path))
    pending = iter(parts)
    start = time.time()

    def before(snip):                         # print the text up to this snippet, then the snippet
        for block in pending:
            if block.kind == "code":
                break
            print(to_terminal(block.text))
        _print_snippet(snip, total)

    wrong = 0
    with contextlib.closing(iter_lesson(lesson.number, output=out, before=before)) as results:
        for res in results:
            _print_result(res)
            if not res.success:
                print(res.error, file=sys.stderr)
                print(f"lesson {lesson.number}: snippet {res.snippet.index} (line {res.snippet.line}) failed "
                      "unexpectedly (traceback above); the snippets after it were not run", file=sys.stderr)
                return 1
            wrong += res.snippet.wrong_on_purpose
    for block in pending:
        if block.kind == "text":
            print(to_terminal(block.text))
    figures = sorted(p for p in Path(out).glob("*.png") if p.stat().st_mtime >= start - 1)
    print(_RULE)
    print(f"lesson {lesson.number}: all {total} snippets ran"
          + (f" ({wrong} wrong on purpose, each rejected as intended)" if wrong else ""))
    for path in figures:
        print(f"  figure: {path}")
    print(f"  worked solutions: dmf-edu lesson {lesson.number} --solutions")
    return 0


def lesson_main(n, out=None, solutions=False, notebook=None):
    """Run, print the solutions of, or write the notebook of lesson ``n``.

    Parameters
    ----------
    n : int
        Lesson number.
    out : path, optional
        Folder for the figures (default ``./dmf-edu-lessons``, or ``$DMF_EDU_LESSON_OUTPUT``).
    solutions : bool
        Print the lesson's worked solutions instead of running it.
    notebook : path or True, optional
        Write the lesson as a notebook (``True``: ``./NN_topic.ipynb``) instead of running it.

    Returns
    -------
    int
        0 on success, 1 when a snippet failed unexpectedly, 2 when there is no lesson ``n``.
    """
    try:
        lesson = find_lesson(n)
    except (TypeError, ValueError) as exc:
        print(f"dmf-edu lesson: {exc}", file=sys.stderr)
        return 2
    if solutions:
        print(to_terminal(solutions_text(n)), end="")
        return 0
    if notebook is not None and notebook is not False:
        path = write_notebook(n, None if notebook is True else notebook)
        print(f"lesson {n}: wrote the notebook {path}")
        return 0
    out = Path(out or os.environ.get(OUTPUT_ENV) or DEFAULT_OUTPUT)
    out.mkdir(parents=True, exist_ok=True)
    print(f"(lesson file: {lesson.path}; figures go to {out})\n")
    return _run(lesson, out)
