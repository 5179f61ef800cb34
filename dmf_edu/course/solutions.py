r"""Worked solutions of every exercise, kept apart from the lessons.

One Markdown file per lesson in ``dmf_edu/course/solutions_md/`` (same stem as the lesson),
one ``## N.M ...`` section per exercise.  A line ``{{reference: name}}`` stands for the source of
the checkable exercise ``name``'s reference solution, so the code shown is the code the
checker passes.  Reached with ``dmf-edu lesson N --solutions`` or
``dmf_edu.exercises.solution("N.M")``.
"""

from __future__ import annotations

import inspect
import re
from importlib import resources
from pathlib import Path

__all__ = ["solutions_dir", "solutions_path", "solutions_text", "sections", "solution_text", "section_of"]

_SECTION = re.compile(r"^## (\d+\.\d+)\b(.*)$", re.M)
_REFERENCE = re.compile(r"^\{\{reference:\s*([a-z_]+)\s*\}\}$", re.M)
_CHECKABLE = re.compile(r"checkable:\s*`([a-z_]+)`")


def solutions_dir():
    """Folder of the solution files (package data)."""
    return Path(str(resources.files("dmf_edu.course").joinpath("solutions_md")))


def solutions_path(number):
    """The solutions file of lesson ``number`` (``ValueError`` if the lesson has none)."""
    from ..lessons import lesson_path

    path = solutions_dir() / lesson_path(number).name
    if not path.is_file():
        raise ValueError(f"lesson {number} has no solutions file {path.name}")
    return path


def _expand(text):
    from .checking import reference

    def source(match):
        return "```python\n" + inspect.getsource(reference(match.group(1))).rstrip() + "\n```"
    return _REFERENCE.sub(source, text)


def solutions_text(number):
    """All worked solutions of lesson ``number`` as Markdown (reference code filled in)."""
    return _expand(solutions_path(number).read_text(encoding="utf-8"))


def sections(number):
    """``{"N.M": (text, checkable name or None)}`` for lesson ``number``, in order."""
    text = solutions_text(number)
    heads = list(_SECTION.finditer(text))
    out = {}
    for k, head in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        checkable = _CHECKABLE.search(head.group(2))
        out[head.group(1)] = (text[head.start():end].strip() + "\n", checkable.group(1) if checkable else None)
    return out


def solution_text(key):
    """``(text, checkable name or None)`` of exercise ``key`` = ``"N.M"``; ``ValueError`` otherwise."""
    match = re.fullmatch(r"(\d+)\.(\d+)", str(key).strip())
    if not match:
        from .checking import names

        raise ValueError(f"unknown exercise {key!r}; give a number like '1.2' or one of: {', '.join(names())}")
    found = sections(int(match.group(1)))
    if key not in found:
        raise ValueError(f"lesson {match.group(1)} has no exercise {key}; it has {', '.join(found)}")
    return found[key]


def section_of(name):
    """The worked solution of checkable exercise ``name`` (its section's text), or None."""
    from .checking import _get

    try:
        found = sections(_get(name).lesson)
    except ValueError:
        return None
    return next((text for text, checkable in found.values() if checkable == name), None)
