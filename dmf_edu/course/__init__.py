r"""The course around the lessons: rendering (terminal text and Jupyter notebooks), the lesson
runner behind ``dmf-edu lesson N``, worked solutions, the checkers of lessons 5 and 8, and the
grader behind ``dmf-edu check FILE.py``.

Modules: :mod:`.checking` (registry, reports, hints), :mod:`.checkers` (lessons 5 and 8),
:mod:`.markdown` (lesson text to terminal text and notebook cells), :mod:`.notebook`,
:mod:`.figures` (``show``: inline in Jupyter, saved to a folder elsewhere), :mod:`.runner`,
:mod:`.solutions`, :mod:`.grader`.  The lessons' Markdown and ``dmf_edu.exercises`` stay where
they are for now.
"""

from .figures import show

__all__ = ["show"]
