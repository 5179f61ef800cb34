"""The history of a training run: what is recorded (:class:`Recorder`) and when (:func:`record_schedule`).

:func:`dmf_edu.gradient_descent` and the flows of :mod:`dmf_edu.dynamics` record the history only
at chosen steps, because a record (an SVD, the balancedness, the errors) costs far more than a step.
The default schedule spends about 4 % of the estimated run time on records.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_int
from ..factorization import balancedness, product_singular_values
from ..metrics import effective_rank_from_singular_values, reconstruction_error, relative_error

__all__ = ["Recorder", "record_schedule", "RECORD_BUDGET", "matrix_items", "matrix_cost_ratio"]
# record_predicate: for dmf_edu.training

RECORD_BUDGET = 0.04      # share of the estimated run time the default record schedule may take


class Recorder:
    """Collects the history at the recorded steps (also used by :mod:`dmf_edu.dynamics`)."""

    def __init__(self, problem, truth, n_singular, previous=None, validated=False):
        self.problem, self.truth, self.n_singular, self.validated = problem, truth, n_singular, validated
        self.rows = {k: list(v) for k, v in (previous or {}).items()}

    def record(self, step, loss, W, weights, elapsed, validation_error=None, prefixes=None):
        """Record a matrix factorization's row (:func:`matrix_items`)."""
        self.add(step, loss, matrix_items(self.problem, self.truth, self.n_singular, W, weights, prefixes),
                 elapsed, validation_error)

    def add(self, step, loss, items, elapsed, validation_error=None):
        """Record one row: ``step``, ``loss``, a model's ``items`` (a dict), ``time``, ``validation_error``."""
        row = dict(step=step, loss=np.array(loss), **items, time=elapsed)
        if self.validated:
            row["validation_error"] = validation_error
        for k, v in row.items():
            self.rows.setdefault(k, []).append(v)

    def history(self):
        return {k: np.asarray(v) for k, v in self.rows.items()}


def matrix_items(problem, truth, n_singular, W, weights, prefixes=None):
    """A matrix factorization's history entries: train error, top singular values, effective rank,
    balancedness (E2) and, with a ground truth, the reconstruction and relative errors."""
    s = np.linalg.svd(W, compute_uv=False) if prefixes is None else product_singular_values(weights, prefixes)
    row = dict(train_error=problem.train_error(W), singular_values=s[..., :n_singular],
               effective_rank=effective_rank_from_singular_values(s), balancedness=balancedness(weights))
    if truth is not None:
        row["reconstruction_error"] = reconstruction_error(W, truth)
        row["relative_error"] = relative_error(W, truth)
    return row


def record_schedule(max_steps, cost_ratio=1.0, budget=RECORD_BUDGET, cap=200):
    """The default recorded steps: as many as cost ``budget`` of the run, at most ``cap``.

    ``cost_ratio`` is the cost of one record over the cost of one step.  ``R = budget * max_steps
    / cost_ratio`` records (at most ``cap``): step 0, the final step, half of the rest spaced on
    a log scale (the early phase, where things change fast) and half evenly (the late phase).
    With ``R < 2`` only the final step is recorded; a run too short to pay for even that one
    record (under about ``cost_ratio / budget`` steps) spends more than ``budget`` on it.
    Returns a sorted array of steps.
    """
    T = check_int(max_steps, "max_steps", minimum=0)
    R = min(cap, int(budget * T / cost_ratio))
    if R < 2:
        return np.array([T])
    n_log, n_lin = (R - 1) // 2, (R - 2) // 2 + 2
    points = np.concatenate([[0, T], np.geomspace(1, max(T, 1), n_log), np.linspace(0, T, n_lin)])
    return np.unique(np.round(points).astype(np.int64))


def matrix_cost_ratio(ws, lead, problem, validation, truth):
    """Estimated (record cost) / (step cost): flops (an SVD counted as 25 m n min(m, n)) plus a
    fixed Python cost for each (about 10 us for a step, 150 us for a record, as flops at ~50
    GFLOP/s).  Calibrated on one core from 8x8 to 200x200 (benchmarks/bench_core.py section 4):
    within a factor 1.5 of the measured ratio, or above it."""
    trials = max(1, int(np.prod(lead)))
    dims = [ws[0].shape[-1]] + [w.shape[-2] for w in ws]
    m, n = dims[-1], dims[0]

    def data_cost(p):
        return 2.0 * p.n_observations * m * n if hasattr(p, "A") else 20.0 * p.n_observations

    products = sum(2.0 * dims[j] * dims[j - 1] * n for j in range(2, len(dims)))
    step = trials * (3 * products + data_cost(problem) + 4.0 * m * n) + 5e5
    k = min(dims[1:-1], default=min(m, n))
    svd = 25.0 * m * n * min(m, n) if 2 * k > min(m, n) else 8.0 * (m + n) * k * k + 25.0 * k ** 3 + products + 4e6
    gram = sum(2.0 * dims[j] ** 2 * (dims[j - 1] + dims[j + 1]) for j in range(1, len(dims) - 1))
    record = trials * (svd + gram + data_cost(problem) + (10.0 * m * n if truth is not None else 0.0)
                       + (data_cost(validation) if validation is not None else 0.0)) + 8e6
    return record / step


def record_predicate(record_every, record_steps, max_steps, cost_ratio):
    """A predicate ``should_record(step)``; step 0 is always recorded with ``record_every``/``record_steps``.
    ``cost_ratio()``: the model's record/step cost ratio, for the default :func:`record_schedule`."""
    if record_steps is not None:
        wanted = {int(k) for k in record_steps} | {0}
        return wanted.__contains__
    if record_every is not None:
        every = check_int(record_every, "record_every", minimum=1)
        return lambda k: k % every == 0
    return set(record_schedule(max_steps, cost_ratio()).tolist()).__contains__
