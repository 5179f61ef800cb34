r"""The course: locate the Markdown lessons shipped with the package and run their code.

The lessons live inside the package, in ``dmf_edu/course/lessons_md/NN_topic.md`` (package
data), so an installed ``dmf_edu`` carries its course; ``docs/lessons/README.md`` in the source
checkout is the index that points there.  Every fenced block opened with three backticks and
``python`` is a *snippet*; a fence ```` ```python wrong-on-purpose ```` marks one that submits a
deliberately wrong answer (its rejection is the point).  Snippets of one lesson run in order
in one shared namespace, like the cells of a notebook, and each finishes in seconds.  A
snippet that draws a figure hands it to :func:`dmf_edu.course.show`: inline in Jupyter, else
saved into :func:`dmf_edu.course.figures.output_dir` (``$DMF_EDU_LESSON_OUTPUT``, or
``./dmf-edu-lessons``).

``dmf-edu lesson N`` is :func:`dmf_edu.course.runner.lesson_main`, built on this module (which
knows nothing of it).  The test suite runs every lesson, so the course cannot
silently go stale.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .figures import OUTPUT_ENV

__all__ = ["Lesson", "Snippet", "SnippetResult", "lesson_dir", "list_lessons", "find_lesson", "lesson_path",
           "snippets", "iter_lesson", "run_lesson"]

_FILE = re.compile(r"^(\d\d)_[a-z0-9_]+\.md$")
_OPEN = re.compile(r"^```python(\s+wrong-on-purpose)?\s*$")
_CLOSE = re.compile(r"^```\s*$")
_PREFIX = re.compile(r"^Lesson\s+\d+\s*[\u2014:\-]+\s*")


@dataclass(frozen=True)
class Lesson:
    """One lesson file: its ``number`` (1, 2, ...), ``title`` (first ``#`` heading) and ``path``."""

    number: int
    title: str
    path: Path


@dataclass(frozen=True)
class Snippet:
    """A ``python`` code block of a lesson: ``index`` (1-based), first ``line`` of code, ``source``,
    and ``wrong_on_purpose`` (fence ```` ```python wrong-on-purpose ````)."""

    index: int
    line: int
    source: str
    wrong_on_purpose: bool = False


@dataclass
class SnippetResult:
    """Outcome of one snippet: ``success``, ``status`` (``ok`` or ``error``), ``message`` (the
    exception's last line, or ''), ``wall_time`` (seconds), captured ``stdout`` and the ``error``
    traceback (or None)."""

    snippet: Snippet
    success: bool
    wall_time: float
    stdout: str = ""
    error: str | None = None

    @property
    def status(self):
        return "ok" if self.success else "error"

    @property
    def message(self):
        return self.error.strip().splitlines()[-1] if self.error else ""


def lesson_dir():
    """Folder holding the lesson files (``dmf_edu/course/lessons_md``), as a :class:`pathlib.Path`."""
    return Path(str(resources.files("dmf_edu.course").joinpath("lessons_md")))


def list_lessons():
    """All lessons in course order.

    The title is the first ``# `` heading without its ``Lesson N —`` prefix.

    Returns
    -------
    list of Lesson
        Sorted by number; files are named ``NN_topic.md``.
    """
    found = []
    for path in sorted(lesson_dir().glob("*.md")):
        match = _FILE.match(path.name)
        if not match:
            continue
        title = next((_PREFIX.sub("", ln[2:].strip()) for ln in path.read_text(encoding="utf-8").splitlines()
                      if ln.startswith("# ")), path.stem)
        found.append(Lesson(int(match.group(1)), title, path))
    return found


def find_lesson(number):
    """The :class:`Lesson` numbered ``number`` (int >= 1).

    Raises ``TypeError`` for a non-integer and ``ValueError`` naming the existing lessons otherwise.
    """
    lessons = list_lessons()
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(f"lesson number must be an integer, got {number!r}")
    for lesson in lessons:
        if lesson.number == number:
            return lesson
    have = ", ".join(str(ls.number) for ls in lessons) or "none"
    raise ValueError(f"there is no lesson {number}; the course has lessons {have} "
                     "(`dmf-edu lesson N` with one of these)")


def lesson_path(number):
    """Path of lesson ``number`` (int >= 1); ``ValueError`` naming the existing lessons otherwise."""
    return find_lesson(number).path


def snippets(lesson):
    """The ``python`` code blocks of a lesson.

    Parameters
    ----------
    lesson : int or path
        A lesson number or the path of a Markdown file.

    Returns
    -------
    list of Snippet
        In file order.  Blocks fenced with another language (``text``, ``sh``) are not snippets.

    Raises
    ------
    ValueError
        If a ``python`` block is never closed.
    """
    path = lesson_path(lesson) if isinstance(lesson, int) and not isinstance(lesson, bool) else Path(lesson)
    out, block, start, wrong = [], None, 0, False
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if block is None:
            opened = _OPEN.match(line)
            if opened:
                block, start, wrong = [], k + 1, bool(opened.group(1))
        elif _CLOSE.match(line):
            out.append(Snippet(len(out) + 1, start, "\n".join(block) + "\n", wrong))
            block = None
        else:
            block.append(line)
    if block is not None:
        raise ValueError(f"{path}: the python block opened at line {start - 1} is never closed with ```")
    return out


def iter_lesson(number, *, output=None, echo=False, stop_on_error=True, before=None):
    """Run the snippets of one lesson in order, in one shared namespace, yielding each result.

    Parameters
    ----------
    number : int
        Lesson number.
    output : path, optional
        Folder for the figures (sets ``$DMF_EDU_LESSON_OUTPUT`` while the lesson runs).
    echo : bool
        Print what the snippets print as they run (otherwise it is captured in the results).
    stop_on_error : bool
        Stop at the first failing snippet (later snippets usually need its names).
    before : callable, optional
        Called with each :class:`Snippet` just before it runs (e.g. to print a header).

    Yields
    ------
    SnippetResult
        One per snippet run, as soon as it has run.
    """
    path = lesson_path(number)
    namespace = {"__name__": f"dmf_edu_lesson_{number}"}
    previous = os.environ.get(OUTPUT_ENV)
    if output is not None:
        os.environ[OUTPUT_ENV] = os.fspath(output)
    try:
        for snip in snippets(path):
            if before is not None:
                before(snip)
            buffer = io.StringIO()
            sink = contextlib.nullcontext() if echo else contextlib.redirect_stdout(buffer)
            start = time.perf_counter()
            error = None
            try:
                code = compile(snip.source, f"{path.name}:{snip.line}", "exec")
                with sink:
                    exec(code, namespace)   # noqa: S102  the lesson's own code, run like a notebook cell
            except Exception:               # report any failure of a snippet, then stop or go on
                error = traceback.format_exc()
            yield SnippetResult(snip, error is None, time.perf_counter() - start, buffer.getvalue(), error)
            if error is not None and stop_on_error:
                break
    finally:
        if output is not None:
            if previous is None:
                os.environ.pop(OUTPUT_ENV, None)
            else:
                os.environ[OUTPUT_ENV] = previous


def run_lesson(number, **options):
    """Run a whole lesson (see :func:`iter_lesson` for the options); return the list of
    :class:`SnippetResult`."""
    return list(iter_lesson(number, **options))

