r"""Stable fractional powers and the depth multipliers of the end-to-end dynamics (E3-E5).

Every fractional power here follows THEORY.md §0: singular values are ``>= 0`` and
``0^0 = 1`` (so ``M^0`` is the identity even when ``M`` is singular).  The multipliers
are evaluated without ever forming ``0/0``:

* ``a_N(x, y) = sum_{p=1}^{N} x^{2(N-p)/N} y^{2(p-1)/N}`` (E4) is written as
  ``X^{N-1} (1 - r^N) / (1 - r)`` with ``X = max(x, y)^{2/N}`` and ``r = (min/max)^{2/N}``,
  and ``(1 - r^N)/(1 - r) = expm1(N u) / expm1(u)``, ``u = log r``, which keeps full
  relative accuracy when ``x`` and ``y`` (nearly) coincide;
* the logarithmic mean ``L(a, b) = (a - b)/(log a - log b)`` (E5) as ``max * expm1(u)/u``
  with ``u = log(min/max) <= 0``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array, check_depth, check_positive

__all__ = ["resolve_depth", "psd_power", "depth_multiplier", "log_mean", "multiplier_matrix"]


def resolve_depth(depth, name="depth"):
    """Validate a depth: an integer ``N >= 1`` or ``numpy.inf`` (returned as ``float('inf')``).

    Raises
    ------
    ValueError
        For ``0``, negative, non-integer finite values or NaN.
    TypeError
        For non-numbers.
    """
    if isinstance(depth, numbers.Real) and not isinstance(depth, bool) and np.isinf(depth):
        if depth < 0:
            raise ValueError(f"{name} must be an integer >= 1 or numpy.inf, got {depth}")
        return float("inf")
    if isinstance(depth, numbers.Real) and not isinstance(depth, bool) and np.isnan(depth):
        raise ValueError(f"{name} must be an integer >= 1 or numpy.inf, got nan")
    return check_depth(depth, name)


def _nonnegative(x, name):
    x = as_float_array(x, name)
    if np.any(x < 0):
        raise ValueError(f"{name} holds negative values; pass singular values (>= 0)")
    return x


def psd_power(M, p):
    r"""Fractional power ``M^p`` of a symmetric positive semi-definite matrix, with ``0^0 = 1``.

    Parameters
    ----------
    M : array, shape ``(..., d, d)``
        Symmetric PSD (e.g. ``W W^T``); only its lower triangle is read.  Eigenvalues at or
        below ``d * eps * lambda_max`` (rounding level) are set to exactly zero.
    p : float >= 0
        The exponent.

    Returns
    -------
    ndarray, shape ``(..., d, d)``
        ``Q diag(lambda^p) Q^T`` from the eigendecomposition ``M = Q diag(lambda) Q^T``.

    Notes
    -----
    Used by the sum-of-fractional-powers form of E3,
    ``A_{N,W}(Z) = sum_j (W W^T)^{(N-j)/N} Z (W^T W)^{(j-1)/N}``.  Note that ``(W W^T)^p``
    for ``p = k/N`` squares the condition number of ``W`` before taking the root, so it is
    less accurate for ill-conditioned ``W`` than the singular-basis evaluation of E4.
    """
    M = as_float_array(M, "M", min_ndim=2)
    if M.shape[-1] != M.shape[-2]:
        raise ValueError(f"M must be square, got shape {M.shape}")
    p = check_positive(p, "p", allow_zero=True)
    if not np.isfinite(p) or p < 0:
        raise ValueError(f"p must be a finite exponent >= 0, got {p}")
    lam, Q = np.linalg.eigh(M)
    # eigenvalues within rounding of zero are zero (so that 0^p = 0 for p > 0, not eps^p)
    floor = M.shape[-1] * np.finfo(float).eps * np.max(np.abs(lam), axis=-1, keepdims=True)
    lam = np.where(lam > floor, lam, 0.0)
    return np.matmul(Q * (lam ** p)[..., None, :], np.swapaxes(Q, -1, -2))


def _ratio_sum(u, N):
    """``(1 - r^N)/(1 - r) = sum_{k<N} r^k`` for ``r = exp(u)``, ``u <= 0`` (``-inf`` allowed)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.expm1(N * u) / np.expm1(u)
    return np.where(u == 0.0, float(N), out)


def depth_multiplier(x, y, depth):
    r"""Depth multiplier ``a_N(x, y)`` of E4 (or the logarithmic mean ``L(x^2, y^2)`` for ``N = inf``).

    Parameters
    ----------
    x, y : arrays of singular values ``>= 0`` (broadcast together), shape ``(...)``
    depth : int >= 1 or numpy.inf

    Returns
    -------
    ndarray, shape ``broadcast(x, y)``
        ``a_N(x, y)`` for finite ``N``; for ``depth=inf`` the limit ``lim a_N / N = L(x^2, y^2)``
        of the rescaled time ``tau = N t`` (E5).

    Notes
    -----
    **E4**: ``U^T A_{N,W}(Z) V = a_N \odot (U^T Z V)`` with

    .. math:: a_N(x, y) = \sum_{p=1}^{N} x^{2(N-p)/N} y^{2(p-1)/N}
              = \frac{x^2 - y^2}{x^{2/N} - y^{2/N}} \;(x \ne y), \qquad a_N(x, x) = N x^{2(N-1)/N}.

    With ``X = max(x,y)^{2/N}`` and ``u = (2/N) log(min/max)``, ``a_N = X^{N-1}
    expm1(N u)/expm1(u)`` (``u = 0`` gives ``N X^{N-1}``; ``u = -inf`` gives ``X^{N-1}``),
    so equal or nearly equal arguments lose no accuracy, ``0^0 = 1`` (``a_1 = 1``
    everywhere, ``a_N(x, 0) = x^{2(N-1)/N}``, ``a_N(0, 0) = 0`` for ``N >= 2``) and
    ``0/0`` never occurs.  **E5**: ``a_N / N -> L(x^2, y^2)`` at rate ``O(1/N)``; see
    :func:`log_mean`.
    """
    N = resolve_depth(depth)
    x = _nonnegative(x, "x")
    y = _nonnegative(y, "y")
    if N == np.inf:
        return log_mean(x * x, y * y)
    hi, lo = np.maximum(x, y), np.minimum(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (2.0 / N) * np.log(np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), 1.0))
    lead = hi ** (2.0 * (N - 1) / N)          # X^{N-1}; numpy gives 0.0 ** 0.0 == 1.0
    return lead * _ratio_sum(u, N)


def log_mean(a, b):
    r"""Logarithmic mean ``L(a, b) = (a - b)/(log a - log b)`` of non-negative numbers.

    Parameters
    ----------
    a, b : arrays ``>= 0`` (broadcast together), shape ``(...)``

    Returns
    -------
    ndarray, shape ``broadcast(a, b)``

    Notes
    -----
    **E5**: the multipliers of the infinite-depth operator ``A_{inf,W}`` at ``(a, b) =
    (sigma_i^2, sigma_j^2)``.  ``L(a, a) = a`` and ``L(a, 0) = 0``.  Evaluated as
    ``max(a,b) * expm1(u)/u`` with ``u = log(min/max) <= 0`` (``u = 0`` gives 1, ``u = -inf``
    gives 0), accurate when ``a ~ b`` and never ``0/0``.
    """
    a = _nonnegative(a, "a")
    b = _nonnegative(b, "b")
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.log(np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), 1.0))
        ratio = np.expm1(u) / u
    ratio = np.where(u == 0.0, 1.0, np.where(np.isneginf(u), 0.0, ratio))
    return hi * ratio


def multiplier_matrix(s_rows, s_cols, depth):
    r"""Matrix of multipliers ``a_N(s_rows[i], s_cols[j])`` (E4; ``L`` for ``N = inf``, E5).

    Parameters
    ----------
    s_rows : array, shape ``(..., m)``
        Singular values padded with zeros to the number of rows of ``W``.
    s_cols : array, shape ``(..., n)``
        Singular values padded with zeros to the number of columns.
    depth : int >= 1 or numpy.inf

    Returns
    -------
    ndarray, shape ``(..., m, n)``
    """
    s_rows = np.asarray(s_rows, dtype=np.float64)
    s_cols = np.asarray(s_cols, dtype=np.float64)
    return depth_multiplier(s_rows[..., :, None], s_cols[..., None, :], depth)
