r"""Worked solutions of every exercise, kept apart from the lessons.

One Markdown file per lesson in ``dmf_edu/course/solutions_md/`` (same stem as the lesson),
one ``## N.M ...`` section per exercise.  A line ``{{reference: name}}`` stands for the source of
the checkable exercise ``name``'s reference solution, so the code shown is the code the
checker passes.  Reached with ``dmf-edu lesson N --solutions`` or :func:`solution`
(``dmf_edu.course.exercises.solution("N.M")``).
"""

from __future__ import annotations

import inspect
import re
from importlib import resources
from pathlib import Path

from .checking import REGISTRY, get, names, reference
from .lessons import lesson_path

__all__ = ["solutions_dir", "solutions_path", "solutions_text", "sections", "solution_text", "section_of",
           "solution"]

_SECTION = re.compile(r"^## (\d+\.\d+)\b(.*)$", re.M)
_REFERENCE = re.compile(r"^\{\{reference:\s*([a-z_]+)\s*\}\}$", re.M)
_CHECKABLE = re.compile(r"checkable:\s*`([a-z_]+)`")


def solutions_dir():
    """Folder of the solution files (package data)."""
    return Path(str(resources.files("dmf_edu.course").joinpath("solutions_md")))


def solutions_path(number):
    """The solutions file of lesson ``number`` (``ValueError`` if the lesson has none)."""
    path = solutions_dir() / lesson_path(number).name
    if not path.is_file():
        raise ValueError(f"lesson {number} has no solutions file {path.name}")
    return path


def _expand(text):
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
        raise ValueError(f"unknown exercise {key!r}; give a number like '1.2' or one of: {', '.join(names())}")
    found = sections(int(match.group(1)))
    if key not in found:
        raise ValueError(f"lesson {match.group(1)} has no exercise {key}; it has {', '.join(found)}")
    return found[key]


def section_of(name):
    """The worked solution of checkable exercise ``name`` (its section's text), or None."""
    try:
        found = sections(get(name).lesson)
    except ValueError:
        return None
    return next((text for text, checkable in found.values() if checkable == name), None)


def solution(name):
    """Print the worked solution of an exercise and return it.

    Parameters
    ----------
    name : str
        A checkable exercise (one of :func:`~dmf_edu.course.checking.names`, e.g.
        ``"layer_gradients"``) or any exercise by its number in the lessons (``"1.2"``, ``"5.3"``, ...).

    Returns
    -------
    callable or str
        For a checkable exercise, the reference solution itself (it passes
        :func:`~dmf_edu.course.checking.check`), after printing the worked solution with its
        source; for a written exercise, the worked solution's text (also printed).
    """
    if name in REGISTRY:
        ref = REGISTRY[name].reference
        print(section_of(name) or inspect.getsource(ref))
        return ref
    text, checkable = solution_text(name)
    print(text)
    return REGISTRY[checkable].reference if checkable else text
