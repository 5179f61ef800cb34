r"""The course: the lessons, their rendering (terminal text and Jupyter notebooks), the lesson
runner behind ``dmf-edu lesson N``, worked solutions, the exercise checkers and the grader behind
``dmf-edu check FILE.py``.

Modules, each importing only from those listed before it: :mod:`.figures` (``show``: inline in
Jupyter, saved to a folder elsewhere), :mod:`.lessons` (the Markdown lessons in ``lessons_md/``,
their snippets, running them),
:mod:`.markdown` (lesson text to terminal text and notebook cells), :mod:`.notebook`,
:mod:`.checking` (registry, reports, hints), :mod:`.checkers` (lessons 5 and 8),
:mod:`.solutions` (the worked solutions in ``solutions_md/``), :mod:`.exercises` (the checkable
exercises of lessons 1-4 and 7 and the students' entry points), :mod:`.runner`, :mod:`.grader`.

Importing the package imports :mod:`.checkers` and :mod:`.exercises`, whose checkers register
themselves in :mod:`.checking`'s registry: every module of the course sees all the exercises.
"""

from . import checkers, exercises  # noqa: F401  (importing them fills the exercise registry)
from .figures import show

__all__ = ["show"]
