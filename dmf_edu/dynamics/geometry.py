r"""Riemannian geometry of the end-to-end dynamics: metric, volume, fibre entropy (E14-E16).

On full-rank end-to-end matrices ``W`` (shape ``(m, n)``, product order ``W = W_N ... W_1``)
the balanced gradient flow ``dW/dt = -A_{N,W}(grad ell)`` (E3) is the Riemannian gradient
flow of ``ell`` for the metric ``g^N_W(Z, Z) = <Z, A_{N,W}^{-1}(Z)>`` (E14).  Every quantity
here is evaluated in the singular basis of ``W`` through the multipliers of
:func:`dmf_edu.linalg.depth_multiplier` (``a_N`` of E4; the logarithmic mean ``L`` of E5 for
``N = inf``), never by inverting a matrix.

**Normalisations.**  Depths are compared in the rescaled time ``tau = N t`` (E5), whose flow
``dW/dtau = -(1/N) A_{N,W}(G)`` is the gradient flow of the rescaled metric ``N g^N``; its
multipliers ``m_N = a_N / N`` tend to ``m_inf = L(sigma_i^2, sigma_j^2)``.  The volume density
(E15) is that of ``N g^N`` and the fibre entropy (E16) uses ``m_N``, so both converge pointwise
to their ``N = inf`` forms, at rate ``O(1/N)``; the natural-time metric ``g^N`` itself is
``metric(..., rescaled=False)``.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_weights
from ..factorization import layer_gradients, prefix_products
from ..linalg import depth_multiplier, resolve_depth

__all__ = ["metric", "minimum_norm_lift", "volume_density", "fibre_entropy", "rescaled_multiplier"]


def _T(A):
    return np.swapaxes(A, -1, -2)


def rescaled_multiplier(x, y, depth):
    r"""``m_N(x, y) = a_N(x, y) / N`` (E4) for finite ``N``, ``L(x^2, y^2)`` for ``N = inf`` (E5).

    Parameters
    ----------
    x, y : arrays of singular values ``>= 0`` (broadcast), shape ``(...)``
    depth : int >= 1 or numpy.inf

    Returns
    -------
    ndarray, shape ``broadcast(x, y)``
        The multipliers of the rescaled-time operator ``(1/N) A_{N,W}``; ``m_N -> L`` as
        ``N -> inf`` with relative error ``O(1/N)``.  Computed by
        :func:`dmf_edu.linalg.depth_multiplier` (stable for coincident and zero arguments).
    """
    N = resolve_depth(depth)
    a = depth_multiplier(x, y, N)
    return a if N == np.inf else a / N


def _singular_coordinates(W, Z):
    """Full SVD of ``W`` and ``U^T Z V``; singular values padded to ``(m,)`` and ``(n,)``."""
    m, n = W.shape[-2:]
    U, s, Vt = np.linalg.svd(W, full_matrices=True)
    rows = np.zeros(s.shape[:-1] + (m,))
    cols = np.zeros(s.shape[:-1] + (n,))
    rows[..., :s.shape[-1]] = s
    cols[..., :s.shape[-1]] = s
    return U, rows, cols, Vt


def metric(W, Z, depth, Y=None, *, rescaled=None):
    r"""The Riemannian metric of the end-to-end dynamics, ``g^N_W(Z, Y)`` (E14).

    Parameters
    ----------
    W : array, shape ``(..., m, n)``
        End-to-end matrix (full rank for a finite metric).
    Z : array, shape ``(..., m, n)``
        Tangent vector; leading axes broadcast with ``W``'s.
    depth : int >= 1 or numpy.inf
    Y : array, shape ``(..., m, n)``, optional
        Second tangent vector (default ``Z``: the squared length ``g(Z, Z)``).
    rescaled : bool, optional
        ``True`` returns ``N g^N`` (metric of the rescaled-time flow); default ``False`` for finite
        ``N``.  ``depth=inf`` only exists rescaled (``g^inf = lim N g^N``).

    Returns
    -------
    ndarray, shape ``broadcast(...)``
        ``+inf`` for ``g(Z, Z)`` when ``W`` is rank deficient and ``Z`` leaves its rank stratum
        (a zero multiplier with a nonzero component); never NaN.  For ``N = inf`` and
        ``m != n`` this happens even at full rank: ``L(sigma^2, 0) = 0``, so the infinite-depth
        flow never leaves the row/column space of ``W``.

    Notes
    -----
    **E14**: with the full SVD ``W = U Sigma V^T`` (``sigma`` padded with zeros),

    .. math:: g^N_W(Z, Y) = \langle Z, A_{N,W}^{-1}(Y)\rangle
              = \sum_{ij} \frac{(U^\top Z V)_{ij} (U^\top Y V)_{ij}}{a_N(\sigma_i, \sigma_j)},

    so the Riemannian gradient of ``ell`` is ``A_{N,W}(grad ell)`` and E3 is its gradient flow:
    ``g(A_{N,W}(G), Z) = <G, Z> = D ell(W)[Z]``.  For ``N = inf`` the multiplier is ``L(sigma_i^2,
    sigma_j^2)``.  ``N = 1`` is the Frobenius inner product.
    """
    N = resolve_depth(depth)
    if rescaled is None:
        rescaled = N == np.inf
    if N == np.inf and not rescaled:
        raise ValueError("depth=inf only exists for the rescaled metric N g^N; pass rescaled=True (or None)")
    W = as_float_array(W, "W", min_ndim=2)
    Z = as_float_array(Z, "Z", min_ndim=2)
    Y = Z if Y is None else as_float_array(Y, "Y", min_ndim=2)
    for name, X in (("Z", Z), ("Y", Y)):
        if X.shape[-2:] != W.shape[-2:]:
            raise ValueError(f"{name} has shape {X.shape} but W has shape {W.shape}: tangent vectors "
                             f"are (..., {W.shape[-2]}, {W.shape[-1]}) matrices like W")
    U, rows, cols, Vt = _singular_coordinates(W, Z)
    a = rescaled_multiplier(rows[..., :, None], cols[..., None, :], N)
    if not rescaled:
        a = a * N
    cz = _T(U) @ Z @ _T(Vt)
    cy = cz if Y is Z else _T(U) @ Y @ _T(Vt)
    prod = cz * cy
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a > 0, prod / np.where(a > 0, a, 1.0), np.where(prod == 0, 0.0, np.sign(prod) * np.inf))
    if Y is not Z and np.any(np.isposinf(terms).any(axis=(-2, -1)) & np.isneginf(terms).any(axis=(-2, -1))):
        raise ValueError("W is rank deficient and Z, Y leave its rank stratum in opposite directions: "
                         "g(Z, Y) is undefined there; use a full-rank W")
    return terms.sum(axis=(-2, -1))


def minimum_norm_lift(weights, Z):
    r"""Smallest change of the factors that moves ``W = W_N ... W_1`` by ``Z`` to first order.

    Parameters
    ----------
    weights : list of 2-D arrays ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``
    Z : array, shape ``(m, n)``

    Returns
    -------
    list of arrays
        ``[dW_1, ..., dW_N]`` minimising ``sum_j ||dW_j||_F^2`` subject to
        ``J(dW) = sum_j W_{N:j+1} dW_j W_{j-1:1} = Z`` (least squares if ``Z`` is not reachable).

    Notes
    -----
    Independent of E14 on purpose (it is the other side of the submersion check): the minimiser
    is ``dW = J^*(Y)`` with ``J J^*(Y) = Z``; ``J^*`` is the E1 map ``Y -> [W_{N:j+1}^T Y
    W_{j-1:1}^T]_j`` (:func:`dmf_edu.layer_gradients`) and ``J J^* (Y) = sum_j W_{N:j+1}
    W_{N:j+1}^T Y W_{j-1:1}^T W_{j-1:1}`` is assembled as an ``mn x mn`` matrix of Kronecker
    products and solved by least squares.  For balanced factors ``J J^* = A_{N,W}`` (E3), so
    ``sum_j ||dW_j||^2 = <Z, A^{-1} Z> = g^N_W(Z, Z)`` (E14: the metric is a Riemannian submersion).
    """
    weights = check_weights(weights)
    if any(w.ndim != 2 for w in weights):
        raise ValueError("weights must be unbatched 2-D factors for minimum_norm_lift")
    m, n = weights[-1].shape[0], weights[0].shape[1]
    Z = as_float_array(Z, "Z", ndim=2)
    if Z.shape != (m, n):
        raise ValueError(f"Z has shape {Z.shape} but W = W_N ... W_1 is {m}x{n}")
    N = len(weights)
    pre = [np.eye(n)] + prefix_products(weights)            # pre[j] = W_{j:1}, pre[0] = I
    K = np.zeros((m * n, m * n))
    suffix = np.eye(m)                                       # W_{N:j+1}, built from the top
    for j in range(N, 0, -1):
        left = suffix @ suffix.T
        right = pre[j - 1].T @ pre[j - 1]
        K += np.kron(left, right.T)                          # row-major vec(P Y R) = (P kron R^T) vec Y
        suffix = suffix @ weights[j - 1]
    y = np.linalg.lstsq(K, Z.ravel(), rcond=None)[0]
    return layer_gradients(weights, y.reshape(m, n))


def _log_multiplier(x, y, N):
    r"""``log m_N(x, y)`` without under/overflow, by homogeneity.

    ``m_N(c x, c y) = c^{2(N-1)/N} m_N(x, y)`` (and ``L(c^2 x^2, c^2 y^2) = c^2 L``), so with
    ``c = max(x, y)``: ``log m_N(x, y) = (2(N-1)/N) log c + log m_N(1, min/c)``, where
    ``m_N(1, r) >= 1/N`` (finite ``N``) never underflows.  For ``N = inf`` and ``r < 1e-100``
    (where ``r^2`` would underflow) ``log L(1, r^2) = log(1 - r^2) - log(2 log(1/r))`` is used,
    with ``log(1 - r^2) = 0`` to double precision.  ``-inf`` when the multiplier is 0
    (``x = y = 0``, ``N >= 2``; a zero argument, ``N = inf``).
    """
    c = np.maximum(x, y)
    deg = 2.0 if N == np.inf else 2.0 * (N - 1) / N
    safe = np.where(c > 0, c, 1.0)
    r = np.minimum(x, y) / safe
    with np.errstate(divide="ignore"):
        inner = np.log(rescaled_multiplier(np.ones_like(c), r, N))
        if N == np.inf:
            tiny = (r < 1e-100) & (r > 0)
            inner = np.where(tiny, -np.log(-2.0 * np.log(np.where(tiny, r, 0.5))), inner)
        out = deg * np.log(safe) + inner
    if deg == 0.0:                                   # N = 1: m = 1 everywhere (0^0 = 1)
        return np.zeros_like(out)
    return np.where(c > 0, out, -np.inf)


def _pairs(s):
    """Values of the pairs ``i < j`` of the last axis: two arrays of shape ``(..., d(d-1)/2)``."""
    i, j = np.triu_indices(s.shape[-1], k=1)
    return s[..., i], s[..., j]


def _singular_values(singular_values):
    s = as_float_array(singular_values, "singular_values", min_ndim=1)
    if np.any(s < 0):
        raise ValueError("singular_values must be >= 0 (pass numpy.linalg.svd(W, compute_uv=False))")
    return s


def volume_density(singular_values, depth, *, log=False):
    r"""Riemannian volume density of the rescaled metric ``N g^N`` in SVD coordinates (E15).

    Parameters
    ----------
    singular_values : array, shape ``(..., d)``
        Singular values of a square ``d x d`` end-to-end matrix (any order).
    depth : int >= 1 or numpy.inf
    log : bool
        Return the natural log of the density (recommended: the density over- and underflows
        quickly with ``d``).

    Returns
    -------
    ndarray, shape ``(...)``
        The density (or its log).  Coincident singular values (including two zeros) give 0
        (log ``-inf``); otherwise a zero singular value gives ``+inf`` for ``N >= 2``.  Never NaN.

    Notes
    -----
    **E15**: writing ``W = U diag(sigma) V^T``, the metric with multipliers ``m(x, y)``
    (``m_N = a_N / N``, or ``L`` for ``N = inf``) has, per singular value, the factor
    ``m(sigma_i, sigma_i)^{-1/2}`` and, per pair ``i < j``, the factor
    ``|sigma_i^2 - sigma_j^2| / m(sigma_i, sigma_j)``:

    .. math:: \rho_N(\sigma) = \prod_i \sigma_i^{-(N-1)/N}
              \prod_{i<j} N\,|\sigma_i^{2/N} - \sigma_j^{2/N}|, \qquad
              \rho_\infty(\sigma) = \prod_i \sigma_i^{-1} \prod_{i<j} |\ln\sigma_i^2 - \ln\sigma_j^2|,

    with respect to ``d sigma`` times the invariant measure of the ``(U, V)`` rotations.  The
    constant is chosen so that ``rho_N -> rho_inf`` pointwise (``O(1/N)``): this is the volume
    of ``N g^N``; the volume of ``g^N`` itself is ``N^{-d^2/2} rho_N``.  ``N = 1`` gives the
    Euclidean ``prod_{i<j} |sigma_i^2 - sigma_j^2|``.  The pair factor is evaluated as
    ``|sigma_i - sigma_j| (sigma_i + sigma_j) / m`` with the stable multipliers, so nearly
    equal singular values keep their relative accuracy.
    """
    N = resolve_depth(depth)
    s = _singular_values(singular_values)
    x, y = _pairs(s)
    with np.errstate(divide="ignore", invalid="ignore"):        # masked below where x == y
        log_pair = np.log(np.abs(x - y)) + np.log(x + y) - _log_multiplier(x, y, N)
    log_diag = -0.5 * _log_multiplier(s, s, N)
    coincident = np.any(x == y, axis=-1)
    out = np.where(coincident, -np.inf, np.sum(log_diag, axis=-1)
                   + np.sum(np.where(x == y, 0.0, log_pair), axis=-1))
    return out if log else np.exp(out)


def fibre_entropy(singular_values, depth):
    r"""Boltzmann entropy of the fibre of balanced factorizations over ``W`` (E16).

    Parameters
    ----------
    singular_values : array, shape ``(..., d)``
        Singular values of ``W`` (any order).
    depth : int >= 1 or numpy.inf

    Returns
    -------
    ndarray, shape ``(...)``
        ``S_N = 1/2 sum_{i<j} log m_N(sigma_i, sigma_j)``.  Finite for coincident singular
        values; ``-inf`` when a pair has a zero multiplier (two zero singular values for finite
        ``N >= 2``, any zero for ``N = inf``): the fibre collapses.  0 for ``N = 1``.  Never NaN.

    Notes
    -----
    **E16**: the orbit of the hidden rotations over ``W`` in the balanced manifold has volume
    ``prop. prod_{i<j} sqrt(a_N(sigma_i, sigma_j))``, so ``S_N = const + 1/2 sum_{i<j} log a_N``.
    We fix the constant by using ``m_N = a_N / N`` (E4, E5), i.e. subtract
    ``(d(d-1)/4) log N``; then ``S_N -> S_inf = 1/2 sum_{i<j} log L(sigma_i^2, sigma_j^2)``
    pointwise at rate ``O(1/N)``.  Differences ``S_N(W) - S_N(W')`` do not depend on the constant.
    """
    N = resolve_depth(depth)
    s = _singular_values(singular_values)
    x, y = _pairs(s)
    return 0.5 * np.sum(_log_multiplier(x, y, N), axis=-1)
