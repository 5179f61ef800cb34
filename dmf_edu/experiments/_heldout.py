"""Training watched on held-out entries (THEORY.md §9), shared by X9 and X2 on MovieLens.

:func:`track` runs the E19 optimizer in chunks of ``every`` steps (each chunk resumes the
previous run, so the trajectory is the one of a single uninterrupted run) and, after each
chunk, measures the MSE on each watched problem.  It keeps the end-to-end matrix with the
lowest error on the ``select`` problem (the validation split): that is early stopping with
the best weights kept, while the run itself goes on to convergence, so one run gives both
the stopped and the converged numbers.  The test split is only measured, never selected on.
"""

from __future__ import annotations

import time

import numpy as np

from ..factorization import end_to_end, init_weights
from ..metrics import singular_values
from ..training import gradient_descent


def heldout_mse(W, problem):
    """Mean squared error of ``W`` (``(m, n)``) over ``problem``'s observed entries."""
    r = W[problem.rows, problem.cols] - problem.values
    return float(np.mean(r * r))


def track(problem, depth, rng, config, watch, select="validation", n_singular=0, width=None, progress=None):
    """E19 from Gaussian init ``config["init_scale"]`` to train MSE ``config["loss_tol"]`` or
    ``config["max_steps"]``, measuring ``watch`` (name -> problem) every ``config["every"]`` steps.

    Returns a dict: ``step``, ``train`` and one list per watched name (the curves, step 0
    included); with ``n_singular``, ``singular_values`` (top ones of ``W`` at each check);
    ``best_step`` and ``W_best`` (lowest ``watch[select]`` error; ``None`` without ``select``),
    ``W`` (final), ``steps``, ``converged``, ``seconds``.
    """
    weights = init_weights(problem.shape, depth, config["init_scale"], width=width, rng=rng)
    curves = dict(step=[], train=[], **{name: [] for name in watch})
    if n_singular:
        curves["singular_values"] = []
    best = dict(error=np.inf, step=0, W=None)
    start = time.perf_counter()

    def check(step, W):
        curves["step"].append(int(step))
        curves["train"].append(float(problem.train_error(W)))
        for name, target in watch.items():
            curves[name].append(heldout_mse(W, target))
        if n_singular:
            curves["singular_values"].append(singular_values(W, n_singular).tolist())
        if select in watch and curves[select][-1] < best["error"]:
            best.update(error=curves[select][-1], step=int(step), W=W.copy())

    W = end_to_end(weights)
    check(0, W)
    run, target = None, 0
    while target < config["max_steps"]:
        target = min(target + config["every"], config["max_steps"])
        run = gradient_descent(problem, weights if run is None else run.weights, lr=config["lr"],
                               max_steps=target, optimizer="adaptive", loss_tol=config["loss_tol"],
                               resume=run, record_steps=())
        W = run.W
        check(int(run.steps), W)
        if progress:
            progress(int(run.steps), curves)
        if bool(run.converged):
            break
    return dict(curves, best_step=best["step"], W_best=best["W"], W=W, steps=int(run.steps) if run else 0,
                converged=bool(run.converged) if run else False, seconds=time.perf_counter() - start)
