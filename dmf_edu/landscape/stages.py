r"""Saddle-escape stages in a run's history (E17): :class:`Stages` and :func:`detect_stages`.

From small initialization, gradient descent on a rank-``R`` target passes ``R`` plateaus of the
loss (near saddles), each ended by one more singular value of ``W`` leaving the floor.
:func:`detect_stages` reads them off a recorded history: the rises of the singular values, the
stages they group into, and the plateaus between.  Re-exported by :mod:`dmf_edu.landscape`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_positive

__all__ = ["Stages", "detect_stages"]


@dataclass
class Stages:
    """Saddle-escape stages found in a run's history by :func:`detect_stages`.

    Attributes
    ----------
    n_stages : int
        Number of stages: groups of singular values whose rises overlap in time.
    escape_steps : ndarray of int, shape ``(R,)``
        For each singular value that leaves the floor (in order of ``escaped``), the first
        recorded step at which it reaches ``fraction`` of its final value.
    escaped : ndarray of int, shape ``(R,)``
        Indices (into the recorded singular values) of the singular values that leave the floor.
    stage_of : ndarray of int, shape ``(R,)``
        The stage (0-based) each escaping singular value belongs to.
    rises : ndarray of int, shape ``(R, 2)``
        Record indices where each escaping singular value first reaches ``low`` and ``high``
        times its final value.
    plateaus : list of (int, int)
        Record-index ranges ``[start, stop)`` where no singular value is rising; the first
        ``n_stages`` precede the stages (the saddles), a last one is the end of the run.
    plateau_steps : ndarray of int, shape ``(n_stages,)``
        A representative step (the middle record) of the plateau before each stage.
    plateau_loss : ndarray, shape ``(n_stages,)``
        Loss at those steps.
    plateau_flatness : ndarray, shape ``(n_stages,)``
        Relative loss change over the middle half of each plateau,
        ``(loss(first quarter) - loss(third quarter)) / loss(first quarter)``: small on a plateau.
    floor : float
        The floor that a singular value must end above to count as escaped.
    wall_time : float
        Seconds the detection took.
    success : bool
        At least one stage was found (``n_stages > 0``).
    status : str
        ``"stages"`` or ``"no_stages"`` (no singular value left the floor).
    message : str
        The finding in one sentence.
    """

    n_stages: int
    escape_steps: np.ndarray
    escaped: np.ndarray
    stage_of: np.ndarray
    rises: np.ndarray
    plateaus: list
    plateau_steps: np.ndarray
    plateau_loss: np.ndarray
    plateau_flatness: np.ndarray
    floor: float
    wall_time: float = 0.0

    @property
    def success(self):
        """At least one saddle-escape stage was found."""
        return self.n_stages > 0

    @property
    def status(self):
        """``"stages"`` or ``"no_stages"``."""
        return "stages" if self.success else "no_stages"

    @property
    def message(self):
        """The finding in one sentence."""
        if not self.success:
            return f"No singular value left the floor {self.floor:.3g}: no saddle-escape stage (E17)."
        return (f"{self.n_stages} saddle-escape stage{'s' if self.n_stages != 1 else ''} (E17): "
                f"{len(self.escaped)} singular value{'s' if len(self.escaped) != 1 else ''} left the floor "
                f"{self.floor:.3g}.")


def detect_stages(history, *, floor=None, fraction=0.5, low=0.1, high=0.9):
    r"""Detect saddle-escape stages in a run's history (E17).

    Parameters
    ----------
    history : dict
        A run's history (:func:`dmf_edu.gradient_descent`, :func:`dmf_edu.gradient_flow`): needs
        ``step`` (K,), ``loss`` (K,) and ``singular_values`` (K, k) of one trial, descending.
    floor : float, optional
        A singular value *leaves the floor* when its final value exceeds ``floor``.  Default:
        ``max(10 * max initial singular value, 1e-2 * final top singular value)``.
    fraction : float in (0, 1)
        An escape is the first record at which the singular value reaches ``fraction`` of its
        final value (THEORY.md E17: first crossing of half its final value).
    low, high : floats, ``0 < low < high < 1``
        A singular value is *rising* between its first records at ``low`` and at ``high`` times
        its final value; records where none is rising form the plateaus.

    Returns
    -------
    Stages

    Notes
    -----
    **E17**: for a rank-``R`` target, GD from small init shows ``R`` stages: a plateau of the
    loss (near a saddle) followed by one more singular value leaving the floor.  Stages are
    the connected components of the union of the rising intervals, so two singular values
    rising together count as one stage.  The plateau before stage ``k`` spans from the end
    of the previous rise to the start of this one.
    """
    clock = time.perf_counter()
    steps, loss, s, fraction = _check_history(history, fraction, low, high)
    final = s[-1]
    if floor is None:
        floor = max(10.0 * float(np.max(s[0])), 1e-2 * float(np.max(final)))
    floor = check_positive(floor, "floor", allow_zero=True)
    escaped = np.flatnonzero(final > floor)

    def first(i, level):
        hit = np.flatnonzero(s[:, i] >= level * final[i])
        return int(hit[0]) if hit.size else len(steps) - 1

    rises = np.array([[first(i, low), first(i, high)] for i in escaped], dtype=int).reshape(-1, 2)
    escape = np.array([first(i, fraction) for i in escaped], dtype=int)
    n_stages, stage_of = _group_rises(rises)
    plateaus = _quiet_runs(rises, len(steps))
    mid, flat = _plateau_middle_and_flatness(_plateaus_before(rises, stage_of, n_stages, plateaus), loss)
    return Stages(n_stages=n_stages, escape_steps=steps[escape] if escape.size else np.zeros(0, int),
                  escaped=escaped, stage_of=stage_of, rises=rises, plateaus=plateaus,
                  plateau_steps=steps[mid] if mid.size else np.zeros(0, int),
                  plateau_loss=loss[mid] if mid.size else np.zeros(0),
                  plateau_flatness=flat, floor=float(floor), wall_time=time.perf_counter() - clock)


def _check_history(history, fraction, low, high):
    """``(steps, loss, singular values, fraction)`` of one trial's history, checked."""
    for key in ("step", "loss", "singular_values"):
        if key not in history:
            raise ValueError(f"history has no {key!r}; pass the history of one run (Run.history)")
    steps = np.asarray(history["step"])
    loss = as_float_array(history["loss"], "history['loss']")
    s = as_float_array(history["singular_values"], "history['singular_values']")
    if s.ndim != 2 or loss.ndim != 1 or steps.ndim != 1 or not (len(steps) == len(loss) == len(s)):
        raise ValueError("history must be of one trial: step (K,), loss (K,), singular_values (K, k); "
                         "index a batched history by trial first")
    if len(steps) < 3:
        raise ValueError(f"history has {len(steps)} records; record more often (record_every) to see stages")
    fraction = check_positive(fraction, "fraction")
    if not 0.0 < low < high < 1.0 or not 0.0 < fraction < 1.0:
        raise ValueError(f"need 0 < low < high < 1 and 0 < fraction < 1, got low={low}, high={high}, "
                         f"fraction={fraction}")
    return steps, loss, s, fraction


def _group_rises(rises):
    """E17 stages: the connected components of the union of the rising intervals ``rises``
    ``(R, 2)``; ``(n_stages, stage_of)``, stages numbered in order of their first rise."""
    order = np.argsort(rises[:, 0], kind="stable")
    stage_of = np.zeros(len(rises), dtype=int)
    n_stages, reach = 0, -1
    for i in order:
        if rises[i, 0] > reach:
            n_stages += 1
        stage_of[i] = n_stages - 1
        reach = max(reach, rises[i, 1])
    return n_stages, stage_of


def _quiet_runs(rises, n_records):
    """The record ranges ``[start, stop)`` where no singular value is rising (the plateaus)."""
    rising = np.zeros(n_records, dtype=bool)
    for a, b in rises:
        rising[a:b + 1] = True
    plateaus, start = [], None
    for k, r in enumerate(np.append(rising, True)):
        if not r and start is None:
            start = k
        elif r and start is not None:
            plateaus.append((start, k))
            start = None
    return plateaus


def _plateaus_before(rises, stage_of, n_stages, plateaus):
    """The plateau before stage ``k``: the quiet run that ends where stage ``k`` starts."""
    starts = [min(rises[stage_of == k, 0]) for k in range(n_stages)]
    before = []
    for a in starts:
        cands = [p for p in plateaus if p[1] <= a]
        before.append(cands[-1] if cands else (0, max(a, 1)))
    return before


def _plateau_middle_and_flatness(before, loss):
    """Each plateau's middle record and its relative loss change over the middle half (E17)."""
    mid = np.array([(p[0] + p[1] - 1) // 2 for p in before], dtype=int)
    q1 = np.array([p[0] + (p[1] - p[0]) // 4 for p in before], dtype=int)
    q3 = np.array([p[0] + (3 * (p[1] - p[0])) // 4 for p in before], dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = np.where(loss[q1] > 0, (loss[q1] - loss[q3]) / loss[q1], 0.0)
    return mid, flat
