r"""Minimum nuclear norm fitting of observations, with a certificate (THEORY.md E9, E13; X1, X3, X4, X9).

:func:`nuclear_norm_minimization` solves ``min ||X||_*`` subject to ``|A(X) - b| <= eps``
entry-wise by Douglas-Rachford splitting (ADMM) with singular value thresholding, sped up by
Anderson acceleration, and returns a dual feasible point with the duality gap;
:func:`nuclear_norm_kkt` re-checks any claimed primal-dual pair.  Both are re-exported by
:mod:`dmf_edu.baselines` and :mod:`dmf_edu`.

``A`` is the problem's measurement map (:mod:`dmf_edu.baselines.measurements`: entries for
completion, ``<A_k, X>`` for sensing) and ``A^*`` its adjoint.  Matrices are ``m x n`` throughout (``problem.shape``); one problem at a
time (no trial axes).  (The module is not called ``nuclear_norm``: that name is the metric
:func:`dmf_edu.nuclear_norm`.)

The solver's state is one vector ``t = (T, tau)`` of length ``m n + K`` (the Douglas-Rachford
point); every iteration costs one SVD (or one eigendecomposition with ``psd=True``), one
application of ``(I + gamma^2 A^* A)^{-1}`` and an Anderson mixing of at most ``anderson``
previous points.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_float_array, check_int, check_matrix_like, check_positive
from .anderson import AndersonMixer
from .measurements import Measurements, check_eps, constraint_violation

__all__ = ["BaselineResult", "nuclear_norm_minimization", "nuclear_norm_kkt"]


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
    success : bool
        ``status == "optimal"``.
    message : str
        The status in one sentence.
    nit : int
        Iterations done (splitting steps for the nuclear norm, IRLS steps for Schatten-p).
    dual : ndarray, shape ``(K,)`` or None
        Nuclear norm only: a dual-feasible ``lam`` (``||A^*(lam)||_2 <= 1``).
    dual_objective : float or None
        ``b . lam - eps ||lam||_1``, a lower bound on the optimal value.
    gap : float or None
        ``objective - dual_objective``.
    p, eps : the problem solved.
    wall_time : float
        Wall-clock seconds.
    state : dict
        Solver state for warm starts (pass the result as ``warm_start``).
    """

    X: np.ndarray
    objective: float
    violation: float
    status: str
    nit: int
    p: float = 1.0
    eps: float = 0.0
    dual: np.ndarray | None = None
    dual_objective: float | None = None
    gap: float | None = None
    wall_time: float = 0.0
    history: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict, repr=False)

    def __repr__(self):
        """One screen: status, objective, violation, gap, iterations, shape (no arrays)."""
        gap = "None" if self.gap is None else f"{self.gap:.3g}"
        return (f"BaselineResult(status={self.status!r}, objective={self.objective:.6g}, "
                f"violation={self.violation:.3g}, gap={gap}, nit={self.nit}, "
                f"p={self.p:g}, eps={self.eps:g}, X={'x'.join(map(str, np.shape(self.X)))}, "
                f"wall_time={self.wall_time:.3g}s)")

    @property
    def success(self):
        """``status == "optimal"``: the stopping rule was met."""
        return self.status == "optimal"

    @property
    def message(self):
        """The status in one sentence."""
        if self.success:
            return (f"Optimal: the stopping rule was met after {self.nit} iterations"
                    + (" (relative duality gap and violation below tol)." if self.gap is not None else "."))
        return f"Stopped at max_iter = {self.nit} iterations before the stopping rule was met; raise max_iter or tol."

    @property
    def relative_gap(self):
        """``gap / max(1, |objective|)`` (None without a certificate)."""
        return None if self.gap is None else self.gap / max(1.0, abs(self.objective))


# --------------------------------------------------------------------------- nuclear norm

def _prox_nuclear(V, tau, psd):
    """Prox of ``tau ||.||_*`` (``psd``: of ``tau tr(.)`` plus the indicator of PSD matrices).

    Returns ``(X, norm)`` with ``norm = ||X||_*``.  Singular value thresholding through the
    eigendecomposition of the small Gram matrix ``B^T B`` (``B = V``, or ``V^T`` when ``V`` is
    wide): with ``B^T B = Q diag(s^2) Q^T``, ``X = B Q_k diag(1 - tau / s_k) Q_k^T`` over the
    ``s_k > tau``.  About twice as fast as an SVD; squaring costs accuracy only in singular
    values below ``sqrt(machine eps) ||V||``, far under any threshold the solver uses.
    """
    if psd:
        lam, Q = np.linalg.eigh(0.5 * (V + V.T))
        lam = np.maximum(lam - tau, 0.0)
        keep = lam > 0
        return (Q[:, keep] * lam[keep]) @ Q[:, keep].T, float(lam.sum())
    wide = V.shape[0] < V.shape[1]
    B = V.T if wide else V
    lam, Q = np.linalg.eigh(B.T @ B)
    s = np.sqrt(np.maximum(lam, 0.0))
    keep = s > tau
    Qk, sk = Q[:, keep], s[keep]
    X = ((B @ Qk) * (1.0 - tau / sk)) @ Qk.T
    return (X.T if wide else X), float(np.sum(sk - tau))


def _dual_norm(S, psd):
    """``||S||_2`` (spectral), or ``max(lambda_max(sym S), 0)`` in the PSD variant."""
    if psd:
        return max(float(np.linalg.eigvalsh(0.5 * (S + S.T))[-1]), 0.0)
    return float(np.linalg.norm(S, 2))


def _certificate(meas, lam, eps, psd):
    """Scale ``lam`` into the dual feasible set; return ``(lam, dual objective)``."""
    lam = lam / max(1.0, _dual_norm(meas.adjoint(lam), psd))
    return lam, float(meas.b @ lam - eps * np.sum(np.abs(lam)))


# --------------------------------------------------------------------------- the splitting (E13)

@dataclass
class _Iterate:
    """One evaluation of the splitting map at a point ``t`` of length ``m n + K``."""

    g: np.ndarray        # (m n + K,) fixed-point residual T(t) - t
    X: np.ndarray        # (m, n) thresholded matrix: the primal candidate
    normX: float         # ||X||_*
    z: np.ndarray        # (m n + K,) projection (Z, gamma A(Z)) of t onto the constraint subspace
    g_norm: float        # ||g||


def _splitting_step(meas, t, rho, gamma, eps, psd, relaxation):
    r"""Evaluate the relaxed Douglas-Rachford map of the E13 problem: ``g(t) = T(t) - t``.

    ``t <- t + g(t)`` is exactly ADMM (E13's algorithm, with over-relaxation) on

    .. math:: \min_{X, w}\; \|X\|_* + I_{\text{box}}(w) \quad\text{s.t.}\quad (X, w) \in S =
              \{(Z, \gamma\mathcal A(Z))\},\qquad \text{box} = \gamma[b - \varepsilon, b + \varepsilon]:

    ``z = P_S(t)`` solves ``(I + gamma^2 A^* A) Z = T + gamma A^*(tau)`` (diagonal for completion,
    Woodbury for sensing); ``x = prox(2 z - t)`` is singular value thresholding
    ``X = U max(Sigma - 1/rho, 0) V^T`` of the ``m x n`` block and a clip of the ``K`` block into
    the box; ``g = relaxation (x - z)``.  The scaled multiplier is ``u = t - z``.  At a fixed point
    ``x = z`` and ``lam = gamma rho u_w`` (the last ``K`` entries of ``u``) satisfies
    ``A^*(lam) in d||X||_*``: an optimal dual of E13 (see :func:`_certify`).  ``gamma`` weighs
    the constraint block against the matrix block; it changes the speed, not the solution.
    """
    m, n = meas.shape
    N = m * n
    T, tau = t[:N].reshape(m, n), t[N:]
    Z = meas.regularized_solve(T, tau, gamma)
    AZ = gamma * meas.forward(Z)
    X, normX = _prox_nuclear(2.0 * Z - T, 1.0 / rho, psd)
    w = np.clip(2.0 * AZ - tau, gamma * (meas.b - eps), gamma * (meas.b + eps))
    z = np.concatenate([Z.ravel(), AZ])
    g = np.concatenate([X.ravel(), w])
    g -= z
    g *= relaxation
    return _Iterate(g, X, normX, z, float(np.sqrt(g @ g)))


def _certify(meas, it, t, rho, gamma, eps, psd, relaxation):
    r"""Dual feasible point, duality gap and violation at the current iterate (E13 certificate).

    The Lagrange dual of E13 is

    .. math:: \max_{\lambda \in \mathbb R^K}\; b^\top\lambda - \varepsilon\|\lambda\|_1
              \quad\text{s.t.}\quad \|\mathcal A^*(\lambda)\|_2 \le 1

    (PSD variant: :math:`\lambda_{\max}(\operatorname{sym}\mathcal A^*(\lambda)) \le 1`).  Any
    feasible ``lam`` bounds the optimum from below, so ``gap = ||X||_* - (b.lam - eps
    ||lam||_1)`` bounds the suboptimality of ``X`` (up to its violation).  KKT conditions at an
    optimum: ``A^*(lam)`` is a subgradient of ``||.||_*`` at ``X`` (``U^T A^*(lam) V = I`` on the
    range of ``X`` and spectral norm ``<= 1``), and ``lam_k r_k = -eps |lam_k|`` with
    ``r = A(X) - b`` (a multiplier is nonzero only on an active constraint, of the sign
    opposite to its residual).  Indeed ``gap = (||X||_* - <A^*(lam), X>) + sum_k (eps |lam_k| +
    lam_k r_k)``, a sum of two nonnegative terms for feasible pairs.  The candidate
    ``gamma rho u_w`` of :func:`_splitting_step` is divided by ``max(1, ||A^*(lam)||_2)`` (one
    spectral norm), so the certificate never depends on the iteration having converged.

    Returns a dict: ``violation``, ``lam`` (K,), ``dual_objective``, ``gap``, ``rel_gap``,
    ``rel_violation``, ``primal_residual`` (``||x - z||``) and the iterate ``it``.
    """
    N = meas.shape[0] * meas.shape[1]
    X, normX = it.X, it.normX
    violation = constraint_violation(meas, X, eps)
    lam, dual_obj = _certificate(meas, gamma * rho * (t[N:] - it.z[N:]), eps, psd)
    gap = normX - dual_obj
    return dict(violation=violation, lam=lam, dual_objective=dual_obj, gap=gap,
                rel_gap=abs(gap) / max(1.0, abs(normX)),
                rel_violation=violation / max(1.0, float(np.max(np.abs(meas.b), initial=0.0))),
                primal_residual=it.g_norm / relaxation, it=it)


def _admm_start(meas, eps, rho, constraint_scale, warm_start):
    """Initial point ``t``, penalty ``rho`` and block weight ``gamma`` (cold or warm start)."""
    K = meas.K
    gamma = constraint_scale / meas.row_norm
    if warm_start is None:
        t = np.zeros(meas.shape[0] * meas.shape[1] + K)
    else:
        if not isinstance(warm_start, BaselineResult) or np.shape(warm_start.X) != meas.shape:
            raise ValueError(f"warm_start must be a BaselineResult of shape {meas.shape}")
        st = warm_start.state
        Z = np.array(st.get("Z", warm_start.X), dtype=float)
        z = np.concatenate([Z.ravel(), gamma * meas.forward(Z)])
        same = st.get("K") == K and st.get("gamma") == gamma and "t" in st and "rho" in st
        t = np.array(st["t"], dtype=float) if same else z     # else keep the matrix, drop the multipliers
    if rho is None:
        # threshold 1/rho a third of the typical entry of X (see the docstring)
        rms = float(np.sqrt(np.mean(meas.b ** 2))) if K else 0.0
        rho = _RHO_FACTOR * meas.row_norm / max(rms, 1e-12)
    rho = check_positive(rho, "rho")
    if warm_start is not None and same:
        t = z + (t - z) * (st["rho"] / rho)     # the same multipliers y = rho u at the new penalty
    return t, rho, gamma


_RHO_FACTOR = 3.0        # default rho = _RHO_FACTOR ||A_k|| / rms(b); see nuclear_norm_minimization
_ADAPT_FIRST = 20        # rho may be rebalanced at iterations 20, 40, 80, ... (Anderson restarts then)
_BALANCE = 20.0          # ... only when the primal and dual residuals differ by more than this factor


def _admm_arguments(problem, eps, psd, tol, max_iter, relaxation, check_every, anderson, constraint_scale,
                    progress):
    """Validate the arguments of :func:`nuclear_norm_minimization`; return the measurement map."""
    meas = Measurements(problem)
    check_eps(eps)
    check_positive(tol, "tol")
    check_int(max_iter, "max_iter", minimum=1)
    check_int(check_every, "check_every", minimum=1)
    check_int(anderson, "anderson (Anderson memory; 0 turns acceleration off)", minimum=0)
    check_positive(constraint_scale, "constraint_scale")
    check_positive(relaxation, "relaxation")
    if not 0.0 < relaxation < 2.0:
        raise ValueError(f"relaxation must be in (0, 2) (1 = plain ADMM), got {relaxation}")
    if not (isinstance(progress, bool) or (isinstance(progress, int) and progress >= 1)):
        raise ValueError(f"progress must be True/False or a positive number of iterations, got {progress!r}")
    if psd and meas.shape[0] != meas.shape[1]:
        raise ValueError(f"psd=True needs a square problem, got shape {meas.shape}")
    meas.check_consistent(float(eps))
    return meas


def _rebalance(r_primal, r_dual):
    """Factor for ``rho`` that balances the primal and dual residuals (1 when within ``_BALANCE``)."""
    if not (np.isfinite(r_dual) and r_dual > 0 and r_primal > 0):
        return 1.0
    ratio = r_primal / r_dual
    if 1.0 / _BALANCE <= ratio <= _BALANCE:
        return 1.0
    return float(np.clip(np.sqrt(ratio), 0.1, 10.0))


def _progress_line(it, cert, r_dual, rho, stream=None):
    print(f"  [nuclear norm] iteration {it:6d}  primal residual {cert['primal_residual']:.2e}  "
          f"dual residual {r_dual:.2e}  gap {cert['rel_gap']:.2e}  violation {cert['rel_violation']:.2e}  "
          f"rho {rho:.3g}", file=sys.stderr if stream is None else stream, flush=True)


class _Checks:
    """What the loop keeps from its checks: the best certificate (by ``max(relative gap, relative
    violation)``), the status, the optional history and the progress lines."""

    def __init__(self, record, progress):
        self.history = {"iteration": [], "objective": [], "gap": [], "violation": []} if record else None
        self.best, self.status = None, "max_iter"
        self.report = 100 if progress is True else int(progress)

    def add(self, it, cur, cert, r_dual, rho, tol, last, check_every):
        """Record one check; return True when the loop must stop (``tol`` met, or ``last``)."""
        if self.history is not None:
            for k, v in zip(self.history, (it, cur.normX, cert["gap"], cert["violation"])):
                self.history[k].append(v)
        score = max(cert["rel_gap"], cert["rel_violation"])
        if self.best is None or score <= self.best[0]:
            self.best = (score, cert)
        done = score <= tol or last
        if self.report and (done or it % self.report < check_every):
            _progress_line(it, cert, r_dual, rho)
        if score <= tol:
            self.status = "optimal"
        return done

    def arrays(self):
        return {} if self.history is None else {k: np.asarray(v) for k, v in self.history.items()}


def _admm_iterations(meas, t, rho, gamma, eps, psd, relaxation, *, tol, max_iter, check_every, anderson, checks):
    """The E13 loop: splitting steps mixed by Anderson acceleration, with a safeguard (an accelerated
    point whose fixed-point residual exceeds the previous one is replaced by the plain step), a
    certificate every ``check_every`` iterations and rebalancing of ``rho`` at iterations 20, 40,
    80, ...  Returns ``(checks, t, last iterate, rho, iterations)``."""
    def step(point, rho):
        return _splitting_step(meas, point, rho, gamma, eps, psd, relaxation)

    accel = AndersonMixer(t.size, anderson)
    cur, it, z_prev = step(t, rho), 1, None
    next_check, next_adapt = check_every, _ADAPT_FIRST
    while True:
        if it >= next_check or it >= max_iter:
            next_check = (it // check_every + 1) * check_every
            cert = _certify(meas, cur, t, rho, gamma, eps, psd, relaxation)
            r_dual = float("nan") if z_prev is None else rho * float(np.linalg.norm(cur.z - z_prev))
            if checks.add(it, cur, cert, r_dual, rho, tol, it >= max_iter, check_every):
                return checks, t, cur, rho, it
            if it >= next_adapt:
                next_adapt *= 2
                factor = _rebalance(cert["primal_residual"], r_dual)
                if factor != 1.0:
                    rho *= factor
                    t = cur.z + (t - cur.z) / factor         # same point x, multiplier u = y / rho rescaled
                    accel.reset()
                    cur, it = step(t, rho), it + 1
                    continue
        t_next, accelerated = accel.propose(t, cur.g)
        nxt, it = step(t_next, rho), it + 1
        if accelerated and nxt.g_norm > cur.g_norm and it < max_iter:     # safeguard: plain step instead
            accel.reset()
            t_next = t + cur.g
            nxt, it = step(t_next, rho), it + 1
        t, cur, z_prev = t_next, nxt, cur.z


def nuclear_norm_minimization(problem, eps=0.0, *, psd=False, tol=1e-6, max_iter=20000, rho=None,
                              relaxation=1.0, check_every=10, warm_start=None, record=False, anderson=20,
                              constraint_scale=3.0, progress=False):
    r"""Minimum nuclear norm matrix fitting the observations up to ``eps`` (E9, E13; X1, X3, X4, X9).

    Solves :math:`\min_X \|X\|_*` s.t. :math:`|\mathcal A(X)_k - b_k| \le \varepsilon` for all ``k``
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
        Cap on iterations (evaluations of the splitting map, one SVD each); reaching it gives
        ``status="max_iter"`` (never ``"optimal"``).
    rho : float > 0, optional
        Initial ADMM penalty.  Default ``3 r / rms(b)`` with ``r`` the rms norm ``||A_k||_F`` (1
        for completion): the threshold ``1/rho`` is a third of the typical entry of ``X`` (a
        compromise measured on the 60 x 60 rank-3 and X9 completion instances).  Rebalanced
        only when the primal and dual residuals differ by more than 20x, at iterations 20, 40,
        80, ... (each change restarts the Anderson memory).
    relaxation : float in (0, 2)
        Relaxation of the Douglas-Rachford step (1 = plain ADMM).
    check_every : int
        Evaluate the certificate (one spectral norm) every this many iterations.
    warm_start : BaselineResult, optional
        A previous result (e.g. for another ``eps`` or nearby data of the same shape): its
        matrix and multipliers start this solve (at this call's ``rho``).  Multipliers are
        reused only when the number of observations is the same.
    record : bool
        Keep the per-check ``gap``, ``violation`` and ``objective`` in ``result.history``.
    anderson : int >= 0
        Anderson acceleration memory (0: plain over-relaxed ADMM).
    constraint_scale : float > 0
        Weight ``gamma`` of the constraint block against the matrix block (divided by the rms
        norm of the measurement matrices); changes the speed, not the solution.
    progress : bool or int
        Print to stderr every 100 (or this many) iterations and at the end: primal residual
        ``||x - z||``, dual residual ``rho ||z - z_prev||``, relative gap and violation.

    Returns
    -------
    BaselineResult
        ``X`` (m, n), ``objective = ||X||_*``, ``violation``, ``dual`` (K,) with
        ``||A^*(dual)||_2 <= 1``, ``dual_objective``, ``gap`` and ``status``; the iterate with
        the best ``max(relative gap, relative violation)`` seen at a check.

    Raises ``ValueError`` for ``eps < 0``, trial axes, ``psd=True`` on a non-square problem, or
    inconsistent sensing data (no ``X`` satisfies the constraints).

    Notes
    -----
    The loop is :func:`_admm_iterations`: :func:`_splitting_step` (ADMM as Douglas-Rachford
    splitting, E13) mixed by :class:`~dmf_edu.baselines.anderson.AndersonMixer`, certified by
    :func:`_certify` (the E13 dual) from the iterate alone, so ``status="optimal"`` is never
    claimed outside ``tol``.
    """
    meas = _admm_arguments(problem, eps, psd, tol, max_iter, relaxation, check_every, anderson,
                           constraint_scale, progress)
    eps, clock = float(eps), time.perf_counter()
    t, rho, gamma = _admm_start(meas, eps, rho, constraint_scale, warm_start)
    checks, t, cur, rho, it = _admm_iterations(meas, t, rho, gamma, eps, psd, relaxation, tol=tol, max_iter=max_iter,
                                               check_every=check_every, anderson=anderson,
                                               checks=_Checks(record, progress))
    cert = checks.best[1]
    m, n = meas.shape
    return BaselineResult(X=cert["it"].X, objective=cert["it"].normX, violation=cert["violation"],
                          status=checks.status, nit=it, p=1.0, eps=eps, dual=cert["lam"],
                          dual_objective=cert["dual_objective"], gap=cert["gap"], wall_time=time.perf_counter() - clock,
                          history=checks.arrays(), state=dict(t=t, Z=cur.z[:m * n].reshape(m, n), rho=rho, K=meas.K,
                                                              gamma=gamma))


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
    meas = Measurements(problem)
    eps = check_eps(eps)
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
