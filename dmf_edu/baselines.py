r"""Norm-minimization baselines: nuclear norm (with a certificate), Schatten-p by IRLS, greedy low rank.

The three baselines that deep matrix factorization is compared with (THEORY.md E9, E12, E13,
E18; experiments X1, X3, X4, X5):

* :func:`nuclear_norm_minimization` — ``min ||X||_*`` subject to ``|A(X) - b| <= eps``
  entry-wise, solved by ADMM with singular value thresholding, and returned with a dual
  feasible point and the duality gap (:func:`nuclear_norm_kkt` re-checks any claimed pair).
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
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from ._validate import as_float_array, check_int, check_matrix_like, check_positive
from .factorization import end_to_end
from .problems import MatrixCompletion, Problem
from .training import gradient_descent

__all__ = ["BaselineResult", "nuclear_norm_minimization", "nuclear_norm_kkt",
           "schatten_minimization", "greedy_low_rank", "GreedyResult"]


# --------------------------------------------------------------------------- measurement map

class _Measurements:
    """The linear map ``A: R^{m x n} -> R^K`` of a problem, its adjoint and one linear solve.

    ``regularized_solve(V, v)`` returns ``argmin_Z ||Z - V||_F^2 + ||A(Z) - v||^2``, i.e.
    ``(I + A^* A)^{-1} (V + A^*(v))``: diagonal for completion; for sensing by the
    Woodbury identity with an eigendecomposition of the ``K x K`` Gram matrix ``A A^*``.
    """

    def __init__(self, problem, name="problem"):
        if not isinstance(problem, Problem):
            raise TypeError(f"{name} must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
        if problem.batch_shape != ():
            raise ValueError(f"{name} has trial axes {problem.batch_shape}; the baselines solve one problem "
                             "at a time: build one problem per set of values")
        self.shape = tuple(problem.shape)
        self.completion = isinstance(problem, MatrixCompletion)
        if self.completion:
            self.rows, self.cols = problem.rows, problem.cols
            self.b = np.asarray(problem.values, dtype=float)
            self.K = self.b.size
        else:
            self.A2 = problem.A.reshape(problem.A.shape[0], -1)   # (K, m n) float64, rows are vec(A_k)
            self.b = np.asarray(problem.y, dtype=float)
            self.K = self.b.size
            self._gram = None

    # A and its adjoint
    def forward(self, X):
        if self.completion:
            return X[self.rows, self.cols]
        return self.A2 @ X.ravel()

    def adjoint(self, lam):
        if self.completion:
            out = np.zeros(self.shape)
            out[self.rows, self.cols] = lam
            return out
        return (lam @ self.A2).reshape(self.shape)

    def gram(self):
        """Eigendecomposition ``(s, Q)`` of ``A A^*`` (sensing only; computed once)."""
        if self._gram is None:
            s, Q = np.linalg.eigh(self.A2 @ self.A2.T)
            self._gram = (np.maximum(s, 0.0), Q)
        return self._gram

    def regularized_solve(self, V, v):
        if self.completion:
            Z = V.copy()
            Z[self.rows, self.cols] = 0.5 * (V[self.rows, self.cols] + v)
            return Z
        s, Q = self.gram()
        rhs = V.ravel() + v @ self.A2                     # V + A^*(v)
        t = Q @ ((Q.T @ (self.A2 @ rhs)) / (1.0 + s))     # (I + A A^*)^{-1} A rhs
        return (rhs - t @ self.A2).reshape(self.shape)

    def check_consistent(self, eps):
        """Raise ``ValueError`` when no ``X`` satisfies ``|A(X) - b| <= eps``."""
        if self.completion:
            return                                       # distinct entries: always feasible
        s, Q = self.gram()
        null = s <= 1e-10 * max(float(s.max(initial=0.0)), 1e-300)
        if not np.any(null):
            return
        Qn = Q[:, null]
        r = Qn @ (Qn.T @ self.b)          # part of y outside the range of A: least-squares residual
        rmax = float(np.max(np.abs(r)))
        # min over feasible v of ||y - v||_inf lies in [||r||_2^2 / ||r||_1, ||r||_inf]
        lower = float(r @ r) / max(float(np.sum(np.abs(r))), 1e-300)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(self.b))))
        if rmax <= eps + tol:
            return
        if lower > eps + tol or eps == 0.0:
            raise ValueError(
                f"the measurements y are inconsistent: the measurement matrices A_k are linearly dependent "
                f"and no X satisfies |<A_k, X> - y_k| <= eps = {eps:g} (the least-squares residual is "
                f"{rmax:.3e} in max norm); raise eps to at least {lower:.3e}, or drop dependent measurements")


def _eps_argument(eps):
    return check_positive(eps, "eps (the constraint tolerance |A(X) - b| <= eps)", allow_zero=True)


# --------------------------------------------------------------------------- results

@dataclass
class BaselineResult:
    r"""Result of :func:`nuclear_norm_minimization` or :func:`schatten_minimization`.

    Attributes
    ----------
    X : ndarray, shape ``(m, n)``
        The solution.
    objective : float
        ``||X||_*`` (nuclear norm), or ``sum_i sigma_i^p`` (Schatten-p to the power p).
    violation : float
        ``max_k max(|A(X)_k - b_k| - eps, 0)``: how far ``X`` is outside the constraints.
    status : str
        ``"optimal"`` only when the stopping rule was met (for the nuclear norm: the relative
        duality gap and relative violation below ``tol``); ``"max_iter"`` otherwise.
    iterations : int
    dual : ndarray, shape ``(K,)`` or None
        Nuclear norm only: a dual-feasible ``lam`` (``||A^*(lam)||_2 <= 1``).
    dual_objective : float or None
        ``b . lam - eps ||lam||_1``, a lower bound on the optimal value.
    gap : float or None
        ``objective - dual_objective``.
    p, eps : the problem solved.
    time : float
        Wall-clock seconds.
    state : dict
        Solver state for warm starts (pass the result as ``warm_start``).
    """

    X: np.ndarray
    objective: float
    violation: float
    status: str
    iterations: int
    p: float = 1.0
    eps: float = 0.0
    dual: np.ndarray | None = None
    dual_objective: float | None = None
    gap: float | None = None
    time: float = 0.0
    history: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict, repr=False)

    @property
    def relative_gap(self):
        """``gap / max(1, |objective|)`` (None without a certificate)."""
        return None if self.gap is None else self.gap / max(1.0, abs(self.objective))


def _violation(meas, X, eps):
    r = meas.forward(X) - meas.b
    return float(np.max(np.maximum(np.abs(r) - eps, 0.0), initial=0.0))


# --------------------------------------------------------------------------- nuclear norm

def _prox_nuclear(V, tau, psd):
    """Prox of ``tau ||.||_*`` (``psd``: of ``tau tr(.)`` plus the indicator of PSD matrices).

    Returns ``(X, norm)`` with ``norm = ||X||_*``.
    """
    if psd:
        lam, Q = np.linalg.eigh(0.5 * (V + V.T))
        lam = np.maximum(lam - tau, 0.0)
        keep = lam > 0
        return (Q[:, keep] * lam[keep]) @ Q[:, keep].T, float(lam.sum())
    U, s, Vt = np.linalg.svd(V, full_matrices=False)
    s = np.maximum(s - tau, 0.0)
    k = int(np.count_nonzero(s))
    return (U[:, :k] * s[:k]) @ Vt[:k], float(s.sum())


def _dual_norm(S, psd):
    """``||S||_2`` (spectral), or ``max(lambda_max(sym S), 0)`` in the PSD variant."""
    if psd:
        return max(float(np.linalg.eigvalsh(0.5 * (S + S.T))[-1]), 0.0)
    return float(np.linalg.norm(S, 2))


def _certificate(meas, lam, eps, psd):
    """Scale ``lam`` into the dual feasible set; return ``(lam, dual objective)``."""
    lam = lam / max(1.0, _dual_norm(meas.adjoint(lam), psd))
    return lam, float(meas.b @ lam - eps * np.sum(np.abs(lam)))


def nuclear_norm_minimization(problem, eps=0.0, *, psd=False, tol=1e-6, max_iter=20000, rho=None,
                              relaxation=1.6, check_every=10, warm_start=None, record=False):
    r"""Minimum nuclear norm matrix fitting the observations up to ``eps`` (E9, E13; X1, X3, X4).

    Solves

    .. math:: \min_X \|X\|_* \quad\text{s.t.}\quad |\mathcal A(X)_k - b_k| \le \varepsilon \;\; (k = 1..K)

    (``eps = 0``: equality constraints; the published baseline used ``eps = 1e-3``), with
    ``psd=True`` additionally ``X`` symmetric positive semidefinite (then ``||X||_* = tr X``:
    the minimum-trace problem of the commuting case, E9).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
        One problem (no trial axes), of shape ``(m, n)``; with ``K`` observations.
    eps : float >= 0
        Entry-wise tolerance on the residuals.
    psd : bool
        Restrict to symmetric PSD ``X`` (square problems).
    tol : float > 0
        Stop when the relative duality gap ``gap / max(1, ||X||_*)`` and the relative violation
        ``violation / max(1, max|b|)`` are both ``<= tol``.
    max_iter : int
        Iteration cap; reaching it gives ``status="max_iter"`` (never ``"optimal"``).
    rho : float > 0, optional
        Initial ADMM penalty (default ``1 / ||A^*(b)||_2``, so the first threshold ``1/rho`` is on
        the scale of the data's top singular value); adapted by residual balancing every
        ``check_every`` iterations.
    relaxation : float in (0, 2)
        Over-relaxation of ADMM (1 = plain ADMM; 1.6 is faster here).
    check_every : int
        Evaluate the certificate (one spectral norm) every this many iterations.
    warm_start : BaselineResult, optional
        A previous result (e.g. for another ``eps`` or nearby data of the same shape): its
        iterates and penalty start this solve.  Dual variables are reused only when the
        number of observations is the same.
    record : bool
        Keep the per-check ``gap``, ``violation`` and ``objective`` in ``result.history``.

    Returns
    -------
    BaselineResult
        ``X`` (m, n), ``objective = ||X||_*``, ``violation``, ``dual`` (K,) with
        ``||A^*(dual)||_2 <= 1``, ``dual_objective``, ``gap`` and ``status``.

    Raises
    ------
    ValueError
        ``eps < 0``, a problem with trial axes, ``psd=True`` on a non-square problem, or
        inconsistent sensing data (no ``X`` satisfies the constraints).

    Notes
    -----
    **Dual and certificate (E13).**  The Lagrange dual is

    .. math:: \max_{\lambda \in \mathbb R^K}\; b^\top\lambda - \varepsilon\|\lambda\|_1
              \quad\text{s.t.}\quad \|\mathcal A^*(\lambda)\|_2 \le 1

    (PSD variant: :math:`\lambda_{\max}(\operatorname{sym}\mathcal A^*(\lambda)) \le 1`).  Any
    feasible ``lam`` bounds the optimum from below, so ``gap = ||X||_* - (b.lam - eps
    ||lam||_1)`` bounds the suboptimality of ``X`` (up to its violation).  KKT conditions at an
    optimum: ``A^*(lam)`` is a subgradient of ``||.||_*`` at ``X`` (``U^T A^*(lam) V = I`` on the
    range of ``X`` and spectral norm ``<= 1``), and ``lam_k r_k = -eps |lam_k|`` with
    ``r = A(X) - b`` (a multiplier is nonzero only on an active constraint, of the sign
    opposite to its residual).  Indeed ``gap = (||X||_* - <A^*(lam), X>) + sum_k (eps |lam_k| +
    lam_k r_k)``, a sum of two nonnegative terms for feasible pairs.

    **Algorithm.**  ADMM on ``min ||X||_* + I_box(w)`` s.t. ``X = Z``, ``w = A(Z)``: the
    ``X``-step is singular value thresholding ``X = U max(S - 1/rho, 0) V^T``, the ``w``-step
    clips ``A(Z) - u`` to ``[b - eps, b + eps]``, the ``Z``-step solves
    ``(I + A^* A) Z = ...`` (diagonal for completion; Woodbury for sensing).  At a fixed point
    the scaled multiplier of ``w = A(Z)`` times ``rho`` is a dual solution ``lam``; it is
    rescaled into the dual feasible set before the gap is computed.  One SVD per iteration.
    """
    meas = _Measurements(problem)
    eps = _eps_argument(eps)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    check_every = check_int(check_every, "check_every", minimum=1)
    relaxation = check_positive(relaxation, "relaxation")
    if not 0.0 < relaxation < 2.0:
        raise ValueError(f"relaxation must be in (0, 2) (1 = plain ADMM), got {relaxation}")
    m, n = meas.shape
    if psd and m != n:
        raise ValueError(f"psd=True needs a square problem, got shape {meas.shape}")
    meas.check_consistent(eps)
    b, K = meas.b, meas.K
    bscale = max(1.0, float(np.max(np.abs(b))))
    clock = time.perf_counter()

    if warm_start is not None:
        if not isinstance(warm_start, BaselineResult) or np.shape(warm_start.X) != meas.shape:
            raise ValueError(f"warm_start must be a BaselineResult of shape {meas.shape}")
        st = warm_start.state
        Z = np.array(st.get("Z", warm_start.X), dtype=float)
        rho = st.get("rho", rho) if rho is None else rho
        same = st.get("K") == K
        U1 = st["U1"].copy() if same else np.zeros(meas.shape)
        U2 = st["U2"].copy() if same else np.zeros(K)
    else:
        Z, U1, U2 = np.zeros(meas.shape), np.zeros(meas.shape), np.zeros(K)
    if rho is None:
        # sigma_1 of the observed data sets the scale of the threshold 1/rho
        rho = 1.0 / max(_dual_norm(meas.adjoint(b), False), 1e-12)
    rho = check_positive(rho, "rho")
    AZ = meas.forward(Z)
    history = {"iteration": [], "objective": [], "gap": [], "violation": []}
    status, best = "max_iter", None
    it = 0
    for it in range(1, max_iter + 1):
        X, normX = _prox_nuclear(Z - U1, 1.0 / rho, psd)
        w = np.clip(AZ - U2, b - eps, b + eps)
        Xh = relaxation * X + (1.0 - relaxation) * Z
        wh = relaxation * w + (1.0 - relaxation) * AZ
        Z_old, AZ_old = Z, AZ
        Z = meas.regularized_solve(Xh + U1, wh + U2)
        AZ = meas.forward(Z)
        U1 += Xh - Z
        U2 += wh - AZ
        if it % check_every and it != max_iter:
            continue
        viol = _violation(meas, X, eps)
        lam, dual_obj = _certificate(meas, rho * U2, eps, psd)
        gap = normX - dual_obj
        if record:
            for k, v in zip(history, (it, normX, gap, viol)):
                history[k].append(v)
        rel_gap = abs(gap) / max(1.0, abs(normX))
        if best is None or max(rel_gap, viol / bscale) <= max(best[0], best[1]):
            best = (rel_gap, viol / bscale, X, normX, viol, lam, dual_obj, gap)
        if rel_gap <= tol and viol / bscale <= tol:
            status = "optimal"
            break
        # residual balancing: keep primal and dual residuals within a factor 10
        r_prim = np.sqrt(np.sum((X - Z) ** 2) + np.sum((w - AZ) ** 2))
        r_dual = rho * np.sqrt(np.sum((Z - Z_old) ** 2) + np.sum((AZ - AZ_old) ** 2))
        if r_prim > 10.0 * r_dual:
            rho *= 2.0
            U1 /= 2.0
            U2 /= 2.0
        elif r_dual > 10.0 * r_prim:
            rho /= 2.0
            U1 *= 2.0
            U2 *= 2.0
    _, _, X, normX, viol, lam, dual_obj, gap = best
    return BaselineResult(X=X, objective=normX, violation=viol, status=status, iterations=it, p=1.0,
                          eps=eps, dual=lam, dual_objective=dual_obj, gap=gap,
                          time=time.perf_counter() - clock,
                          history={k: np.asarray(v) for k, v in history.items()} if record else {},
                          state=dict(Z=Z, U1=U1, U2=U2, rho=rho, K=K))


def nuclear_norm_kkt(problem, X, dual, eps=0.0, psd=False):
    r"""KKT residuals of a claimed primal-dual pair for :func:`nuclear_norm_minimization` (E13).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    X : array, shape ``(m, n)``
    dual : array, shape ``(K,)``
    eps : float >= 0
    psd : bool

    Returns
    -------
    dict of floats, all 0 at an exact optimum:
        ``primal`` — ``max_k (|r_k| - eps)_+ / max(1, max|b|)`` with ``r = A(X) - b``;
        ``dual`` — ``(||A^*(lam)||_2 - 1)_+`` (PSD: ``lambda_max`` of the symmetric part);
        ``gap`` — ``(||X||_* - b.lam + eps ||lam||_1) / max(1, ||X||_*)``;
        ``slackness`` — ``max_k (eps |lam_k| + lam_k r_k) / max(1, ||lam||_inf)`` (multipliers
        only on active constraints, with the sign opposite to the residual's);
        ``subgradient`` — ``||U^T A^*(lam) V - I||_2`` on the numerical range of ``X``.

    Notes
    -----
    The optimality conditions of E13: ``0 in d||X||_* - A^*(lam)`` with ``lam`` in the normal cone
    of the box ``|r| <= eps``.  With a feasible ``X`` and a dual-feasible ``lam``, a zero ``gap``
    alone implies the rest; the other numbers say which condition a wrong pair breaks.
    """
    meas = _Measurements(problem)
    eps = _eps_argument(eps)
    X = check_matrix_like(X, meas.shape)
    lam = as_float_array(dual, "dual", ndim=1)
    if lam.size != meas.K:
        raise ValueError(f"dual has {lam.size} entries but the problem has {meas.K} observations")
    r = meas.forward(X) - meas.b
    S = meas.adjoint(lam)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    normX = float(s.sum())
    k = int(np.count_nonzero(s > 1e-8 * max(float(s[0]), 1e-300)))
    sub = U[:, :k].T @ S @ Vt[:k].T - np.eye(k)
    return dict(
        primal=float(np.max(np.maximum(np.abs(r) - eps, 0.0))) / max(1.0, float(np.max(np.abs(meas.b)))),
        dual=max(_dual_norm(S, psd) - 1.0, 0.0),
        gap=(normX - float(meas.b @ lam) + eps * float(np.sum(np.abs(lam)))) / max(1.0, normX),
        slackness=float(np.max(eps * np.abs(lam) + lam * r)) / max(1.0, float(np.max(np.abs(lam)))),
        subgradient=float(np.linalg.norm(sub, 2)) if k else 0.0,
    )


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
    meas = _Measurements(problem)
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
    meas.check_consistent(0.0)
    m, n = meas.shape
    clock = time.perf_counter()
    X = _weighted_least_norm(meas, np.eye(n)) if X0 is None else check_matrix_like(X0, meas.shape, "X0").copy()
    s1sq = max(float(np.linalg.norm(X, 2)) ** 2, 1e-300)
    gamma = s1sq if gamma0 is None else check_positive(gamma0, "gamma0")
    gamma_floor = gamma_min * s1sq
    status, it = "max_iter", 0
    if p == 2.0 and X0 is None:
        status = "optimal"
    else:
        for it in range(1, max_iter + 1):
            ev, Q = np.linalg.eigh(X.T @ X)
            H = (Q * (np.maximum(ev, 0.0) + gamma) ** (1.0 - p / 2.0)) @ Q.T
            X_new = _weighted_least_norm(meas, H)
            change = np.linalg.norm(X_new - X) / max(np.linalg.norm(X_new), 1e-300)
            X = X_new
            if gamma <= gamma_floor and change <= tol:
                status = "optimal"
                break
            if change <= 0.1 * np.sqrt(gamma / s1sq):       # near the smoothed minimizer: sharpen
                gamma = max(gamma * gamma_decay, gamma_floor)
    s = np.linalg.svd(X, compute_uv=False)
    return BaselineResult(X=X, objective=float(np.sum(s ** p)), violation=_violation(meas, X, 0.0),
                          status=status, iterations=it, p=p, eps=0.0, time=time.perf_counter() - clock)


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
    """

    X: np.ndarray
    weights: list
    rank: int
    losses: np.ndarray
    steps: np.ndarray
    gradient_norms: np.ndarray
    status: str


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
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    if problem.batch_shape != ():
        raise ValueError("greedy_low_rank solves one problem at a time; the problem has trial axes")
    lr = check_positive(lr, "lr")
    init = check_positive(init, "init")
    m, n = problem.shape
    max_rank = min(m, n) if max_rank is None else check_int(max_rank, "max_rank", minimum=1)
    loss_tol = check_positive(loss_tol, "loss_tol", allow_zero=True)
    grad_tol = check_positive(grad_tol, "grad_tol", allow_zero=True)
    stage_steps = check_int(stage_steps, "stage_steps", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)

    def dense_gradient(W):
        G = problem.gradient(W)
        return G.toarray() if hasattr(G, "toarray") else np.asarray(G)

    W1, W2 = np.zeros((0, n)), np.zeros((m, 0))
    W = np.zeros((m, n))
    losses, steps, gnorms = [float(problem.loss(W))], [], []
    status = "max_rank"
    while True:
        U, s, Vt = np.linalg.svd(-dense_gradient(W), full_matrices=False)
        gnorms.append(float(s[0]))
        if s[0] <= grad_tol:
            status = "stationary"
            break
        if losses[-1] <= loss_tol:
            status = "loss_tol"
            break
        if W1.shape[0] >= max_rank:
            break
        weights = [np.vstack([W1, init * Vt[:1]]), np.hstack([W2, init * U[:, :1]])]
        taken, start = 0, losses[-1]
        prev, run = start, None
        while taken < stage_steps:
            todo = min(chunk, stage_steps - taken)
            run = gradient_descent(problem, weights if run is None else None, lr=lr, resume=run,
                                   max_steps=taken + todo, loss_tol=loss_tol, record_steps=())
            taken = int(run.steps)
            loss = float(problem.loss(run.W))
            escaped = start - loss >= 1e-2 * start      # left the saddle where the stage began
            if loss <= loss_tol or bool(run.converged) or (escaped and prev - loss <= stall * prev):
                break
            prev = loss
        W1, W2 = run.weights
        W = end_to_end([W1, W2])
        losses.append(float(problem.loss(W)))
        steps.append(taken)
    return GreedyResult(X=W, weights=[W1, W2], rank=W1.shape[0], losses=np.asarray(losses),
                        steps=np.asarray(steps, dtype=int), gradient_norms=np.asarray(gnorms), status=status)
