r"""Closed forms for one mode of the flow (E10) and the diagonal gradient-descent recursion (E11)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import hyp2f1

from .._validate import as_float_array, check_depth, check_int, check_positive
from ..linalg import depth_multiplier, resolve_depth
from ..training.loop import DivergenceError

__all__ = [
    "scalar_velocity", "time_to_reach", "scalar_trajectory", "escape_time",
    "escape_time_asymptotic", "diagonal_recursion",
]


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
