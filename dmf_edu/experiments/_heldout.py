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


def top_singular_values(weights, k):
    """Top ``k`` singular values of ``W = W_N ... W_1`` from the factors: with ``A = W_N`` and
    ``B = W_{N-1} ... W_1``, ``W = Q_A (R_A R_B^T) Q_B^T`` (thin QRs of ``A`` and ``B^T``), so
    only a small ``R_A R_B^T`` is decomposed (MovieLens: 100 x 100 instead of 943 x 1682)."""
    if len(weights) == 1:
        return singular_values(weights[0], k)
    R_A = np.linalg.qr(weights[-1], mode="r")
    R_B = np.linalg.qr(end_to_end(weights[:-1]).T, mode="r")
    s = np.linalg.svd(R_A @ R_B.T, compute_uv=False)
    return np.pad(s, (0, max(0, k - s.size)))[:k]


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

    def check(step, W, factors):
        curves["step"].append(int(step))
        curves["train"].append(float(problem.train_error(W)))
        for name, target in watch.items():
            curves[name].append(heldout_mse(W, target))
        if n_singular:
            curves["singular_values"].append(top_singular_values(factors, n_singular).tolist())
        if select in watch and curves[select][-1] < best["error"]:
            best.update(error=curves[select][-1], step=int(step), W=W.copy())

    W = end_to_end(weights)
    check(0, W, weights)
    run, target = None, 0
    while target < config["max_steps"]:
        target = min(target + config["every"], config["max_steps"])
        run = gradient_descent(problem, weights if run is None else run.weights, lr=config["lr"],
                               max_steps=target, optimizer="adaptive", loss_tol=config["loss_tol"],
                               resume=run, record_steps=())
        W = run.W
        check(int(run.steps), W, run.weights)
        if progress:
            progress(int(run.steps), curves)
        if bool(run.converged):
            break
    return dict(curves, best_step=best["step"], W_best=best["W"], W=W, steps=int(run.steps) if run else 0,
                converged=bool(run.converged) if run else False, seconds=time.perf_counter() - start)
