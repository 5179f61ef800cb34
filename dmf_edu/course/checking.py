r"""The machinery behind the exercise checkers: the registry, :class:`Report`, and the helpers
that turn a student's output into a verdict with a hint.

The checkers themselves live beside their formulas (:mod:`dmf_edu.course.exercises` for lessons
1-4 and 7, :mod:`dmf_edu.course.checkers` for lessons 5 and 8) and register themselves with
:func:`exercise` when imported; this module knows none of them.  The package
``dmf_edu.course`` imports both on its first import, so the registry is full whenever
:func:`names`, :func:`check` and the rest are called.  The helpers (:func:`call`,
:func:`as_array`, :func:`diagnose`, :class:`Fail`, ...) are the checkers' building blocks, public
to the course's modules but not part of :data:`__all__`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import as_rng
from ..factorization import end_to_end

__all__ = ["Report", "names", "describe", "check", "reference"]


@dataclass
class Report:
    """Verdict of :func:`check`.

    Attributes
    ----------
    name : str
        The exercise.
    passed : bool
    message : str
        What was checked and, on failure, what is wrong and a hint.
    details : dict
        Numbers behind the verdict (per case: relative errors, scale factors, ...).
    """

    name: str
    passed: bool
    message: str
    details: dict = field(default_factory=dict)

    def __str__(self):
        return f"[{'PASSED' if self.passed else 'FAILED'}] {self.name}: {self.message}"

    def __repr__(self):
        """One screen: the verdict, the message's start and the names of the details (no arrays)."""
        message = self.message if len(self.message) <= 160 else self.message[:157] + "..."
        return (f"Report(name={self.name!r}, passed={self.passed}, message={message!r}, "
                f"details=[{', '.join(map(str, self.details))}])")


class Fail(Exception):
    """Raised inside a checker to stop with a message."""


@dataclass(frozen=True)
class _Exercise:
    name: str
    lesson: int
    label: str
    signature: str
    statement: str
    checker: object
    reference: object


REGISTRY = {}          # name -> _Exercise, filled by @exercise as the checker modules are imported


def exercise(name, lesson, label, signature, statement, reference):
    """Decorator registering a checker ``checker(fn, rng, details) -> summary`` for ``name``."""
    def register(checker):
        REGISTRY[name] = _Exercise(name, lesson, label, signature, statement, checker, reference)
        return checker
    return register


def names():
    """Names of the checkable exercises, in course order (list of str)."""
    order = list(REGISTRY)
    return sorted(REGISTRY, key=lambda k: (REGISTRY[k].lesson, order.index(k)))


def get(name):
    """The registry entry of exercise ``name`` (``ValueError`` listing the exercises otherwise)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown exercise {name!r}; choose one of: {', '.join(names())}")
    return REGISTRY[name]


def describe(name):
    """The statement of exercise ``name``.

    Returns
    -------
    str
        Name, lesson, formula label (E1, ...), the signature to implement, with every array's
        shape, and the task.
    """
    ex = get(name)
    return f"{ex.name} (lesson {ex.lesson}, {ex.label}): implement {ex.signature}\n{ex.statement}"


def check(name, fn, rng=None):
    """Check a student's function for exercise ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    fn : callable
        The student's function, with the signature given by :func:`describe`.
    rng : None, int or Generator
        Random test points (any seed works: the verdict does not depend on the draw).

    Returns
    -------
    Report
        ``passed`` and a ``message``; never raises because of ``fn`` (its exceptions are
        reported in the message).
    """
    ex = get(name)
    if not callable(fn):
        raise TypeError(f"fn must be a function {ex.signature}, got {type(fn).__name__}")
    rng = as_rng(rng)
    details = {}
    try:
        summary = ex.checker(fn, rng, details)
    except Fail as fail:
        return Report(name, False, str(fail), details)
    return Report(name, True, summary, details)


def reference(name):
    """The reference solution (a function that passes :func:`check`) of checkable exercise ``name``."""
    return get(name).reference


# --------------------------------------------------------------------------- helpers for checkers

def call(fn, args, case, hint=""):
    """Call the student's function; turn an exception into a failure naming the case."""
    try:
        return fn(*args)
    except Exception as exc:  # the student's code may raise anything: report it
        raise Fail(f"{case}: your function raised {type(exc).__name__}: {exc}" + (f". {hint}" if hint else ""))


def as_array(x, what, case, shape):
    """The student's output as a finite float array of the expected ``shape``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise Fail(f"{case}: {what} is a {type(x).__name__}, not an array of numbers") from None
    if arr.shape != tuple(shape):
        extra = ""
        if arr.ndim == 2 and arr.shape == tuple(shape)[::-1]:
            extra = " - that is the transposed shape: check the order of the factors and transposes"
        raise Fail(f"{case}: {what} has shape {arr.shape}, expected {tuple(shape)}{extra}")
    if not np.all(np.isfinite(arr)):
        raise Fail(f"{case}: {what} contains NaN or inf ({int(np.sum(~np.isfinite(arr)))} entries); "
                    "look for 0/0, log(0) or a negative number to a fractional power")
    return arr


def chain(ws, size):
    """``ws[-1] @ ... @ ws[0]``, or the ``size x size`` identity for an empty list."""
    return end_to_end(ws) if len(ws) else np.eye(size)


def dense(A):
    """``A`` as a dense array (sparse matrices are expanded)."""
    return A.toarray() if hasattr(A, "toarray") else np.asarray(A)


def rel(a, b):
    """Relative Frobenius distance ``||a - b|| / ||b||`` (``b = 0`` does not divide by zero)."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _scale_label(c, depth, counts):
    """Name a constant factor ``c`` between the student's result and the right one, or None."""
    named = {-1.0: "the sign is flipped"}
    if depth is not None and depth > 1:
        named[1.0 / depth] = ("the right one divided by N, the depth: a factor N is missing "
                              "(1/N, one over the depth)")
        named[float(depth)] = "the right one times N, the depth: a factor N too many"
    for what, n in (counts or {}).items():
        if n and n > 1:
            named[float(n)] = (f"the right one times {n}, the number of {what}: a sum where the "
                               "exercise asks for a mean")
            named[1.0 / n] = (f"the right one divided by {n}, the number of {what}: a mean where "
                              "the exercise asks for a sum")
    return next((t for v, t in named.items() if abs(c - v) < 1e-6 * max(1, abs(v))), None)


def diagnose(got, want, variants=(), depth=None, counts=None):
    """A hint when ``got`` is a recognised wrong version of ``want``; '' if none fits.

    ``variants`` is a sequence of ``(description, array)`` of known wrong answers.  Also
    recognised: an all-zero result, and a constant multiple of ``want`` (a flipped sign, a
    missing or extra factor ``N`` = ``depth``, and, for each ``counts`` entry ``{what: n}``, a
    sum instead of a mean over ``n`` things or the reverse).
    """
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if not np.any(got) and np.any(want):
        return "hint: your function returns all zeros (is the result computed but not returned, or overwritten?)"
    for text, arr in variants:
        if arr is not None and np.shape(arr) == np.shape(got) and rel(got, arr) < 1e-6:
            return f"hint: your result equals {text}"
    den = float(np.sum(want * want))
    if den > 0:
        c = float(np.sum(got * want)) / den
        if abs(c - 1) > 1e-6 and rel(got, c * want) < 1e-6:
            label = _scale_label(c, depth, counts)
            if label:
                return f"hint: your result is {label}; otherwise it is right"
            return f"hint: your result is exactly {c:.6g} times the right one; otherwise it is right"
    return ""
