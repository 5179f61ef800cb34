r"""Singular-value (E6) and singular-vector (E7, E8) velocities of ``W`` under
``dW/dt = -A_{N,W}(G)``, and their finite-difference check."""

from __future__ import annotations

import numpy as np

from .._validate import check_positive
from ..linalg import depth_multiplier, resolve_depth
from ._matrices import check_pair, swap, thin_svd
from .operator import end_to_end_operator

__all__ = ["singular_value_velocity", "singular_vector_velocity", "svd_velocity_fd", "check_svd_velocities"]


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
    W, G = check_pair(W, G, "G")
    U, s, V = thin_svd(W)
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
    W, G = check_pair(W, G, "G")
    U, s, V = thin_svd(W)
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
    Gt = swap(U) @ G @ V
    GV, GtU = G @ V, swap(G) @ U
    c = np.zeros_like(s) if N == np.inf else s ** (1.0 - 2.0 / N)   # (S^2)^{1/2 - 1/N}
    sc, sr = s[..., None, :], s[..., :, None]                # multiply columns / rows by sigma
    U_dot = -U @ (F * (Gt * sc + sr * swap(Gt))) - (GV - U @ Gt) * c[..., None, :]
    V_dot = -V @ (F * (sr * Gt + swap(Gt) * sc)) - (GtU - V @ swap(Gt)) * c[..., None, :]
    if return_svd:
        return U_dot, V_dot, (U, s, V)
    return U_dot, V_dot


def _aligned_svd(W, U0, V0):
    """Thin SVD of ``W`` with column signs chosen to match the reference ``U0`` (pairs flip together)."""
    U, s, V = thin_svd(W)
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
    W, W_dot = check_pair(W, W_dot, "W_dot")
    h = check_positive(h, "h")
    U0, _, V0 = thin_svd(W)
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
