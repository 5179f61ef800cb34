r"""The course around the lessons: rendering (terminal text and Jupyter notebooks), the lesson
runner behind ``dmf-edu lesson N``, worked solutions, the checkers of lessons 5 and 8, and the
grader behind ``dmf-edu check FILE.py``.

Modules: :mod:`.checking` (registry, reports, hints), :mod:`.checkers` (lessons 5 and 8),
:mod:`.markdown` (lesson text to terminal text and notebook cells), :mod:`.notebook`,
:mod:`.figures` (``show``: inline in Jupyter, saved to a folder elsewhere), :mod:`.runner`,
:mod:`.solutions`, :mod:`.grader`, :mod:`.exercises` (the checkable exercises of lessons 1-4
and 7; ``dmf_edu.exercises`` is the same module).  The lessons and their Markdown stay in
``dmf_edu/lessons.py`` and ``dmf_edu/lessons_md`` for now.
"""

from .figures import show

__all__ = ["show"]
