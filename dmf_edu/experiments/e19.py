"""The optimizer of the reference code's completion figures (E19) and training runs with it (X1-X3, X9).

E19: one global step per run, ``s_t = beta s_{t-1} + (1 - beta) sum_j ||dphi/dW_j||^2``, base
rate ``lr``, on the mean loss; runs stop at train MSE ``config["loss_tol"]`` or
``config["max_steps"]`` (THEORY.md §7).
"""

from __future__ import annotations

import time

from ..training.lockstep import train_together
from ..training.loop import gradient_descent

E19 = "adaptive (E19: one global step, beta 0.99, base rate lr, mean loss)"
E19_SHORT = "optimizer: adaptive step (E19)"


def train_runs(problem, inits, config, counts=None, **record):
    """Train each factor list of ``inits`` on ``problem`` with E19; several at once in lockstep
    (one pass over the data per step, :mod:`dmf_edu.training.lockstep`; ``counts``: each run's
    number of leading measurements).  ``record``: ``record_every``/``n_singular`` for a history
    (one run only); default none.  Returns the runs and the wall time of the whole group."""
    settings = dict(lr=config["lr"], max_steps=config["max_steps"], optimizer="adaptive",
                    loss_tol=config["loss_tol"], record_steps=None if record.get("record_every") else [])
    start = time.perf_counter()
    if len(inits) == 1 and counts is None:
        runs = [gradient_descent(problem, inits[0], **settings, **record)]
    else:
        if record:
            raise ValueError("record_every/n_singular need one run per task: set lockstep=False")
        runs = train_together(problem, inits, counts=counts, **settings)
    return runs, time.perf_counter() - start
