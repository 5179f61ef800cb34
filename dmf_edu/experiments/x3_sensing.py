"""X3 — matrix sensing, depth versus nuclear norm (arXiv 1905.13655, THEORY.md §8).

The X1 comparison with Gaussian measurements instead of observed entries: the same rank-5
ground truth, ``A_k`` with i.i.d. ``N(0, 1/n^2)`` entries, ``y_k = <A_k, M>``; depths trained
with the E19 optimizer (mean loss) to train MSE 1e-6, against nuclear-norm minimization with
``|<A_k, X> - y_k| <= 1e-3``.  In the rows, ``n_obs`` is the number of measurements.  A
100x100 sensing step reads the whole ``K x 10^4`` measurement matrix twice, so the full sweep
is lighter than X1's (fewer measurement counts, one trial) and runs its products in single
precision (``MatrixSensing(precision="single")``: about twice as fast, errors ~1e-6 relative).
"""

from __future__ import annotations

from .x1_completion import FULL as _X1_FULL
from .x1_completion import plot, run_sweep  # noqa: F401  (plot is this experiment's too)

ID = "X3"
TITLE = "sensing 100x100 rank 5, Gaussian measurements: error vs measurements, depths vs nuclear norm"

FULL = dict(_X1_FULL, problem="sensing", precision="single", n_obs=[1000, 1500, 2000, 3000], depths=[2, 3, 4], trials=1,
            sweep_n_obs=2000, sweep_scales=[1e-3], max_steps=100_000)
QUICK = dict(FULL, precision="double", m=20, n=20, rank=2, n_obs=[80, 160], depths=[1, 2, 3], trials=1, sweep_n_obs=160,
             max_steps=40_000)


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True):
    return run_sweep(ID, dict(QUICK if quick else FULL, **(config or {})), seed, jobs, cache_dir, progress)
