"""``dmf_edu.lessons`` is the course's historical name for :mod:`dmf_edu.course.lessons` (``list_lessons``,
``lesson_path``, ``snippets``, ``run_lesson``, ... : the same objects) together with ``lesson_main``,
which lives in :mod:`dmf_edu.course.runner`.

Unlike ``dmf_edu.exercises`` this is not the module itself under a second name: the runner is built
on :mod:`dmf_edu.course.lessons`, so that module cannot hold ``lesson_main`` without an import cycle.
To change what the lesson functions see (e.g. ``lesson_dir`` in a test), patch
:mod:`dmf_edu.course.lessons`.
"""

from .course.lessons import *  # noqa: F401,F403  (its __all__: every public name)
from .course.lessons import __all__ as _course_names
from .course.runner import lesson_main

__all__ = [*_course_names, "lesson_main"]
