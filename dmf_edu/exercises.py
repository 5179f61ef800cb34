"""``dmf_edu.exercises`` is :mod:`dmf_edu.course.exercises` under its historical name (``check``,
``solution``, ``describe``, ``names``, ``reference``, ``Report`` and the rest all work)."""

import sys

from .course import exercises

sys.modules[__name__] = exercises
