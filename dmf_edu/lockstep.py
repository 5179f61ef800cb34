r"""Several factorizations of one problem trained in lockstep: one pass over the data per step.

A 100x100 sensing step is memory-bound: the residuals ``<A_k, W> - y_k`` and the gradient
``G = c sum_k r_k A_k`` each read the whole ``K x mn`` measurement matrix, while the factor
products cost a few 100x100 matrix products.  Runs that share the measurements (the depths
and init scales of one measurement count in X1/X3) can share that read: stack their
end-to-end matrices ``W^(1..R)`` and compute all residuals and gradients in one pass, so
the ``R`` matrix-vector products become matrix products.

:func:`shared_loss_and_gradient` makes the pass fused and blocked: for each block of rows of
``A`` small enough to stay in cache, the residuals of that block (row ``k`` of ``r`` needs
only row ``k`` of ``A``) and its contribution to every ``G^(i)``.  Each step thus reads ``A``
once for all runs, instead of twice per run.

:func:`train_together` is the driver: each run is an ordinary single-run stepper
(``forward() -> W``; ``apply(loss, G)``: backward pass and update, E1 and E19), and the
driver only gathers the ``W``'s and hands back each run's loss and gradient.  Benchmark:
``benchmarks/bench_sensing.py``.
"""

from __future__ import annotations

import numpy as np

from . import training
from .factorization import backward, prefix_products
from .problems import MatrixSensing

_BLOCK_BYTES = 1 << 20          # rows of A per block: about 1 MB, so a block stays in L2 cache


def shared_loss_and_gradient(problem, W):
    """Loss and gradient of ``problem`` at a stack of end-to-end matrices.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
        One problem shared by every run (no trial axes of its own).
    W : array, shape ``(R, m, n)``

    Returns
    -------
    loss : ndarray ``(R,)``; G : ndarray ``(R, m, n)``
        The same numbers as ``problem.loss_and_gradient(W)`` (to float rounding); for
        sensing computed in one blocked pass over the measurements.
    """
    if not isinstance(problem, MatrixSensing) or problem.y.ndim != 1:
        return problem._loss_and_gradient(W)
    A2, y = problem._A2, problem.y
    K, mn = A2.shape
    R = W.shape[0]
    c_loss, c_grad = problem._factor()
    w = W.reshape(R, mn).astype(A2.dtype, copy=False)
    G = np.zeros((R, mn), A2.dtype)
    part = np.empty_like(G)
    loss = np.zeros(R)
    block = max(1, _BLOCK_BYTES // (mn * A2.itemsize))
    for start in range(0, K, block):
        A_b = A2[start:start + block]                       # (b, mn): read from memory once ...
        r = (w @ A_b.T).astype(np.float64) - y[start:start + block]
        loss += np.einsum("rk,rk->r", r, r)
        np.matmul((c_grad * r).astype(A2.dtype, copy=False), A_b, out=part)   # ... reused from cache
        G += part
    return c_loss * loss, G.astype(np.float64, copy=False).reshape(W.shape)


def train_together(problem, inits, **settings):
    """Train one factorization per entry of ``inits`` on ``problem``, in lockstep.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    inits : list of factor lists
        ``inits[i] = [W_1, ..., W_N]`` (2-D factors; depths may differ between runs).
    **settings
        As for :func:`dmf_edu.training.gradient_descent` (``lr``, ``max_steps``, ``optimizer``,
        ``loss_tol``, ...).  Each run stops on its own (``loss_tol`` or ``max_steps``) and
        leaves the stack; the loop ends when every run has stopped.

    Returns
    -------
    list of Run
        One per init, as :func:`~dmf_edu.training.gradient_descent` would return it.
    """
    steppers = [Stepper(problem, weights, **settings) for weights in inits]
    if any(s.batch_shape for s in steppers):
        raise ValueError("train_together runs 2-D factors only: pass one factor list per run, no trial axes")
    while True:
        active = [s for s in steppers if not s.done]
        if not active:
            break
        W = np.stack([s.forward() for s in active])
        loss, G = shared_loss_and_gradient(problem, W)
        for i, s in enumerate(active):
            s.apply(loss[i], G[i])
    return [s.result() for s in steppers]


class _Stepper:
    """One run, one step at a time: ``forward() -> W``, ``apply(loss, G)`` (E1 backward, then the
    plain or E19 update).  Stand-in until training.py has its own stepping object; the update is
    the one of :func:`~dmf_edu.training.gradient_descent` (2-D factors only; no history)."""

    def __init__(self, problem, weights, *, lr, max_steps, optimizer="gd", loss_tol=None, beta=0.99,
                 eps=1e-4, divergence_factor=1e8, record_steps=None):
        self.ws = [np.array(w, dtype=np.float64) for w in training.check_weights(weights)]
        self.batch_shape = self.ws[0].shape[:-2]
        self.lr, self.max_steps, self.optimizer, self.loss_tol = lr, max_steps, optimizer, loss_tol
        self.beta, self.eps, self.divergence_factor = beta, eps, divergence_factor
        self.t, self.s, self.loss0, self.converged, self.done = 0, 0.0, None, False, False

    def forward(self):
        self.prefixes = prefix_products(self.ws)
        return self.prefixes[-1]

    def apply(self, loss, G):
        loss = float(loss)
        if self.loss0 is None:
            self.loss0 = max(abs(loss), 1.0)
        if not abs(loss) <= self.divergence_factor * self.loss0:
            raise training.DivergenceError(f"gradient descent diverged at step {self.t}: loss {loss:.3e}; "
                                           f"lower lr (now {self.lr:g})", self.result())
        self.converged = self.loss_tol is not None and loss <= self.loss_tol
        self.done = self.converged or self.t >= self.max_steps
        if self.done:
            return
        grads = backward(self.ws, self.prefixes, G)
        eta = self.lr
        if self.optimizer == "adaptive":
            sq = sum(float(np.vdot(g, g)) for g in grads)
            self.s = self.beta * self.s + (1.0 - self.beta) * sq
            eta = self.lr / (np.sqrt(self.s / (1.0 - self.beta ** (self.t + 1))) + self.eps)
        for w, g in zip(self.ws, grads):
            g *= eta
            w -= g
        self.t += 1

    def result(self):
        return training.Run(weights=[w.copy() for w in self.ws], history={}, steps=np.asarray(self.t),
                            converged=np.asarray(self.converged), optimizer=self.optimizer, lr=self.lr,
                            state={"t": self.t, "s": self.s})


Stepper = getattr(training, "Stepper", _Stepper)
