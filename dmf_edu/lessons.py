r"""The course: locate the Markdown lessons shipped with the package and run their code.

The lessons live inside the package, in ``dmf_edu/lessons_md/NN_topic.md`` (package data),
so an installed ``dmf_edu`` carries its course; ``docs/lessons/README.md`` in the source
checkout is the index that points there.  Every fenced block opened with three backticks and
``python`` is a *snippet*.  Snippets of one lesson run in order in one shared namespace, like
the cells of a notebook, and each finishes in seconds.  A snippet that draws a figure saves
it to :func:`figure_path`, a folder outside the source tree (a temporary folder unless
``DMF_EDU_LESSON_OUTPUT`` says otherwise).

``dmf-edu lesson N`` calls :func:`lesson_main`; the test suite calls :func:`run_lesson` on
every lesson, so the course cannot silently go stale.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["Lesson", "Snippet", "SnippetResult", "lesson_dir", "list_lessons", "lesson_path",
           "snippets", "output_dir", "figure_path", "iter_lesson", "run_lesson", "lesson_main"]

OUTPUT_ENV = "DMF_EDU_LESSON_OUTPUT"
_FILE = re.compile(r"^(\d\d)_[a-z0-9_]+\.md$")
_OPEN = re.compile(r"^```python\s*$")
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
    """A ``python`` code block of a lesson: ``index`` (1-based), first ``line`` of code, ``source``."""

    index: int
    line: int
    source: str


@dataclass
class SnippetResult:
    """Outcome of one snippet: ``ok``, ``seconds``, captured ``stdout`` and the ``error`` traceback."""

    snippet: Snippet
    ok: bool
    seconds: float
    stdout: str = ""
    error: str | None = None


def lesson_dir():
    """Folder holding the lesson files (``dmf_edu/lessons_md``), as a :class:`pathlib.Path`."""
    return Path(str(resources.files("dmf_edu").joinpath("lessons_md")))


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


def _lesson(number):
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
    return _lesson(number).path


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
    out, block, start = [], None, 0
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if block is None:
            if _OPEN.match(line):
                block, start = [], k + 1
        elif _CLOSE.match(line):
            out.append(Snippet(len(out) + 1, start, "\n".join(block) + "\n"))
            block = None
        else:
            block.append(line)
    if block is not None:
        raise ValueError(f"{path}: the python block opened at line {start - 1} is never closed with ```")
    return out


def output_dir():
    """Folder where lesson snippets write figures (created if needed).

    ``$DMF_EDU_LESSON_OUTPUT`` if set, else ``<system temp>/dmf_edu_lessons``; never the
    current directory, so running the course leaves a checkout clean.
    """
    folder = Path(os.environ.get(OUTPUT_ENV) or Path(tempfile.gettempdir()) / "dmf_edu_lessons")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def figure_path(name):
    """Full path for a figure file ``name`` (e.g. ``"lesson1_taylor.png"``) in :func:`output_dir`."""
    if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
        raise ValueError(f"name must be a plain file name like 'lesson1.png', got {name!r}")
    return str(output_dir() / name)


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


def lesson_main(n: int) -> int:
    """``dmf-edu lesson N``: print the lesson's path, run its snippets, report each.

    Returns
    -------
    int
        0 when every snippet ran, 1 when one failed (its traceback is printed to stderr),
        2 when there is no lesson ``n``.
    """
    try:
        lesson = _lesson(n)
    except (TypeError, ValueError) as exc:
        print(f"dmf-edu lesson: {exc}", file=sys.stderr)
        return 2
    print(f"Lesson {lesson.number}: {lesson.title}")
    print(f"  {lesson.path}")
    print(f"  figures go to {output_dir()}")
    total = len(snippets(lesson.path))

    def header(snip):
        print(f"--- snippet {snip.index}/{total} (line {snip.line})", flush=True)

    with contextlib.closing(iter_lesson(n, echo=True, before=header)) as results:
        for res in results:
            snip = res.snippet
            print(f"    {'ok' if res.ok else 'FAILED'} in {res.seconds:.2f} s", flush=True)
            if not res.ok:
                print(res.error, file=sys.stderr)
                print(f"lesson {n}: snippet {snip.index} failed; the ones after it were not run",
                      file=sys.stderr)
                return 1
    print(f"lesson {n}: all {total} snippets ran")
    return 0
