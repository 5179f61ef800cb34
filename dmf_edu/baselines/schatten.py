r"""Norm-minimization baselines: nuclear norm (with a certificate), Schatten-p by IRLS, greedy low rank.

The three baselines that deep matrix factorization is compared with (THEORY.md E9, E12, E13,
E18; experiments X1, X3, X4, X5):

* :func:`nuclear_norm_minimization` — ``min ||X||_*`` subject to ``|A(X) - b| <= eps``
  entry-wise, solved by Anderson-accelerated ADMM with singular value thresholding, and returned
  with a dual feasible point and the duality gap (:func:`nuclear_norm_kkt` re-checks any claimed
  pair).  Both live in :mod:`dmf_edu.baselines.nuclear_norm` and are re-exported here.
* :func:`schatten_minimization` — ``min sum_i sigma_i(X)^p`` subject to ``A(X) = b``,
  ``0 < p <= 2``, by iteratively reweighted least squares (a local method for ``p < 1``).
* :func:`greedy_low_rank` — greedy low-rank learning (GLRL, E18) with a depth-2
  factorization, trained stage by stage with :func:`dmf_edu.gradient_descent`.

``A`` is the problem's measurement map: for a :class:`~dmf_edu.MatrixCompletion`,
``A(X)_k = X[rows[k], cols[k]]`` and ``b = values``; for a :class:`~dmf_edu.MatrixSensing`,
``A(X)_k = <A_k, X>`` and ``b = y``.  Its adjoint is ``A^*(lam) = sum_k lam_k A_k`` (an
``m x n`` matrix).  Matrices are ``m x n`` throughout (``problem.shape``); one problem at a
time (no trial axes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .._validate import check_int, check_matrix_like, check_positive
from ..factorization import end_to_end
from .measurements import Measurements, constraint_violation
from .nuclear_norm import BaselineResult
from ..problems import MatrixCompletion, Problem
from ..training.loop import gradient_descent

__all__ = ["schatten_minimization", "greedy_low_rank", "GreedyResult", "x5_problem", "schatten_profile"]


# --------------------------------------------------------------------------- Schatten-p by IRLS

def _weighted_least_norm(meas, H):
    r"""``argmin tr(X H^{-1} X^T)`` s.t. ``A(X) = b``: ``X = A^*(mu) H`` with ``A(A^*(mu) H) = b``.

    ``H`` (n, n) symmetric positive definite.  Completion: one small system per row (the
    observed columns of that row); sensing: one ``K x K`` system.
    """
    m, n = meas.shape
    if meas.completion:
        X = np.zeros(meas.shape)
        order = np.argsort(meas.rows, kind="stable")
        rows, cols, b = meas.rows[order], meas.cols[order], meas.b[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        for s, e in zip(starts, np.r_[starts[1:], rows.size]):
            J = cols[s:e]
            mu = _spd_solve(H[np.ix_(J, J)], b[s:e])
            X[rows[s]] = mu @ H[J]
        return X
    A3 = meas.A2.reshape(meas.K, m, n)
    AH = A3 @ H                                           # A_k H, (K, m, n)
    L = AH.reshape(meas.K, -1) @ meas.A2.T                # L_kl = <A_k H, A_l>
    mu = _spd_solve(L, meas.b)
    return np.tensordot(mu, AH, axes=1)


def _spd_solve(L, b):
    try:
        return sla.cho_solve(sla.cho_factor(L), b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(L, b, rcond=None)[0]


def schatten_minimization(problem, p, *, tol=1e-6, max_iter=3000, gamma0=None, gamma_min=1e-12,
                          gamma_decay=0.5, X0=None):
    r"""Schatten-p (quasi-)norm minimization by iteratively reweighted least squares (E13).

    Finds a (local, for ``p < 1``) minimizer of

    .. math:: \|X\|_{S_p}^p = \sum_i \sigma_i(X)^p \quad\text{s.t.}\quad \mathcal A(X) = b.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
        One problem, shape ``(m, n)``.
    p : float, 0 < p <= 2
        ``p = 1``: nuclear norm (convex; agrees with :func:`nuclear_norm_minimization` at
        ``eps = 0``); ``p = 2``: Frobenius (the least-norm solution, one step); ``p < 1``:
        nonconvex quasi-norm, the result depends on the start.
    tol : float > 0
        Stop when the smoothing ``gamma`` has reached ``gamma_min * sigma_1(X_0)^2`` and the
        relative change ``||X_k - X_{k-1}||_F / ||X_k||_F <= tol``.
    max_iter : int
        Cap; reaching it gives ``status="max_iter"``.
    gamma0 : float, optional
        Initial smoothing (default ``sigma_1(X_0)^2``).
    gamma_min : float
        Final smoothing, relative to ``sigma_1(X_0)^2``.
    gamma_decay : float in (0, 1)
        ``gamma <- max(gamma_decay * gamma, gamma_min sigma_1(X_0)^2)`` whenever a step changes
        ``X`` by less than ``0.1 sqrt(gamma) / sigma_1(X_0)`` (relative): the smoothing is
        sharpened only once the iterates have settled for the current ``gamma``.  (Decreasing it
        at every step freezes small singular values too early: 8 % off the nuclear-norm
        solution at ``p = 1`` on a 20 x 15 test, against 0.1 % with this rule.)
    X0 : array ``(m, n)``, optional
        Start (default: the least Frobenius norm solution).  Only its weights are used.

    Returns
    -------
    BaselineResult
        ``X`` (m, n), ``objective = sum_i sigma_i^p``, ``violation = max |A(X) - b|``,
        ``status``; no dual certificate (``dual = gap = None``).

    Notes
    -----
    **IRLS-p (E13).**  With the smoothing ``F_gamma(X) = tr((X^T X + gamma I)^{p/2})`` and
    ``p <= 2``, concavity of ``t -> t^{p/2}`` gives the majorizer
    ``tr(X H_k^{-1} X^T)`` with ``H_k = (X_k^T X_k + gamma I)^{1 - p/2}`` (n, n); its constrained
    minimizer is ``X_{k+1} = A^*(mu) H_k`` with ``A(A^*(mu) H_k) = b``.  For fixed ``gamma``
    each step does not increase ``F_gamma``; ``gamma`` is decreased geometrically to
    ``gamma_min`` (see ``gamma_decay``).  Convergence is slow (sublinear) near solutions with
    many small singular values: at ``p = 1`` expect agreement with the exact nuclear-norm
    solver to about ``1e-3`` relative, not to solver precision.  For ``p < 1`` this is a local
    method: it converges to a stationary point of the smoothed problem near its start, not
    necessarily the global minimizer.
    """
    meas = Measurements(problem)
    p, tol, max_iter, gamma_min, gamma_decay = _check_schatten(p, tol, max_iter, gamma_min, gamma_decay)
    meas.check_consistent(0.0)
    m, n = meas.shape
    clock = time.perf_counter()
    X = _weighted_least_norm(meas, np.eye(n)) if X0 is None else check_matrix_like(X0, meas.shape, "X0").copy()
    s1sq = max(float(np.linalg.norm(X, 2)) ** 2, 1e-300)
    gamma = s1sq if gamma0 is None else check_positive(gamma0, "gamma0")
    status, it = "max_iter", 0
    if p == 2.0 and X0 is None:
        status = "optimal"
    else:
        X, status, it = _irls(meas, X, p, gamma, gamma_min * s1sq, s1sq, tol, gamma_decay, max_iter)
    s = np.linalg.svd(X, compute_uv=False)
    return BaselineResult(X=X, objective=float(np.sum(s ** p)), violation=constraint_violation(meas, X, 0.0),
                          status=status, nit=it, p=p, eps=0.0, wall_time=time.perf_counter() - clock)


def _check_schatten(p, tol, max_iter, gamma_min, gamma_decay):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"p must be a real number in (0, 2], got {p!r}")
    p = float(p)
    if not (0.0 < p <= 2.0):
        raise ValueError(f"p must satisfy 0 < p <= 2 (Schatten-p quasi-norm for p < 1, nuclear norm at 1, "
                         f"Frobenius at 2), got p = {p}")
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    gamma_min = check_positive(gamma_min, "gamma_min")
    gamma_decay = check_positive(gamma_decay, "gamma_decay")
    if not 0.0 < gamma_decay < 1.0:
        raise ValueError(f"gamma_decay must be in (0, 1), got {gamma_decay}")
    return p, tol, max_iter, gamma_min, gamma_decay


def _irls(meas, X, p, gamma, gamma_floor, s1sq, tol, gamma_decay, max_iter):
    """IRLS-p (E13) from ``X``: ``(X, status, iterations)``.  ``gamma`` is multiplied by
    ``gamma_decay`` (down to ``gamma_floor``) once a step changes ``X`` by less than
    ``0.1 sqrt(gamma / s1sq)``; optimal at the floor with a relative change ``<= tol``."""
    status, it = "max_iter", 0
    for it in range(1, max_iter + 1):
        X_new = _irls_step(meas, X, p, gamma)
        change = np.linalg.norm(X_new - X) / max(np.linalg.norm(X_new), 1e-300)
        X = X_new
        if gamma <= gamma_floor and change <= tol:
            status = "optimal"
            break
        if change <= 0.1 * np.sqrt(gamma / s1sq):       # near the smoothed minimizer: sharpen
            gamma = max(gamma * gamma_decay, gamma_floor)
    return X, status, it


def _irls_step(meas, X, p, gamma):
    """One IRLS-p step (E13): ``H_k = (X_k^T X_k + gamma I)^{1 - p/2}`` (n, n), then the
    minimizer ``X_{k+1} = A^*(mu) H_k`` of the majorizer ``tr(X H_k^{-1} X^T)`` s.t. ``A(X) = b``."""
    ev, Q = np.linalg.eigh(X.T @ X)
    H = (Q * (np.maximum(ev, 0.0) + gamma) ** (1.0 - p / 2.0)) @ Q.T
    return _weighted_least_norm(meas, H)


# --------------------------------------------------------------------------- greedy low rank (E18)

@dataclass
class GreedyResult:
    r"""Result of :func:`greedy_low_rank`.

    Attributes
    ----------
    X : ndarray, shape ``(m, n)``
        Final end-to-end matrix ``W_2 W_1``.
    weights : list
        ``[W_1, W_2]`` with shapes ``(r, n)`` and ``(m, r)``, ``r`` the final rank.
    rank : int
    losses : ndarray, shape ``(r + 1,)``
        Loss before the first stage and at the end of each stage.
    steps : ndarray of int, shape ``(r,)``
        Gradient steps taken in each stage.
    gradient_norms : ndarray, shape ``(r + 1,)``
        ``||grad ell(W)||_2`` (spectral) at the start and after each stage: the stopping test.
    status : str
        ``"stationary"`` (``||grad ell||_2 <= grad_tol``), ``"loss_tol"`` or ``"max_rank"``.
    success : bool
        ``status`` is ``"stationary"`` or ``"loss_tol"`` (not stopped by ``max_rank``).
    message : str
        The status in one sentence.
    nit : int
        Gradient steps over all stages (``sum(steps)``).
    wall_time : float
        Wall-clock seconds.
    """

    X: np.ndarray
    weights: list
    rank: int
    losses: np.ndarray
    steps: np.ndarray
    gradient_norms: np.ndarray
    status: str
    wall_time: float = 0.0

    def __repr__(self):
        """One screen: status, rank, final loss, steps, shapes (no arrays)."""
        loss = f"{float(self.losses[-1]):.4g}" if np.size(self.losses) else "none"
        shapes = ", ".join("x".join(map(str, np.shape(w))) for w in self.weights)
        return (f"GreedyResult(status={self.status!r}, rank={self.rank}, final_loss={loss}, "
                f"nit={self.nit}, X={'x'.join(map(str, np.shape(self.X)))}, "
                f"weights=[{shapes}], wall_time={self.wall_time:.3g}s)")

    @property
    def success(self):
        """Whether GLRL stopped by its own test (stationary or ``loss_tol``), not at ``max_rank``."""
        return self.status in ("stationary", "loss_tol")

    @property
    def nit(self):
        """Gradient steps over all stages."""
        return int(np.sum(self.steps))

    @property
    def message(self):
        """The status in one sentence."""
        return {"stationary": f"Stationary at rank {self.rank}: no rank-one direction decreases the loss "
                              "(||grad ell||_2 <= grad_tol).",
                "loss_tol": f"The loss reached loss_tol at rank {self.rank}.",
                "max_rank": f"Stopped at max_rank = {self.rank} before the loss reached loss_tol or a "
                            "stationary point; raise max_rank."}.get(self.status, f"Stopped ({self.status}).")


def greedy_low_rank(problem, *, lr, init=1e-3, max_rank=None, loss_tol=1e-10, grad_tol=1e-6,
                    stage_steps=20000, chunk=500, stall=1e-6):
    r"""Greedy low-rank learning (GLRL, E18) with a depth-2 factorization ``W = W_2 W_1``.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
        One problem, shape ``(m, n)``.
    lr : float > 0
        Plain gradient-descent step within a stage (:func:`dmf_edu.gradient_descent`).
    init : float > 0
        ``sqrt(epsilon)`` of E18: the length of each new rank-one direction in each factor,
        so the new end-to-end component is ``init^2 u v^T``.
    max_rank : int, optional
        At most this many stages (default ``min(m, n)``).
    loss_tol : float
        Stop once the loss is at most this.
    grad_tol : float
        Stop when ``sigma_max(-grad ell(W)) <= grad_tol`` (no rank-one direction decreases the loss
        to first order).
    stage_steps : int
        Cap on gradient steps per stage.
    chunk, stall : int, float
        A stage runs in chunks of ``chunk`` steps.  Once the loss has fallen 1 % below its value
        at the start of the stage (the new direction has escaped the saddle), the stage ends when
        a chunk lowers the loss by less than the relative amount ``stall`` (gradient descent has
        converged at this rank).

    Returns
    -------
    GreedyResult

    Notes
    -----
    **E18** (Li, Luo & Lyu, arXiv 2012.09839).  Start at ``W = 0``.  At stage ``r``, let
    ``u, v`` be the top singular vectors of ``-grad ell(W)`` (the rank-one direction of steepest
    descent; for a symmetric PSD problem, the top eigenvector).  Stop if its singular value is
    ``<= grad_tol``; else append ``init * v^T`` as a row of ``W_1`` and ``init * u`` as a column
    of ``W_2`` and run gradient descent (a discretized gradient flow) on the rank-``r``
    factorization to convergence.  For depth 2 its path is the limit of gradient descent from an
    infinitesimal initialization.
    """
    lr, init, max_rank, loss_tol, grad_tol, stage_steps, chunk = _check_greedy(
        problem, lr, init, max_rank, loss_tol, grad_tol, stage_steps, chunk)
    m, n = problem.shape
    clock = time.perf_counter()
    W1, W2 = np.zeros((0, n)), np.zeros((m, 0))
    W = np.zeros((m, n))
    losses, steps, gnorms = [float(problem.loss(W))], [], []
    status = "max_rank"
    while True:
        u, s1, v = _steepest_rank_one(problem, W)
        gnorms.append(float(s1))
        if s1 <= grad_tol:
            status = "stationary"
            break
        if losses[-1] <= loss_tol:
            status = "loss_tol"
            break
        if W1.shape[0] >= max_rank:
            break
        weights = [np.vstack([W1, init * v]), np.hstack([W2, init * u])]
        (W1, W2), taken = _greedy_stage(problem, weights, losses[-1], lr, loss_tol, stage_steps, chunk, stall)
        W = end_to_end([W1, W2])
        losses.append(float(problem.loss(W)))
        steps.append(taken)
    return GreedyResult(X=W, weights=[W1, W2], rank=W1.shape[0], losses=np.asarray(losses),
                        steps=np.asarray(steps, dtype=int), gradient_norms=np.asarray(gnorms), status=status,
                        wall_time=time.perf_counter() - clock)


def _check_greedy(problem, lr, init, max_rank, loss_tol, grad_tol, stage_steps, chunk):
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    if problem.batch_shape != ():
        raise ValueError("greedy_low_rank solves one problem at a time; the problem has trial axes")
    lr = check_positive(lr, "lr")
    init = check_positive(init, "init")
    max_rank = min(problem.shape) if max_rank is None else check_int(max_rank, "max_rank", minimum=1)
    loss_tol = check_positive(loss_tol, "loss_tol", allow_zero=True)
    grad_tol = check_positive(grad_tol, "grad_tol", allow_zero=True)
    stage_steps = check_int(stage_steps, "stage_steps", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)
    return lr, init, max_rank, loss_tol, grad_tol, stage_steps, chunk


def _steepest_rank_one(problem, W):
    """E18's next direction: the top singular triple ``(u (m, 1), sigma_1, v^T (1, n))`` of
    ``-grad ell(W)``, the rank-one direction of steepest descent (``sigma_1``: the stopping test)."""
    G = problem.gradient(W)
    U, s, Vt = np.linalg.svd(-(G.toarray() if hasattr(G, "toarray") else np.asarray(G)), full_matrices=False)
    return U[:, :1], s[0], Vt[:1]


def _greedy_stage(problem, weights, start, lr, loss_tol, stage_steps, chunk, stall):
    """One E18 stage: gradient descent on the rank-``r`` factorization ``weights`` (loss ``start``
    at its beginning) in chunks of ``chunk`` steps, until the loss reaches ``loss_tol``, or it has
    escaped the saddle (1 % below ``start``) and a chunk lowers it by less than ``stall``
    (relative), or ``stage_steps``.  Returns ``([W_1, W_2], steps taken)``."""
    taken, prev, run = 0, start, None
    while taken < stage_steps:
        todo = min(chunk, stage_steps - taken)
        run = gradient_descent(problem, weights if run is None else None, lr=lr, resume=run,
                               max_steps=taken + todo, loss_tol=loss_tol, record_steps=())
        taken = int(run.nit)
        loss = float(problem.loss(run.W))
        escaped = start - loss >= 1e-2 * start      # left the saddle where the stage began
        if loss <= loss_tol or bool(run.success) or (escaped and prev - loss <= stall * prev):
            break
        prev = loss
    return run.weights, taken


# --------------------------------------------------------------------------- the E12 problem (X5)

def x5_problem(epsilon=0.0):
    r"""The 2 x 2 completion of E12: observed ``W_12 = 1``, ``W_21 = 1``, ``W_22 = epsilon``.

    ``epsilon = 0`` is Razin & Cohen's problem (every solution ``[[w, 1], [1, 0]]`` has
    ``det = -1``); ``epsilon != 0`` is the perturbed variant, whose rank-one completion is
    ``w = 1 / epsilon``.
    """
    return MatrixCompletion((2, 2), [0, 1, 1], [1, 0, 1], [1.0, 1.0, float(epsilon)], method="dense")


def schatten_profile(w, p, epsilon=0.0):
    r"""``||[[w, 1], [1, epsilon]]||_{S_p}^p`` for an array of ``w`` (shape kept); ``p = inf``: spectral.

    The completion is symmetric, so its singular values are the absolute eigenvalues
    ``|(w + eps)/2 +- sqrt((w - eps)^2/4 + 1)|``.  With ``epsilon = 0``, ``sigma_1 sigma_2 = 1`` and
    ``sigma_1^2 + sigma_2^2 = w^2 + 2`` (E12), so every profile is even in ``w`` and increasing in
    ``|w|``: the unique minimizer is ``w = 0``.
    """
    w = np.asarray(w, dtype=float)
    mid, rad = (w + epsilon) / 2.0, np.sqrt((w - epsilon) ** 2 / 4.0 + 1.0)
    s = np.stack([np.abs(mid + rad), np.abs(mid - rad)], axis=-1)
    if p == np.inf:
        return s.max(axis=-1)
    return np.sum(s ** p, axis=-1)
