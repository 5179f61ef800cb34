"""X3 — matrix sensing, depth versus nuclear norm (arXiv 1905.13655, THEORY.md §8).

The X1 comparison with Gaussian measurements instead of observed entries: the same rank-5
ground truth, ``A_k`` with i.i.d. ``N(0, 1/n^2)`` entries, ``y_k = <A_k, M>``; depths trained
with the E19 optimizer (mean loss) to train MSE 1e-6, against nuclear-norm minimization with
``|<A_k, X> - y_k| <= 1e-3``.  In the rows, ``n_obs`` is the number of measurements.

A 100x100 sensing step reads the whole ``K x 10^4`` measurement matrix.  The measurement sets
are nested (``nested=True``): in one trial, the ``k`` measurements are the first ``k`` of one
draw of 3000, so every run of the trial (all counts and depths) is one task, trained in lockstep
(:mod:`dmf_edu.training.lockstep`: one pass over the 3000 measurements per step for all twelve runs,
each reading only its own prefix), with the products in single precision
(``MatrixSensing(precision="single")``: errors ~1e-6 relative).  Each run's steps and result
are those it would have on its own prefix problem; the nuclear norm sees the same prefixes.
"""

from __future__ import annotations

from . import x1_completion as _x1
from .protocol import Experiment

ID = "X3"
TITLE = "sensing 100x100 rank 5, Gaussian measurements: error vs measurements, depths vs nuclear norm"

FULL = dict(_x1.FULL, problem="sensing", precision="single", n_obs=[1000, 1500, 2000, 3000], depths=[2, 3, 4],
            trials=3, sweep_n_obs=2000, sweep_scales=[1e-3], max_steps=100_000, lockstep=True, nested=True)
QUICK = dict(FULL, precision="double", m=20, n=20, rank=2, n_obs=[80, 160], depths=[1, 2, 3], trials=1, sweep_n_obs=160,
             max_steps=40_000)


def collect(rows, config):
    return _x1.collect(rows, config, experiment=ID)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=_x1.tasks, run_task=_x1.run_task, collect=collect,
                        plot=_x1.plot, headline=_x1.headline)
