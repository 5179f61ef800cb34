r"""The end-to-end operator ``A_{N,W}`` of E3 in the singular basis (E4, E5), its inverse,
the velocity a set of factors induces on ``W`` and the numerical check of the E3 identity."""

from __future__ import annotations

import numpy as np

from .._validate import check_int, check_weights
from ..factorization import layer_gradients, prefix_products
from ..linalg import multiplier_matrix, psd_power, resolve_depth
from ._matrices import check_pair, floored_svd, pad_values, swap

__all__ = [
    "end_to_end_operator", "end_to_end_operator_sum", "end_to_end_operator_inverse",
    "induced_velocity", "check_end_to_end_dynamics",
]


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
    W, Z = check_pair(W, Z, "Z")
    m, n = W.shape[-2:]
    U, s, Vt = floored_svd(W, full_matrices=True)
    a = multiplier_matrix(pad_values(s, m), pad_values(s, n), N)
    return U @ (a * (swap(U) @ Z @ swap(Vt))) @ Vt


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
    W, Z = check_pair(W, Z, "Z")
    left, right = W @ swap(W), swap(W) @ W                      # W W^T (m x m), W^T W (n x n)
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
    W, Z = check_pair(W, Z, "Z")
    m, n = W.shape[-2:]
    if N == np.inf and m != n:
        raise ValueError(f"W is {m}x{n}: at depth=inf the operator is only invertible for square W "
                         "(L(sigma^2, 0) = 0 outside the row and column spaces); use a finite depth")
    U, s, Vt = floored_svd(W, full_matrices=True)
    a = multiplier_matrix(pad_values(s, m), pad_values(s, n), N)
    if np.any(a <= 0):
        raise ValueError(f"W is rank deficient (rank {int(np.min(np.sum(s > 0, axis=-1)))} "
                         f"< {min(m, n)} in some trial): A_{{N,W}} is not invertible there "
                         "(a_N(0, 0) = 0 for N >= 2); pass a full-rank W")
    return U @ ((swap(U) @ Z @ swap(Vt)) / a) @ Vt


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
