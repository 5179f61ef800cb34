"""Generators that build a completion or sensing problem from a target matrix."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, check_int
from .completion import MatrixCompletion
from .sensing import MatrixSensing


def sample_completion(M, n_obs, rng=None, reduction="sum", method="auto"):
    """Observe ``n_obs`` entries of ``M`` chosen uniformly without replacement.

    Returns a :class:`MatrixCompletion` whose ``truth`` is ``M`` (positions sorted row-major).
    """
    M = as_float_array(M, "M", ndim=2)
    m, n = M.shape
    n_obs = check_int(n_obs, "n_obs", minimum=1)
    if n_obs > m * n:
        raise ValueError(f"n_obs = {n_obs} is more than the {m * n} entries of a {m}x{n} matrix")
    rng = as_rng(rng)
    flat = np.sort(rng.choice(m * n, size=n_obs, replace=False))
    rows, cols = np.divmod(flat, n)
    return MatrixCompletion((m, n), rows, cols, M[rows, cols], reduction=reduction,
                            method=method, truth=M)


def gaussian_sensing(M, n_measurements, rng=None, reduction="sum", precision="double"):
    """Gaussian sensing of ``M`` (m x n): ``A_k`` with i.i.d. ``N(0, 1/n^2)`` entries (THEORY.md §7).

    ``y = <A_k, M>`` is computed in float64 whatever the ``precision`` of the products."""
    M = as_float_array(M, "M", ndim=2)
    K = check_int(n_measurements, "n_measurements", minimum=1)
    rng = as_rng(rng)
    m, n = M.shape
    A = rng.standard_normal((K, m, n)) / n
    y = A.reshape(K, -1) @ M.ravel()
    return MatrixSensing(A, y, reduction=reduction, truth=M, precision=precision)


def commuting_sensing(eigenvalues, n_measurements, rng=None, basis=None, reduction="sum"):
    r"""Sensing with symmetric, commuting measurements (the setting of E9 / X4).

    ``A_k = Q diag(a_k) Q^T`` with ``a_k`` i.i.d. ``N(0, 1)``, and ground truth
    ``M = Q diag(eigenvalues) Q^T``; ``Q`` is ``basis`` (orthogonal, default the identity:
    diagonal sensing).  With fewer measurements than ``d`` the problem is underdetermined.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    d = lam.size
    K = check_int(n_measurements, "n_measurements", minimum=1)
    rng = as_rng(rng)
    Q = np.eye(d) if basis is None else as_float_array(basis, "basis", ndim=2)
    if Q.shape != (d, d) or not np.allclose(Q.T @ Q, np.eye(d), atol=1e-10):
        raise ValueError(f"basis must be an orthogonal {d}x{d} matrix")
    a = rng.standard_normal((K, d))
    A = np.einsum("ij,kj,lj->kil", Q, a, Q)
    M = (Q * lam) @ Q.T
    y = a @ lam
    return MatrixSensing(A, y, reduction=reduction, truth=M)


def full_observation(M):
    """:class:`MatrixCompletion` observing every entry of ``M`` (``(m, n)``): ``ell = 1/2 ||W - M||_F^2``."""
    M = as_float_array(M, "M", ndim=2)
    rows, cols = np.divmod(np.arange(M.size), M.shape[1])
    return MatrixCompletion(M.shape, rows, cols, M.ravel(), truth=M)
