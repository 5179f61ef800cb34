r"""The course: the lessons, their rendering (terminal text and Jupyter notebooks), the lesson
runner behind ``dmf-edu lesson N``, worked solutions, the exercise checkers, the grader behind
``dmf-edu check PATH...`` and the student release behind ``dmf-edu course release OUT``.

The public course API, handed on here:

* :func:`check` (``check(name, fn, seed=None) -> Report``), :func:`names`, :func:`describe`,
  :func:`reference`, :func:`solution`, :class:`Report` (``success``, ``status``, ``message``,
  ``wall_time``), :class:`Fail`, :data:`DEFAULT_SEED`;
* :func:`exercise`: the decorator with which the course's checkers, and instructors' own
  (``dmf-edu check --exercises FILE``), register;
* :func:`show`: a figure inline in Jupyter, saved to a folder elsewhere.

Modules, each importing only from those listed before it: :mod:`.figures`, :mod:`.lessons`,
:mod:`.markdown`, :mod:`.checking` (registry, reports, hints, seeds), the checkers
(:mod:`.exercises`, :mod:`.exercises_depth`, :mod:`.checkers`, :mod:`.exercises_written`),
:mod:`.solutions`, :mod:`.notebook`, :mod:`.runner`, :mod:`.sandbox` (student code in a child
process), :mod:`.submissions` (files, folders, notebooks), :mod:`.grader`, :mod:`.release`.
Importing the package imports the checker modules, which fill the registry.
"""

from . import checkers, exercises, exercises_depth, exercises_written  # noqa: F401  (fill the registry)
from .checking import DEFAULT_SEED, Fail, Report, check, describe, exercise, names, reference
from .figures import show
from .solutions import solution

__all__ = ["check", "names", "describe", "reference", "solution", "Report", "Fail", "exercise", "show",
           "DEFAULT_SEED"]
