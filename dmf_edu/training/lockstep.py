r"""Several factorizations of one problem trained in lockstep: one pass over the data per step.

One 100x100 sensing step is memory-bound: the residuals ``<A_k, W> - y_k`` and the gradient
``G = c sum_k r_k A_k`` each read the whole ``K x mn`` measurement matrix, while the factor
products cost a few 100x100 matrix products.  Runs that share the measurements (in X3, every
run of a trial: the depths and the nested measurement counts, ``counts=``) can share that
read: stack their end-to-end matrices ``W^(1..R)`` and compute all residuals and gradients
in one pass, so the ``R`` matrix-vector products become matrix products (which then run at
the arithmetic rate: ``figures/README.md``, X3).

:func:`shared_loss_and_gradient` makes the pass fused and blocked
(:meth:`~dmf_edu.problems.MatrixSensing.stacked_loss_and_gradient`): for each block of rows of
``A`` small enough to stay in cache, the residuals of that block (row ``k`` of ``r`` needs
only row ``k`` of ``A``) and its contribution to every ``G^(i)``.  Each step thus reads ``A``
once for all runs, instead of twice per run.

:func:`train_together` is the driver: each run is an ordinary
:class:`~dmf_edu.training.Stepper` (``forward() -> W``; ``apply(G)``: backward pass and
update, E1 and E19), and the driver only gathers the ``W``'s, hands back each run's
gradient and stops each run where :func:`~dmf_edu.training.gradient_descent` would.  Benchmark:
``benchmarks/bench_sensing.py``.
"""

from __future__ import annotations

import time

import numpy as np

from .._validate import check_int, check_positive
from .loop import Stepper, StoppingRule
from .run import Run

_BLOCK_BYTES = None     # bytes of A per block of the sensing pass; None: the problem's default (about 1 MB)


def shared_loss_and_gradient(problem, W, counts=None):
    """Loss and gradient of ``problem`` at a stack of end-to-end matrices.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
        One problem shared by every run (no trial axes of its own).
    W : array, shape ``(R, m, n)``
    counts : sequence of ``R`` ints, optional (sensing only)
        Run ``i`` sees only the first ``counts[i]`` measurements (nested measurement sets, as
        in X3: the problem of ``k`` measurements is the first ``k`` of one draw); default all.

    Returns
    -------
    loss : ndarray ``(R,)``; G : ndarray ``(R, m, n)``
        The same numbers as ``problem.loss_and_gradient(W)`` (to float rounding), or with
        ``counts`` as each run's own prefix problem; for sensing computed in one blocked pass
        over the measurements.
    """
    return problem.stacked_loss_and_gradient(W, block_bytes=_BLOCK_BYTES, counts=counts)


def train_together(problem, inits, *, lr, max_steps, optimizer="gd", loss_tol=None, beta=0.99, eps=1e-4,
                   divergence_factor=1e8, record_steps=None, counts=None):
    """Train one factorization per entry of ``inits`` on ``problem``, in lockstep.

    Each step: every running run's :class:`~dmf_edu.training.Stepper` gives its ``W``
    (``forward``), one :func:`shared_loss_and_gradient` call serves them all, and each run
    applies its own gradient (``apply``: E1 backward pass and the plain or E19 update).  Each
    run stops on its own, exactly where :func:`~dmf_edu.training.gradient_descent` would stop it
    (``loss <= loss_tol`` or ``max_steps`` updates), and leaves the stack.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    inits : list of factor lists
        ``inits[i] = [W_1, ..., W_N]``, 2-D factors; depths and widths may differ between runs.
    lr, max_steps, optimizer, loss_tol, beta, eps, divergence_factor
        As for :func:`~dmf_edu.training.gradient_descent`.
    counts : sequence of ints, optional (sensing only)
        ``counts[i]``: run ``i`` trains on the first ``counts[i]`` measurements only, exactly as
        on its own prefix problem (see :func:`shared_loss_and_gradient`).
    record_steps
        Accepted for symmetry with ``gradient_descent(record_steps=[])``; no history is recorded.

    Returns
    -------
    list of Run
        One per init, with the final weights, ``nit``, ``success``, ``status``, ``message`` and
        the E19 state; ``history`` is empty and ``wall_time`` is the whole group's.
    """
    max_steps = check_int(max_steps, "max_steps", minimum=0)
    divergence_factor = check_positive(divergence_factor, "divergence_factor")
    runs = [_Lane(Stepper(w, lr=lr, optimizer=optimizer, beta=beta, eps=eps),
                  StoppingRule(loss_tol, divergence_factor, lr, who=f"run {i}")) for i, w in enumerate(inits)]
    if any(r.stepper.lead for r in runs):
        raise ValueError("train_together runs 2-D factors only: pass one factor list per run, no trial axes")
    for i, r in enumerate(runs):
        w = r.stepper.weights
        if (w[-1].shape[-2], w[0].shape[-1]) != tuple(problem.shape):
            raise ValueError(f"inits[{i}] gives a {w[-1].shape[-2]}x{w[0].shape[-1]} product; the problem is "
                             f"{problem.shape[0]}x{problem.shape[1]}")
    counts = _check_counts(counts, len(runs), problem)
    clock = time.perf_counter()
    while True:
        idx = [i for i, r in enumerate(runs) if not r.done]
        if not idx:
            break
        W = np.stack([runs[i].stepper.forward() for i in idx])
        loss, G = shared_loss_and_gradient(problem, W, None if counts is None else counts[idx])
        active = [runs[i] for i in idx]
        for i, r in enumerate(active):
            reached = r.stopping.check(loss[i], r.steps, make_run=lambda: r.result(clock))
            r.converged = reached is not None and bool(reached)
            r.done = r.converged or r.steps >= max_steps
            if not r.done:
                r.stepper.apply(G[i])
                r.steps += 1
    return [r.result(clock) for r in runs]


def _check_counts(counts, R, problem):
    """``counts`` as an int array of ``R`` counts in ``1..K``, or ``ValueError`` naming it."""
    if counts is None:
        return None
    counts = np.asarray(counts)
    K = problem.n_observations
    if counts.shape != (R,) or counts.dtype.kind not in "iu" or counts.min() < 1 or counts.max() > K:
        raise ValueError(f"counts must be {R} integers in 1..{K} (one measurement count per run), got {counts!r}")
    return counts


class _Lane:
    """One run of :func:`train_together`: its stepper and its stopping bookkeeping."""

    def __init__(self, stepper, stopping):
        self.stepper, self.stopping, self.steps, self.converged, self.done = stepper, stopping, 0, False, False

    def result(self, clock):
        s = self.stepper
        return Run(weights=[w.copy() for w in s.weights], history={}, nit=np.asarray(self.steps),
                   success=np.asarray(self.converged), optimizer=s.optimizer, lr=s.lr,
                   state={"t": s.t, "s": np.asarray(s.s).copy()}, wall_time=time.perf_counter() - clock,
                   status="loss_tol" if self.converged else "max_steps")
