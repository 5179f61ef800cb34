r"""End-to-end dynamics of deep matrix factorization (THEORY.md E2-E11).

Gradient flow on the factors, ``dW_j/dt = -dphi/dW_j`` with ``phi = ell(W_N ... W_1)``,
moves the end-to-end matrix ``W = W_N ... W_1`` (shape ``(m, n)``) by

    dW/dt = -sum_j W_{N:j+1} (dphi/dW_j) W_{j-1:1},

which from a balanced start (E2) is ``-A_{N,W}(grad ell(W))`` (E3).  This module gives

* the operator ``A_{N,W}`` for every depth ``N >= 1`` and ``N = inf`` (E3-E5), in the
  singular basis (:func:`end_to_end_operator`) and as a sum of fractional powers
  (:func:`end_to_end_operator_sum`, for teaching);
* the velocities of the singular values (E6) and singular vectors (E7);
* the factor flow and the end-to-end flow integrated with ``scipy.integrate.solve_ivp``,
  returning a :class:`dmf_edu.training.Run` like :func:`dmf_edu.gradient_descent`;
* closed forms for one mode (E10) and the diagonal GD recursion (E11);
* numerical checks (finite differences of the SVD, the E3 identity) that return numbers.

**Time rescaling.**  ``A_{N,W}`` grows linearly with ``N`` (``A_{N,W}(Z) ~ N`` times a
weighted mean), so flows of different depths are compared in the rescaled time
``tau = N t`` (equivalently GD with step ``eta/N``):  ``dW/dtau = -(1/N) A_{N,W}(G)``, whose
limit ``N -> inf`` is ``dW/dtau = -A_{inf,W}(G)`` (E5).  Every function that accepts
``depth=numpy.inf`` works in that rescaled time; finite depths use the natural time ``t``
unless ``rescaled=True`` is passed.
"""

from __future__ import annotations

import time as _time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import hyp2f1

from ._validate import as_float_array, check_depth, check_int, check_positive, check_weights
from .factorization import backward, layer_gradients, prefix_products
from .linalg import depth_multiplier, multiplier_matrix, psd_power, resolve_depth
from .problems import Problem
from .training import DivergenceError, Run, _Recorder

__all__ = [
    "end_to_end_operator", "end_to_end_operator_sum", "end_to_end_operator_inverse", "induced_velocity",
    "singular_value_velocity", "singular_vector_velocity", "svd_velocity_fd",
    "check_end_to_end_dynamics", "check_svd_velocities",
    "gradient_flow", "end_to_end_flow",
    "scalar_velocity", "time_to_reach", "scalar_trajectory", "escape_time",
    "escape_time_asymptotic", "diagonal_recursion",
]


# --------------------------------------------------------------------------- helpers

def _pair(W, Z, zname):
    """Validate ``W`` ``(..., m, n)`` and a same-shape ``Z`` whose leading axes broadcast."""
    W = as_float_array(W, "W", min_ndim=2)
    Z = as_float_array(Z, zname, min_ndim=2)
    if Z.shape[-2:] != W.shape[-2:]:
        raise ValueError(
            f"{zname} has shape {Z.shape} but W has shape {W.shape}: {zname} must be an "
            f"(..., {W.shape[-2]}, {W.shape[-1]}) matrix like W (e.g. the loss gradient at W)"
        )
    try:
        np.broadcast_shapes(W.shape[:-2], Z.shape[:-2])
    except ValueError:
        raise ValueError(f"the leading (trial) axes of W {W.shape[:-2]} and {zname} "
                         f"{Z.shape[:-2]} do not broadcast") from None
    return W, Z


def _T(A):
    return np.swapaxes(A, -1, -2)


def _pad(s, size):
    """Singular values ``(..., k)`` padded with zeros to ``(..., size)``."""
    out = np.zeros(s.shape[:-1] + (size,))
    out[..., :s.shape[-1]] = s
    return out


def _svd(W, full_matrices=False):
    """SVD ``U, s, Vt`` with singular values at rounding level set to exactly zero.

    A computed singular value carries an absolute error of about ``eps * sigma_max``, so
    values below ``max(m, n) * eps * sigma_max`` are indistinguishable from 0; keeping them
    would turn noise ``1e-16`` into ``(1e-16)^{2/N}`` in every fractional power (E4).
    """
    U, s, Vt = np.linalg.svd(W, full_matrices=full_matrices)
    floor = max(W.shape[-2:]) * np.finfo(float).eps * s[..., :1]
    return U, np.where(s > floor, s, 0.0), Vt


def _thin_svd(W):
    U, s, Vt = _svd(W)
    return U, s, _T(Vt)


# --------------------------------------------------------------------------- E3-E5 operator

def end_to_end_operator(W, Z, depth):
    r"""The end-to-end operator ``A_{N,W}(Z)`` of E3, evaluated in the singular basis (E4, E5).

    Parameters
    ----------
    W : array, shape ``(..., m, n)``
        End-to-end matrix (square or rectangular; leading axes are trials).
    Z : array, shape ``(..., m, n)``
        Matrix to map, usually the loss gradient ``G`` at ``W``; leading axes broadcast with W's.
    depth : int >= 1 or numpy.inf
        ``N``.  ``numpy.inf`` returns the infinite-depth operator of the rescaled time
        ``tau = N t``, i.e. ``lim (1/N) A_{N,W}`` (E5).

    Returns
    -------
    ndarray, shape ``broadcast(...) + (m, n)``

    Notes
    -----
    **E3**: :math:`A_{N,W}(Z) = \sum_{j=1}^{N} (WW^\top)^{(N-j)/N} Z (W^\top W)^{(j-1)/N}`.
    **E4**: with the full SVD ``W = U Sigma V^T`` (``sigma`` padded with zeros to ``m`` rows and
    ``n`` columns), ``U^T A_{N,W}(Z) V = a_N \odot (U^T Z V)``, ``a_N[i, j] = a_N(sigma_i, sigma_j)``
    from :func:`dmf_edu.linalg.depth_multiplier` (stable when singular values coincide or
    vanish; singular values below ``max(m, n) * eps * sigma_max`` count as exact zeros).
    **E5**: :math:`A_{\infty,W}(Z) = \int_0^1 (WW^\top)^{1-s} Z (W^\top W)^s\,ds`, with
    multipliers the logarithmic mean ``L(sigma_i^2, sigma_j^2)``.  One full SVD of ``W``.
    """
    N = resolve_depth(depth)
    W, Z = _pair(W, Z, "Z")
    m, n = W.shape[-2:]
    U, s, Vt = _svd(W, full_matrices=True)
    a = multiplier_matrix(_pad(s, m), _pad(s, n), N)
    return U @ (a * (_T(U) @ Z @ _T(Vt))) @ Vt


def end_to_end_operator_sum(W, Z, depth, n_nodes=64):
    r"""``A_{N,W}(Z)`` written as the sum of fractional powers of E3 (teaching form).

    Parameters
    ----------
    W, Z : arrays, shape ``(..., m, n)``
    depth : int >= 1 or numpy.inf
        For ``numpy.inf`` the integral of E5 is evaluated by Gauss-Legendre quadrature.
    n_nodes : int
        Quadrature nodes for ``depth=inf`` (exact to rounding for well-conditioned ``W``;
        small singular values make ``sigma^{2s}`` steep and need more nodes).

    Returns
    -------
    ndarray, shape ``broadcast(...) + (m, n)``

    Notes
    -----
    **E3**: :math:`\sum_{j=1}^{N} (WW^\top)^{(N-j)/N}\, Z\, (W^\top W)^{(j-1)/N}`, each power from
    an eigendecomposition (:func:`dmf_edu.linalg.psd_power`, ``0^0 = 1``).  **E5**:
    :math:`\int_0^1 (WW^\top)^{1-s} Z (W^\top W)^{s} ds \approx \sum_i w_i (WW^\top)^{1-s_i} Z
    (W^\top W)^{s_i}`.  Costs ``2N`` eigendecompositions (``2 n_nodes`` at infinite depth);
    :func:`end_to_end_operator` is the fast, more accurate evaluation and the two agree.
    """
    N = resolve_depth(depth)
    W, Z = _pair(W, Z, "Z")
    left, right = W @ _T(W), _T(W) @ W                      # W W^T (m x m), W^T W (n x n)
    if N == np.inf:
        nodes = check_int(n_nodes, "n_nodes", minimum=1)
        x, w = np.polynomial.legendre.leggauss(nodes)
        s, w = (x + 1.0) / 2.0, w / 2.0                      # nodes and weights on [0, 1]
        return sum(wi * psd_power(left, 1.0 - si) @ Z @ psd_power(right, si) for si, wi in zip(s, w))
    return sum(psd_power(left, (N - j) / N) @ Z @ psd_power(right, (j - 1) / N) for j in range(1, N + 1))


def end_to_end_operator_inverse(W, Z, depth):
    r"""The inverse ``A_{N,W}^{-1}(Z)`` of the end-to-end operator (E5), in the singular basis.

    Parameters
    ----------
    W : array, shape ``(..., m, n)``
        End-to-end matrix of full rank ``min(m, n)``; square or rectangular for finite depth,
        square for ``depth=inf``.  ``depth=1`` (``A_1`` is the identity) accepts any ``W``.
    Z : array, shape ``(..., m, n)``
        Matrix to map (e.g. a velocity ``dW/dt``); leading axes broadcast with W's.
    depth : int >= 1 or numpy.inf
        ``N``.  ``numpy.inf`` inverts the infinite-depth operator ``A_{inf,W} = lim (1/N) A_{N,W}``
        of the rescaled time ``tau = N t``, as :func:`end_to_end_operator` does.

    Returns
    -------
    ndarray, shape ``broadcast(...) + (m, n)``
        ``Y`` with ``end_to_end_operator(W, Y, depth) = Z``.

    Raises
    ------
    ValueError
        If ``W`` is rank deficient (for ``N >= 2`` the multiplier ``a_N(0, 0)`` is 0), or
        rectangular at ``depth=inf`` (``L(sigma^2, 0) = 0``: ``A_{inf,W}`` cannot leave the row
        and column spaces of ``W``); bad shapes or depth as in :func:`end_to_end_operator`.

    Notes
    -----
    **E5 (inverse)**: with the full SVD ``W = U Sigma V^T`` (``sigma`` padded with zeros),
    :math:`U^\top A_{N,W}^{-1}(Z) V = (U^\top Z V) / a_N` entry by entry, ``a_N[i, j] =
    a_N(sigma_i, sigma_j)`` (E4; ``L(sigma_i^2, sigma_j^2)`` for ``N = inf``), so that

    .. math:: A_{\infty,W}^{-1}(Z) = \int_0^\infty (s + WW^\top)^{-1} Z (s + W^\top W)^{-1} ds,
              \qquad A_{N,W}^{-1}(Z) = \frac{\sin(\pi/N)}{\pi} \int_0^\infty s^{1/N}
              (s + WW^\top)^{-1} Z (s + W^\top W)^{-1} ds \;(N \ge 2),

    since ``1/a_N(x, y) = (x^{2/N} - y^{2/N})/(x^2 - y^2)`` and ``1/L = (ln x^2 - ln y^2)/(x^2 - y^2)``.
    Singular values below ``max(m, n) * eps * sigma_max`` count as zero, as in
    :func:`end_to_end_operator`; a nearly rank-deficient ``W`` gives a large, ill-conditioned
    result.  One full SVD of ``W``.
    """
    N = resolve_depth(depth)
    W, Z = _pair(W, Z, "Z")
    m, n = W.shape[-2:]
    if N == np.inf and m != n:
        raise ValueError(f"W is {m}x{n}: at depth=inf the operator is only invertible for square W "
                         "(L(sigma^2, 0) = 0 outside the row and column spaces); use a finite depth")
    U, s, Vt = _svd(W, full_matrices=True)
    a = multiplier_matrix(_pad(s, m), _pad(s, n), N)
    if np.any(a <= 0):
        raise ValueError(f"W is rank deficient (rank {int(np.min(np.sum(s > 0, axis=-1)))} "
                         f"< {min(m, n)} in some trial): A_{{N,W}} is not invertible there "
                         "(a_N(0, 0) = 0 for N >= 2); pass a full-rank W")
    return U @ ((_T(U) @ Z @ _T(Vt)) / a) @ Vt


def induced_velocity(weights, G):
    r"""Velocity of ``W = W_N ... W_1`` under the factor gradient flow ``dW_j/dt = -dphi/dW_j``.

    Parameters
    ----------
    weights : list of arrays
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``.
    G : array, shape ``(..., d_N, d_0)``
        Loss gradient at ``W``.

    Returns
    -------
    ndarray, shape ``(..., d_N, d_0)``

    Notes
    -----
    Product rule with E1:
    :math:`\dot W = -\sum_{j=1}^N W_{N:j+1} W_{N:j+1}^\top\, G\, W_{j-1:1}^\top W_{j-1:1}`.
    From a balanced point (E2: ``W_{j+1}^T W_{j+1} = W_j W_j^T``) this equals
    ``-A_{N,W}(G)`` (E3); :func:`check_end_to_end_dynamics` measures the difference.
    """
    grads = layer_gradients(weights, G)
    weights = check_weights(weights)
    prefixes = prefix_products(weights)                      # W_{j:1}
    N = len(weights)
    total, suffix = 0.0, None                                # suffix = W_{N:j+1}
    for j in range(N - 1, -1, -1):                           # 0-based index of W_{j+1}
        term = grads[j] if j == 0 else grads[j] @ prefixes[j - 1]
        total = total + (term if suffix is None else suffix @ term)
        suffix = weights[j] if suffix is None else suffix @ weights[j]
    return -total


def check_end_to_end_dynamics(weights, G, operator=None):
    r"""Relative error of E3: ``||induced_velocity + operator(W, G, N)||_F / ||induced_velocity||_F``.

    Parameters
    ----------
    weights : list of arrays ``[W_1, ..., W_N]`` (balanced for E3 to hold)
    G : array, shape ``(..., m, n)``
    operator : callable ``(W, Z, depth) -> array``, optional
        The operator to test (default :func:`end_to_end_operator`; pass a student's version
        or a planted bug).

    Returns
    -------
    float
        About ``1e-14`` for a correct operator at a balanced point; order 1 for a wrong one
        (or at an unbalanced point).
    """
    operator = end_to_end_operator if operator is None else operator
    weights = check_weights(weights)
    W = prefix_products(weights)[-1]
    v = induced_velocity(weights, G)
    return float(np.linalg.norm(v + operator(W, G, len(weights))) / np.linalg.norm(v))


# --------------------------------------------------------------------------- E6, E7

def singular_value_velocity(W, G, depth):
    r"""Velocities ``d sigma_r / dt`` of the singular values of ``W`` under ``dW/dt = -A_{N,W}(G)`` (E6).

    Parameters
    ----------
    W : array, shape ``(..., m, n)``
    G : array, shape ``(..., m, n)``
        Loss gradient at ``W``.
    depth : int >= 1 or numpy.inf (rescaled time ``tau = N t``)

    Returns
    -------
    ndarray, shape ``(..., min(m, n))``
        In the order of the singular values, descending.

    Notes
    -----
    **E6**: :math:`\dot\sigma_r = -N (\sigma_r^2)^{1 - 1/N} \langle G, u_r v_r^\top\rangle`
    (``= -a_N(sigma_r, sigma_r) (U^T G V)_{rr}``, the diagonal of E4); at infinite depth
    :math:`d\sigma_r/d\tau = -\sigma_r^2 \langle G, u_r v_r^\top\rangle`.  Valid for distinct
    singular values; within a cluster of repeated values only the sum is basis-independent.
    The factor ``(sigma_r^2)^{1-1/N}`` is the depth-dependent acceleration: large singular
    values move faster, more so as ``N`` grows.
    """
    N = resolve_depth(depth)
    W, G = _pair(W, G, "G")
    U, s, V = _thin_svd(W)
    projection = np.sum(U * (G @ V), axis=-2)              # <G, u_r v_r^T>
    return -depth_multiplier(s, s, N) * projection


def singular_vector_velocity(W, G, depth, return_svd=False):
    r"""Velocities ``(dU/dt, dV/dt)`` of the thin SVD ``W = U diag(sigma) V^T`` under E3 (E7).

    Parameters
    ----------
    W : array, shape ``(..., m, n)``
        Must have distinct, nonzero singular values (otherwise the singular vectors are
        not differentiable and a ``ValueError`` is raised).
    G : array, shape ``(..., m, n)``
        Loss gradient at ``W``.
    depth : int >= 1 or numpy.inf (rescaled time ``tau = N t``)
    return_svd : bool
        Also return ``(U, sigma, V)``.

    Returns
    -------
    U_dot : ndarray, shape ``(..., m, k)``, ``k = min(m, n)``
    V_dot : ndarray, shape ``(..., n, k)``
    (U, sigma, V) : only with ``return_svd``; shapes ``(..., m, k)``, ``(..., k)``, ``(..., n, k)``

    Notes
    -----
    **Sign convention.**  Singular vectors are defined up to a simultaneous sign flip of
    ``u_r`` and ``v_r``.  The velocities are those of the smooth SVD branch through the
    ``U, V`` that ``numpy.linalg.svd(W)`` returns (columns ``U[:, r]``, rows ``Vt[r]``);
    flipping the sign of ``u_r, v_r`` flips column ``r`` of ``U_dot`` and ``V_dot``.
    ``return_svd=True`` hands back the exact ``U, V`` used.

    **E7**: with ``G~ = U^T G V``, ``S = diag(sigma)``, ``F_{rr'} = 1/((sigma_{r'}^2)^{1/N} -
    (sigma_r^2)^{1/N})`` (``F_rr = 0``):

    .. math::
        \dot U = -U (F \odot [\tilde G S + S \tilde G^\top]) - (I - UU^\top) G V (S^2)^{1/2 - 1/N},\\
        \dot V = -V (F \odot [S \tilde G + \tilde G^\top S]) - (I - VV^\top) G^\top U (S^2)^{1/2 - 1/N}.

    Infinite depth, rescaled (``(1/N) x`` the above as ``N -> inf``):
    ``F_{rr'} = 1/(log sigma_{r'}^2 - log sigma_r^2)`` and the complement terms vanish
    (``L(0, sigma^2) = 0``: directions outside the current row/column spaces are not recruited).
    **E8**: both velocities are zero iff ``G~`` is diagonal and the complement terms vanish.
    """
    N = resolve_depth(depth)
    W, G = _pair(W, G, "G")
    U, s, V = _thin_svd(W)
    if np.any(s <= 0):
        raise ValueError("W has a zero singular value: its singular vectors are not differentiable "
                         "(E7 needs distinct, nonzero singular values); perturb W or use "
                         "singular_value_velocity")
    q = np.log(s * s) if N == np.inf else s ** (2.0 / N)
    diff = q[..., None, :] - q[..., :, None]                 # q_{r'} - q_r at [r, r']
    off = ~np.eye(s.shape[-1], dtype=bool)
    if np.any(diff[..., off] == 0):
        raise ValueError("W has repeated singular values: its singular vectors are not unique "
                         "(E7 needs distinct singular values); perturb W slightly")
    F = np.where(off, 1.0 / np.where(off, diff, 1.0), 0.0)
    Gt = _T(U) @ G @ V
    GV, GtU = G @ V, _T(G) @ U
    c = np.zeros_like(s) if N == np.inf else s ** (1.0 - 2.0 / N)   # (S^2)^{1/2 - 1/N}
    sc, sr = s[..., None, :], s[..., :, None]                # multiply columns / rows by sigma
    U_dot = -U @ (F * (Gt * sc + sr * _T(Gt))) - (GV - U @ Gt) * c[..., None, :]
    V_dot = -V @ (F * (sr * Gt + _T(Gt) * sc)) - (GtU - V @ _T(Gt)) * c[..., None, :]
    if return_svd:
        return U_dot, V_dot, (U, s, V)
    return U_dot, V_dot


def _aligned_svd(W, U0, V0):
    """Thin SVD of ``W`` with column signs chosen to match the reference ``U0`` (pairs flip together)."""
    U, s, V = _thin_svd(W)
    sign = np.sign(np.sum(U * U0, axis=-2) + np.sum(V * V0, axis=-2))
    sign = np.where(sign == 0, 1.0, sign)
    return s, U * sign[..., None, :], V * sign[..., None, :]


def svd_velocity_fd(W, W_dot, h=1e-3):
    r"""Finite-difference velocities of the thin SVD of ``W`` along the direction ``W_dot``.

    Parameters
    ----------
    W, W_dot : arrays, shape ``(..., m, n)``
    h : float > 0
        Step relative to ``||W||_F / ||W_dot||_F``.

    Returns
    -------
    sigma_dot : ndarray, shape ``(..., k)``
    U_dot : ndarray, shape ``(..., m, k)``
    V_dot : ndarray, shape ``(..., n, k)``
        Signs follow the convention of :func:`singular_vector_velocity`.

    Notes
    -----
    Central differences ``D(h) = (f(W + h W_dot) - f(W - h W_dot)) / 2h`` with one Richardson
    step ``(4 D(h/2) - D(h)) / 3`` (error ``O(h^4)``); with ``h = 1e-3`` and well-separated
    singular values the error is about ``1e-11`` relative.  The independent reference for E6/E7.
    """
    W, W_dot = _pair(W, W_dot, "W_dot")
    h = check_positive(h, "h")
    U0, _, V0 = _thin_svd(W)
    step = h * np.linalg.norm(W) / max(np.linalg.norm(W_dot), 1e-300)

    def central(dh):
        plus = _aligned_svd(W + dh * W_dot, U0, V0)
        minus = _aligned_svd(W - dh * W_dot, U0, V0)
        return [(p - q) / (2.0 * dh) for p, q in zip(plus, minus)]

    coarse, fine = central(step), central(step / 2.0)
    return tuple((4.0 * f - c) / 3.0 for f, c in zip(fine, coarse))


def _rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def check_svd_velocities(W, G, depth, sigma_fn=None, vector_fn=None, h=1e-3):
    r"""Compare E6/E7 velocities with finite differences of the SVD along the flow ``-A_{N,W}(G)``.

    Parameters
    ----------
    W, G : arrays, shape ``(..., m, n)``
    depth : int >= 1 or numpy.inf
    sigma_fn, vector_fn : callables ``(W, G, depth)``, optional
        Defaults :func:`singular_value_velocity` and :func:`singular_vector_velocity`; pass
        others to test them (a planted bug scores order 1).
    h : float
        Relative finite-difference step (see :func:`svd_velocity_fd`).

    Returns
    -------
    dict
        ``sigma``, ``U``, ``V``: relative Frobenius errors (about ``1e-10`` when correct).
    """
    sigma_fn = singular_value_velocity if sigma_fn is None else sigma_fn
    vector_fn = singular_vector_velocity if vector_fn is None else vector_fn
    W_dot = -end_to_end_operator(W, G, depth)
    s_fd, U_fd, V_fd = svd_velocity_fd(W, W_dot, h=h)
    U_dot, V_dot = vector_fn(W, G, depth)[:2]
    return dict(sigma=_rel(sigma_fn(W, G, depth), s_fd), U=_rel(U_dot, U_fd), V=_rel(V_dot, V_fd))


# --------------------------------------------------------------------------- gradient flows

def _check_problem(problem, m, n, what):
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    if (m, n) != tuple(problem.shape):
        raise ValueError(f"{what} gives an end-to-end matrix of shape {m}x{n} but the problem is "
                         f"{problem.shape[0]}x{problem.shape[1]}")


def _dense(G):
    return G.toarray() if hasattr(G, "toarray") else G


def _integrate(problem, y0, decode, velocity, t_end, *, loss_tol, method, rtol, atol,
               max_step, record_times, n_records, truth, n_singular, name, state):
    """Shared driver of both flows: ``solve_ivp`` + loss event + the GD history recorder.

    ``decode(y) -> (weights, W)`` and ``velocity(weights, W, G) -> list of arrays`` (the
    time derivatives of the arrays in ``weights``).
    """
    t_end = check_positive(t_end, "t_end")
    rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
    if loss_tol is not None:
        loss_tol = check_positive(loss_tol, "loss_tol", allow_zero=True)
    n_singular = check_int(n_singular, "n_singular", minimum=1)
    if record_times is None:
        record_times = np.linspace(0.0, t_end, check_int(n_records, "n_records", minimum=2))
    else:
        record_times = as_float_array(record_times, "record_times", ndim=1)
        if np.any(np.diff(record_times) <= 0) or record_times[0] < 0 or record_times[-1] > t_end:
            raise ValueError("record_times must increase strictly within [0, t_end]")
    truth = problem.truth if truth is None else np.asarray(truth, dtype=float)
    clock0 = _time.perf_counter()
    trace = [(0.0, 0, 0.0)]                                  # (furthest t, evaluations, seconds)
    count = [0]

    def rhs(t, y):
        count[0] += 1
        if t > trace[-1][0]:
            trace.append((t, count[0], _time.perf_counter() - clock0))
        with np.errstate(all="ignore"):
            ws, W = decode(y)
            _, G = problem._loss_and_gradient(W)
            return np.concatenate([v.ravel() for v in velocity(ws, W, G)])

    def loss_of(y):
        with np.errstate(all="ignore"):
            return problem._loss_and_gradient(decode(y)[1])[0]

    events = None
    if loss_tol is not None:
        def reached(t, y):
            return float(np.max(loss_of(y))) - loss_tol
        reached.terminal, reached.direction = True, -1
        events = [reached]
    if events is not None and events[0](0.0, y0) <= 0:          # converged before starting
        status, message, ts, ys = 1, "loss_tol already reached at t = 0", [0.0], [y0]
    else:
        sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=record_times, events=events,
                        rtol=rtol, atol=atol, max_step=max_step)
        status, message, ts, ys = sol.status, sol.message, list(sol.t), list(sol.y.T)
        if events is not None and sol.t_events[0].size and (not ts or ts[-1] < sol.t_events[0][0]):
            ts.append(float(sol.t_events[0][0]))
            ys.append(sol.y_events[0][0])
    recorder = _Recorder(problem, truth, n_singular)
    marks = np.array([row[0] for row in trace])
    for t, y in zip(ts, ys):
        ws, W = decode(y)
        k = min(int(np.searchsorted(marks, t)), len(trace) - 1)
        recorder.record(trace[k][1], problem.loss(W), W, ws, trace[k][2])
        recorder.rows.setdefault("t", []).append(t)
    y_end = ys[-1] if ys else y0
    ws, W = decode(y_end)
    loss = problem.loss(W)
    lead = np.shape(loss)
    state = dict(state, t=count[0], s=0.0, flow_time=ts[-1] if ts else 0.0, status=status,
                 message=message, method=method, rtol=rtol, atol=atol)
    if loss_tol is None:
        converged = np.zeros(lead, dtype=bool)
    else:   # a fired event means every trial is at loss_tol up to the event's root-finding error
        converged = np.asarray((loss <= loss_tol) | (status == 1))
    run = Run(weights=[np.array(w) for w in ws], history=recorder.history(),
              steps=np.full(lead, count[0]), converged=converged, optimizer=name, lr=float("nan"),
              state=state, wall_time=_time.perf_counter() - clock0)
    if status == -1 or not np.all(np.isfinite(loss)):
        raise DivergenceError(f"{name} failed near t = {trace[-1][0]:.6g}: {message} "
                              f"(the loss may blow up; check the problem scaling or lower t_end). "
                              "The run so far is in .run", run)
    return run


_FLOW_DOC = """t_end : float > 0
        Final time (rescaled ``tau`` when ``rescaled`` is true).
    loss_tol : float, optional
        Stop as soon as the loss (max over trials) falls to ``loss_tol`` (a terminal
        ``solve_ivp`` event; the stopping point is appended to the history).
    method, rtol, atol, max_step :
        Passed to ``scipy.integrate.solve_ivp`` (default ``DOP853``, ``rtol=1e-9``, ``atol=1e-12``).
    n_records : int
        Number of equally spaced record times in ``[0, t_end]`` (ignored with ``record_times``).
    record_times : array, optional
        Increasing times at which to record the history.
    truth : array ``(..., m, n)``, optional
        Ground truth for test errors (default ``problem.truth``).
    n_singular : int
        Top singular values to record.

    Returns
    -------
    Run
        As from :func:`dmf_edu.gradient_descent`: ``history`` has the same keys (``step`` is
        the number of gradient evaluations the solver had made by that time) plus ``t``, the
        flow time of each record.  ``optimizer`` names the flow, ``lr`` is NaN, ``steps`` holds
        the total number of gradient evaluations, ``converged`` whether ``loss <= loss_tol``,
        ``state`` the solver status and ``flow_time`` (final time).

    Raises
    ------
    DivergenceError
        If the solver fails (e.g. the loss blows up); ``.run`` holds the records so far.
"""


def gradient_flow(problem, weights, t_end, *, loss_tol=None, method="DOP853", rtol=1e-9, atol=1e-12,
                  max_step=np.inf, n_records=201, record_times=None, rescaled=False,
                  weight_decay=0.0, grad_fn=None, truth=None, n_singular=10):
    """Gradient flow of the factors, ``dW_j/dt = -dphi/dW_j - lambda W_j`` (E1, E2).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of arrays
        Initial ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``; leading axes are
        trials (integrated jointly as one ODE; not modified).
    rescaled : bool
        Integrate in ``tau = N t`` (velocity divided by ``N``), to compare depths.
    weight_decay : float >= 0
        ``lambda``; with it E2 becomes ``dD_j/dt = -2 lambda D_j``.
    grad_fn : callable ``(weights, G) -> list``, optional
        Layer gradients to use (default E1, :func:`dmf_edu.layer_gradients`); pass another to
        study a variant or plant a bug.
    """
    weights = check_weights(weights)
    N = len(weights)
    _check_problem(problem, weights[-1].shape[-2], weights[0].shape[-1], "weights")
    lam = check_positive(weight_decay, "weight_decay", allow_zero=True)
    try:
        lead = np.broadcast_shapes(*(w.shape[:-2] for w in weights), problem.batch_shape)
    except ValueError:
        raise ValueError("the weights' trial axes do not broadcast with the problem's") from None
    ws0 = [np.broadcast_to(w, lead + w.shape[-2:]) for w in weights]
    shapes = [w.shape for w in ws0]
    cuts = np.cumsum([0] + [int(np.prod(sh)) for sh in shapes])
    scale = 1.0 / N if rescaled else 1.0

    def decode(y):
        ws = [y[cuts[i]:cuts[i + 1]].reshape(sh) for i, sh in enumerate(shapes)]
        return ws, prefix_products(ws)[-1]

    def velocity(ws, W, G):
        grads = backward(ws, prefix_products(ws), G) if grad_fn is None else grad_fn(ws, _dense(G))
        return [-scale * (g + lam * w) for g, w in zip(grads, ws)]

    y0 = np.concatenate([w.ravel() for w in ws0])
    return _integrate(problem, y0, decode, velocity, t_end, loss_tol=loss_tol, method=method,
                      rtol=rtol, atol=atol, max_step=max_step, record_times=record_times,
                      n_records=n_records, truth=truth, n_singular=n_singular, name="gradient_flow",
                      state=dict(depth=N, rescaled=bool(rescaled), weight_decay=lam))


def end_to_end_flow(problem, W0, depth, t_end, *, rescaled=None, loss_tol=None, method="DOP853",
                    rtol=1e-9, atol=1e-12, max_step=np.inf, n_records=201, record_times=None,
                    truth=None, n_singular=10):
    """End-to-end flow ``dW/dt = -A_{N,W}(grad ell(W))`` (E3), any depth including ``numpy.inf`` (E5).

    It is the factor flow from a balanced start (E3), so the recorded ``balancedness`` is 0
    by construction and ``run.weights`` is ``[W]`` (the end-to-end matrix, not a factorization).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    W0 : array, shape ``(..., m, n)``
        Initial end-to-end matrix (leading axes are trials).
    depth : int >= 1 or numpy.inf
    rescaled : bool, optional
        Integrate ``dW/dtau = -(1/N) A_{N,W}(G)`` in ``tau = N t``.  Default: ``False`` for finite
        depth, and necessarily ``True`` for ``depth=inf`` (the flow ``-A_{inf,W}(G)`` of E5).
    """
    N = resolve_depth(depth)
    W0 = as_float_array(W0, "W0", min_ndim=2)
    _check_problem(problem, W0.shape[-2], W0.shape[-1], "W0")
    if rescaled is None:
        rescaled = N == np.inf
    if N == np.inf and not rescaled:
        raise ValueError("depth=inf only exists in the rescaled time tau = N t; pass rescaled=True (or None)")
    try:
        lead = np.broadcast_shapes(W0.shape[:-2], problem.batch_shape)
    except ValueError:
        raise ValueError("the trial axes of W0 do not broadcast with the problem's") from None
    shape = lead + W0.shape[-2:]
    scale = 1.0 / N if (rescaled and N != np.inf) else 1.0

    def decode(y):
        W = y.reshape(shape)
        return [W], W

    def velocity(ws, W, G):
        return [-scale * end_to_end_operator(W, _dense(G), N)]

    y0 = np.broadcast_to(W0, shape).ravel().copy()
    return _integrate(problem, y0, decode, velocity, t_end, loss_tol=loss_tol, method=method,
                      rtol=rtol, atol=atol, max_step=max_step, record_times=record_times,
                      n_records=n_records, truth=truth, n_singular=n_singular, name="end_to_end_flow",
                      state=dict(depth=N, rescaled=bool(rescaled)))


gradient_flow.__doc__ += _FLOW_DOC
end_to_end_flow.__doc__ += _FLOW_DOC


# --------------------------------------------------------------------------- E10, E11 closed forms

def _scalar_args(s, a0, name="a0", meaning="the initial end-to-end value, alpha^N"):
    s = as_float_array(s, "s")
    a0 = as_float_array(a0, name)
    if np.any(s <= 0):
        raise ValueError("s (the target of the mode) must be > 0")
    if np.any(a0 <= 0):
        raise ValueError(f"{name} ({meaning}) must be > 0: from a0 = 0 the flow never moves")
    return s, a0


def scalar_velocity(a, s, depth):
    r"""Right-hand side of the one-mode flow (E10): ``da/dt = N a^{2-2/N} (s - a)``.

    Parameters
    ----------
    a : array ``>= 0``, shape ``(...)``
    s : array ``> 0`` (broadcast with ``a``)
    depth : int >= 1 or numpy.inf (rescaled: ``da/dtau = a^2 (s - a)``)

    Returns
    -------
    ndarray, shape ``broadcast(a, s)``

    Notes
    -----
    **E10**: the E6 law ``N (a^2)^{1-1/N} (s - a)`` for one mode of ``1/2 (a - s)^2``;
    ``N a^{2 - 2/N} = a_N(a, a)`` (E4), so the rescaled ``N = inf`` limit is ``a^2 (s - a)``.
    """
    N = resolve_depth(depth)
    a = as_float_array(a, "a")
    if np.any(a < 0):
        raise ValueError("a must be >= 0 (a singular value)")
    s = as_float_array(s, "s")
    if np.any(s <= 0):
        raise ValueError("s (the target of the mode) must be > 0")
    return depth_multiplier(a, a, N) * (s - a)


def _primitive(a, s, N):
    r"""A primitive ``T(a)`` of ``1 / scalar_velocity(a)`` on the side of ``s`` where ``a`` lies."""
    a, s = np.broadcast_arrays(np.asarray(a, float), np.asarray(s, float))
    gap = np.abs(s - a)
    if N == 1:
        return -np.log(gap)
    if N == 2:
        return np.log(a / gap) / (2.0 * s)
    if N == np.inf:
        return -1.0 / (s * a) + np.log(a / gap) / (s * s)
    c = 2.0 / N
    below = a < s
    out = np.empty(a.shape)
    ab, sb = a[below], s[below]                                 # T = a^{c-1} 2F1(1, c-1; c; a/s) / (N s (c-1))
    out[below] = ab ** (c - 1.0) * hyp2f1(1.0, c - 1.0, c, ab / sb) / (N * sb * (c - 1.0))
    aa, sa = a[~below], s[~below]                               # T = a^{c-2} 2F1(1, 2-c; 3-c; s/a) / (N (2-c))
    out[~below] = aa ** (c - 2.0) * hyp2f1(1.0, 2.0 - c, 3.0 - c, sa / aa) / (N * (2.0 - c))
    return out


def time_to_reach(a, s, a0, depth):
    r"""Time for the one-mode flow of E10 to go from ``a0`` to ``a``.

    Parameters
    ----------
    a : array, shape ``(...)``
        Target values, between ``a0`` (inclusive) and ``s`` (exclusive).
    s : float or array ``> 0``
        The mode's target value.
    a0 : float or array ``> 0``
        Initial value (``alpha^N`` for a balanced init of factor scale ``alpha``).
    depth : int >= 1 or numpy.inf (rescaled time)

    Returns
    -------
    ndarray, shape ``broadcast(a, s, a0)``

    Notes
    -----
    **E10**: ``t(a) = T(a) - T(a0)`` with ``T' = 1/(N a^{2-2/N}(s - a))``:

    * ``N = 1``: ``T = -log|s - a|``;  ``N = 2``: ``T = log(a/|s - a|) / (2s)``;
    * ``N >= 3``, ``a < s``: :math:`T = a^{2/N-1}\,{}_2F_1(1, 2/N-1; 2/N; a/s) / (N s (2/N - 1))`;
      ``a > s``: :math:`T = a^{2/N-2}\,{}_2F_1(1, 2-2/N; 3-2/N; s/a) / (N (2 - 2/N))`
      (``scipy.special.hyp2f1``; the second is the series in ``s/a`` of the same integral);
    * ``N = inf`` (rescaled, ``da/dtau = a^2(s - a)``): ``T = -1/(s a) + log(a/|s - a|)/s^2``.
    """
    N = resolve_depth(depth)
    s, a0 = _scalar_args(s, a0)
    a = as_float_array(a, "a")
    a, s, a0 = np.broadcast_arrays(a, s, a0)
    lo, hi = np.minimum(a0, s), np.maximum(a0, s)
    inside = (a == a0) | ((a >= lo) & (a <= hi) & (a != s))
    if not np.all(inside):
        raise ValueError("a must lie between a0 (inclusive) and s (exclusive): the flow moves "
                         "monotonically from a0 toward s and never reaches s")
    moving = a != a0
    out = np.zeros(a.shape)
    if np.any(moving):
        out[moving] = _primitive(a[moving], s[moving], N) - _primitive(a0[moving], s[moving], N)
    return out


def scalar_trajectory(t, s, a0, depth):
    r"""The one-mode trajectory ``a(t)`` of E10, ``da/dt = N a^{2-2/N}(s - a)``, ``a(0) = a0``.

    Parameters
    ----------
    t : array ``>= 0``, shape ``(...)``
    s : float > 0
        Target of the mode.
    a0 : float > 0
        Initial value (``alpha^N`` for a balanced init of factor scale ``alpha``).
    depth : int >= 1 or numpy.inf (rescaled time ``tau = N t``)

    Returns
    -------
    ndarray, shape of ``t``

    Notes
    -----
    **E10**: ``N = 1``: ``a = s + (a0 - s) e^{-t}``.  ``N = 2``:
    :math:`a(t) = s e^{2st} / (e^{2st} - 1 + s/a_0)`.  ``N >= 3`` and ``N = inf``: the
    equation ``T(a) - T(a0) = t`` of :func:`time_to_reach` (hypergeometric for ``N >= 3``) is
    solved for ``a`` by Brent's method (``a`` is monotone in ``t``); values within rounding of
    ``s`` are returned as ``s``.
    """
    N = resolve_depth(depth)
    t = as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be >= 0 (the closed form runs forward in time)")
    s, a0 = _scalar_args(s, a0)
    if s.ndim or a0.ndim:
        raise ValueError("s and a0 must be scalars; call once per mode")
    s, a0 = float(s), float(a0)
    if N == 1:
        return s + (a0 - s) * np.exp(-t)
    if N == 2:
        with np.errstate(over="ignore"):
            e = np.exp(-2.0 * s * t)                      # divide through by e^{2st}: no overflow
        return s / (1.0 - e + (s / a0) * e)
    if a0 == s:
        return np.full(t.shape, s)
    T0 = float(_primitive(a0, s, N))
    out = np.empty(t.shape)
    for idx, ti in np.ndenumerate(t):
        if ti == 0:
            out[idx] = a0
            continue
        g = lambda a: float(_primitive(a, s, N)) - T0 - ti   # noqa: E731  increasing in time
        far = None
        for k in range(1, 60):
            b = s - (s - a0) * 2.0 ** (-k)
            if b == s:
                break
            if g(b) >= 0:
                far = b
                break
        out[idx] = s if far is None else brentq(g, a0, far, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    return out


def escape_time(s, alpha, depth, fraction=0.5):
    r"""Exact time for one mode to rise from ``a0 = alpha^N`` to ``fraction * s`` (E10).

    Parameters
    ----------
    s : float or array > 0
    alpha : float or array > 0
        Per-factor init scale (balanced init ``W_j(0) = alpha`` on the mode), ``a0 = alpha^N``.
    depth : int >= 1 (finite: at ``N = inf`` ``alpha^N`` is meaningless; use :func:`time_to_reach`)
    fraction : float in (0, 1)

    Returns
    -------
    ndarray, shape ``broadcast(s, alpha)``

    Notes
    -----
    **E10**: for small ``alpha``, ``~ 1/((N-2) s alpha^{N-2})`` (``N >= 3``) and ``~ log(1/alpha)/s``
    (``N = 2``); see :func:`escape_time_asymptotic`.
    """
    N = check_depth(depth)
    fraction = check_positive(fraction, "fraction")
    if fraction >= 1:
        raise ValueError(f"fraction must be in (0, 1): the mode never reaches s, got {fraction}")
    s, alpha = _scalar_args(s, alpha, "alpha", "the per-factor init scale, a0 = alpha^N")
    a0 = alpha ** N
    if np.any(a0 >= fraction * s):
        raise ValueError("alpha^N must be below fraction * s: the mode starts past the escape point")
    return time_to_reach(fraction * s, s, a0, N)


def escape_time_asymptotic(s, alpha, depth):
    r"""Leading-order escape time of one mode as ``alpha -> 0`` (E10).

    Returns ``1/((N-2) s alpha^{N-2})`` for ``N >= 3``, ``log(1/alpha)/s`` for ``N = 2`` and
    ``log 2`` for ``N = 1`` (the limit of the time to reach ``s/2``), shape ``broadcast(s, alpha)``.
    The neglected terms are ``O(1/s)`` independent of ``alpha``.
    """
    N = check_depth(depth)
    s = as_float_array(s, "s")
    alpha = as_float_array(alpha, "alpha")
    if np.any(s <= 0) or np.any(alpha <= 0):
        raise ValueError("s and alpha must be > 0")
    if N == 1:
        return np.log(2.0) + 0.0 * (s + alpha)
    if N == 2:
        return np.log(1.0 / alpha) / s
    return 1.0 / ((N - 2) * s * alpha ** (N - 2))


def diagonal_recursion(eigenvalues, alpha, depth, lr, n_steps):
    r"""Per-eigenvalue GD recursion of E11, ``x <- x + eta x^{N-1} (lambda - x^N)``.

    Parameters
    ----------
    eigenvalues : array, shape ``(d,)``
        Eigenvalues ``lambda`` of the symmetric target ``A``.
    alpha : float > 0
        Init ``W_j(0) = alpha I``.
    depth : int >= 1
    lr : float > 0
        Step ``eta`` of plain GD on ``1/2 ||W_N ... W_1 - A||_F^2``.
    n_steps : int >= 0

    Returns
    -------
    ndarray, shape ``(n_steps + 1, d)``
        The factor eigenvalues ``x_k``; the end-to-end eigenvalues are ``x_k^N``.

    Raises
    ------
    DivergenceError
        If an iterate becomes non-finite (step too large); ``.run`` is None.

    Notes
    -----
    **E11** (arXiv 2011.13772): with ``A = Q diag(lambda) Q^T`` and ``W_j(0) = alpha I``, every
    factor stays ``Q diag(x) Q^T`` under GD, and ``dphi/dW_j = W^{N-1}(W^N - A)`` there.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    alpha = check_positive(alpha, "alpha")
    N = check_depth(depth)
    lr = check_positive(lr, "lr")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    x = np.empty((n_steps + 1, lam.size))
    x[0] = alpha
    with np.errstate(all="ignore"):
        for k in range(n_steps):
            x[k + 1] = x[k] + lr * x[k] ** (N - 1) * (lam - x[k] ** N)
            if not np.all(np.isfinite(x[k + 1])):
                raise DivergenceError(f"the E11 recursion diverged at step {k + 1}; lower lr (now {lr:g})", None)
    return x
