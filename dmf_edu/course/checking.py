r"""The machinery behind the exercise checkers: the registry, :class:`Report`, the public
:func:`exercise` decorator (the course's checkers and instructors' own use it), the seeds of the
test cases, and the helpers that turn a student's output into a verdict with a hint.

The checkers live beside their formulas (:mod:`.exercises`, :mod:`.exercises_depth`,
:mod:`.checkers`, :mod:`.exercises_written`) and register themselves with :func:`exercise` when
imported; this module knows none of them.  Importing ``dmf_edu.course`` imports them all.

Verdicts are repeatable: each exercise draws its random cases from a generator seeded by the
grading seed (:data:`DEFAULT_SEED` unless told otherwise) and the exercise's name, so the same
answer gets the same verdict every time; a different seed draws different random cases, and
the fixed adversarial cases of every checker (non-normal square matrices, near-low-rank
matrices, tall and wide shapes, equal hidden widths, depth >= 4) are always included.

An instructor adds an exercise with::

    from dmf_edu.course import exercise, Fail
    from dmf_edu.course.checking import as_array, call

    @exercise("trace_of_gram", lesson=9, signature="fn(W) -> float", reference=my_solution)
    def _check(fn, rng, details):           # fn: the student's function; rng: this exercise's cases
        W = rng.standard_normal((4, 3))
        got = float(as_array(call(fn, (W,), "a 4x3 W"), "tr(W^T W)", "a 4x3 W", ()))
        if abs(got - np.sum(W * W)) > 1e-9:  # (a plain assert works too)
            raise Fail("a 4x3 W: ...hint...")
        return "right on one case"

and hands the file to ``dmf-edu check --exercises FILE``.
"""

from __future__ import annotations

import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..factorization import end_to_end

__all__ = ["Report", "Fail", "StudentError", "DEFAULT_SEED", "exercise", "names", "describe", "check",
           "reference", "get", "call", "as_array", "chain", "dense", "rel", "diagnose", "REGISTRY"]

DEFAULT_SEED = 2024          # the grading seed when none is given (printed and stored by the grader)


@dataclass
class Report:
    """Verdict of :func:`check`.

    Attributes
    ----------
    name : str
        The exercise.
    success : bool
    status : str
        ``passed``, ``failed``, ``error`` (the answer raised), ``flagged`` (the package's own
        function handed in), ``timeout``, ``crashed``, ``not graded``.
    message : str
        What was checked and, on failure, what is wrong and a hint.
    wall_time : float
        Seconds the check took.
    details : dict
        Numbers behind the verdict (per case: relative errors, scale factors, ...).
    seed : int
        The grading seed the random cases were drawn from.
    warnings : list of str
        E.g. an answer that modifies its inputs.
    """

    name: str
    success: bool
    status: str
    message: str
    wall_time: float = 0.0
    details: dict = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    warnings: list = field(default_factory=list)

    def __str__(self):
        head = "PASSED" if self.success else self.status.upper()
        extra = "".join(f"\n  warning: {w}" for w in self.warnings)
        return f"[{head}] {self.name}: {self.message}{extra}"

    def __repr__(self):
        """One screen: the verdict, the message's start and the names of the details (no arrays)."""
        message = self.message if len(self.message) <= 160 else self.message[:157] + "..."
        return (f"Report(name={self.name!r}, success={self.success}, status={self.status!r}, "
                f"message={message!r}, wall_time={self.wall_time:.3g}, seed={self.seed}, "
                f"details=[{', '.join(map(str, self.details))}])")


class Fail(Exception):
    """Raised inside a checker to stop with a message (a wrong answer)."""


class StudentError(Fail):
    """The student's function raised: the message names the exception and the line of their file."""


@dataclass(frozen=True)
class _Exercise:
    name: str
    lesson: int
    label: str
    signature: str
    statement: str
    checker: object
    reference: object
    points: float = 1.0


REGISTRY = {}          # name -> _Exercise, filled by @exercise as the checker modules are imported


def exercise(name, lesson=0, label="", signature="fn(...)", statement="", reference=None, points=1.0):
    """Decorator registering a checker for exercise ``name`` (public: instructors add their own).

    Parameters
    ----------
    name : str
        The exercise, and the name of the function a student hands in.
    lesson : int
        Lesson number (0 for an exercise outside the course); orders :func:`names`.
    label, signature, statement : str
        Shown by :func:`describe`.
    reference : callable, optional
        A right answer (:func:`reference`; the grader flags submissions that call it).
    points : float
        What a passing answer scores in the grader's CSV and Gradescope output.

    The decorated ``checker(fn, rng, details) -> str`` calls the student's ``fn`` through
    :func:`call`, draws its random cases from ``rng``, raises :class:`Fail` (or fails an
    ``assert``) with a hint for a wrong answer, and returns a one-line summary when right.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"exercise name must be a Python identifier (the function's name), got {name!r}")

    def register(checker):
        REGISTRY[name] = _Exercise(name, int(lesson), label, signature, statement, checker, reference,
                                   float(points))
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
    """The statement of exercise ``name``: name, lesson, formula label, the signature to implement
    (with every array's shape) and the task (str)."""
    ex = get(name)
    return f"{ex.name} (lesson {ex.lesson}, {ex.label}): implement {ex.signature}\n{ex.statement}"


def _case_rng(name, seed):
    """The generator of exercise ``name``'s random cases under grading seed ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key,)))


class _Watched:
    """The student's function, watched: warns when a call modifies its array inputs."""

    def __init__(self, fn):
        self.fn, self.warnings = fn, []

    def __call__(self, *args):
        before = [_snapshot(a) for a in args]
        out = self.fn(*args)
        changed = getattr(self.fn, "changed_inputs", None)      # set by the grader's sandbox proxy
        if changed is None:
            changed = [k for k, (a, b) in enumerate(zip(args, before)) if not _same(_snapshot(a), b)]
        for k in changed:
            text = (f"your function modifies its input argument {k + 1} in place; work on a copy "
                    "(x = x.copy()) so the caller's data stays intact")
            if text not in self.warnings:
                self.warnings.append(text)
        return out


def _snapshot(x):
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, (list, tuple)):
        return [_snapshot(v) for v in x]
    return None


def _same(a, b):
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return True


def check(name, fn, seed=None):
    """Check a student's function for exercise ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    fn : callable
        The student's function, with the signature given by :func:`describe`.
    seed : int, optional
        Grading seed of the random cases (default :data:`DEFAULT_SEED`): the same seed gives the
        same cases, hence the same verdict; the fixed adversarial cases are drawn under every seed.

    Returns
    -------
    Report
        Never raises because of ``fn`` (its exceptions are reported in the message, with the line).
    """
    ex = get(name)
    if not callable(fn):
        raise TypeError(f"fn must be a function {ex.signature}, got {type(fn).__name__}: pass the function "
                        "itself, not its result")
    seed = DEFAULT_SEED if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    watched, details, start = _Watched(fn), {}, time.perf_counter()
    try:
        summary = ex.checker(watched, _case_rng(name, seed), details)
        success, status, message = True, "passed", str(summary or "right")
    except StudentError as fail:
        success, status, message = False, "error", str(fail)
    except (Fail, AssertionError) as fail:
        success, status, message = False, "failed", str(fail) or "the checker's assertion failed"
    return Report(name, success, status, message, time.perf_counter() - start, details, int(seed),
                  watched.warnings)


def reference(name):
    """The reference solution (a function that passes :func:`check`) of checkable exercise ``name``."""
    return get(name).reference


# --------------------------------------------------------------------------- helpers for checkers

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _student_line(exc):
    """``" (line L of FILE)"`` for the deepest frame of ``exc`` outside numpy and dmf_edu, or ''."""
    line = getattr(exc, "student_line", None)            # set by the grader's sandbox
    if line is not None:
        return f" ({line})" if line else ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not Path(f.filename).resolve().is_relative_to(_PACKAGE_DIR)
              and "numpy" not in Path(f.filename).parts]
    return f" (line {frames[-1].lineno} of {Path(frames[-1].filename).name})" if frames else ""


def call(fn, args, case):
    """Call the student's function; an exception becomes a :class:`StudentError` naming the case,
    the exception and the line of the student's file; ``None`` (a missing ``return``) a :class:`Fail`."""
    try:
        out = fn(*args)
    except Exception as exc:  # the student's code may raise anything: report it
        text = f"{type(exc).__name__}: {exc}" if not getattr(exc, "student_text", None) else exc.student_text
        todo = ("; the exercise is not written yet: replace `raise NotImplementedError` by your code"
                if text.startswith("NotImplementedError") else "")
        raise StudentError(f"{case}: your function raised {text}{_student_line(exc)}{todo}") from None
    if out is None:
        raise Fail(f"{case}: your function returned None: is the `return` statement missing "
                   "(or does it print the result instead of returning it)?")
    return out


def as_array(x, what, case, shape):
    """The student's output as a finite float array of the expected ``shape``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        kind = getattr(x, "type_name", type(x).__name__)
        raise Fail(f"{case}: {what} is a {kind}, not an array of numbers") from None
    if arr.shape != tuple(shape):
        extra = ""
        if arr.ndim == 2 and arr.shape == tuple(shape)[::-1]:
            extra = " - that is the transposed shape: check the order of the factors and transposes"
        elif tuple(shape) == () and arr.size == 1:
            extra = " - return a plain number, e.g. float(value)"
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
    named = {-1.0: "the right one with its sign flipped"}
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
    sum instead of a mean over ``n`` things or the reverse).  A single number is always some
    multiple of the right one, so for one number only the named multiples are reported, and
    never with "otherwise it is right".
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
            if got.size == 1:
                return f"hint: your result is {label}" if label else ""
            if label:
                return f"hint: your result is {label}; otherwise it is right"
            return f"hint: your result is exactly {c:.6g} times the right one; otherwise it is right"
    return ""
