r"""Errors, ranks and norms of end-to-end matrices.  All act on the last two axes of ``(..., m, n)``."""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_int, check_positive


def _pair(W, M):
    W = as_float_array(W, "W", min_ndim=2)
    M = as_float_array(M, "M", min_ndim=2)
    if W.shape[-2:] != M.shape[-2:]:
        raise ValueError(f"W has shape {W.shape} but the ground truth M has shape {M.shape}")
    return W, M


def reconstruction_error(W, M):
    r"""Mean squared error over all ``m n`` entries, ``mean((W - M)^2)``.

    This is the "reconstruction error" of the published figures (arXiv 1905.13655); for
    ground truth normalised to ``||M||_F^2 = m n`` it equals ``||W - M||_F^2 / ||M||_F^2``.
    """
    W, M = _pair(W, M)
    return np.mean((W - M) ** 2, axis=(-2, -1))


def heldout_error(W, test_problem):
    r"""Held-out error: the mean squared error over the test problem's entries (THEORY.md §9).

    .. math:: \frac{1}{|\Omega_{te}|} \sum_{(i,j) \in \Omega_{te}} (W_{ij} - M_{ij})^2

    Parameters
    ----------
    W : array ``(..., m, n)``
        End-to-end matrix (``run.W``, or ``end_to_end(weights)``).
    test_problem : MatrixCompletion or MatrixSensing
        The held-out part from ``problem.split(test)``, never trained on.  For a sensing problem
        the average is over its measurements: ``mean_k (<A_k, W> - y_k)^2``.

    Returns
    -------
    ndarray of shape ``(...)`` (0-d for one matrix).  Works on the dense and the sparse path.
    """
    if not hasattr(test_problem, "residuals") or not hasattr(test_problem, "shape"):
        raise TypeError("test_problem must be a MatrixCompletion or MatrixSensing (e.g. the second part of "
                        f"problem.split(0.2)), got {type(test_problem).__name__}")
    if isinstance(W, (list, tuple)) and W and np.ndim(W[0]) == 2 and len({np.shape(w) for w in W}) > 1:
        raise TypeError("W must be the end-to-end matrix, not a list of factors: pass run.W or end_to_end(weights)")
    W = as_float_array(W, "W", min_ndim=2)
    m, n = test_problem.shape
    if W.shape[-2:] != (m, n):
        raise ValueError(f"W has shape {W.shape} but test_problem is {m}x{n}: pass the end-to-end matrix "
                         f"of shape (..., {m}, {n}) trained on the same matrix")
    r = test_problem.residuals(W)
    return np.mean(r * r, axis=-1)


def relative_error(W, M):
    r"""Relative Frobenius error ``||W - M||_F / ||M||_F`` (``M`` must be nonzero)."""
    W, M = _pair(W, M)
    den = np.linalg.norm(M, axis=(-2, -1))
    if np.any(den == 0):
        raise ValueError("relative_error needs a nonzero ground truth M; use reconstruction_error")
    return np.linalg.norm(W - M, axis=(-2, -1)) / den


def singular_values(W, k=None):
    """Singular values of ``W`` in descending order, shape ``(..., min(m, n))`` (or ``(..., k)``)."""
    W = as_float_array(W, "W", min_ndim=2)
    s = np.linalg.svd(W, compute_uv=False)
    return s if k is None else s[..., :check_int(k, "k", minimum=1)]


def effective_rank_from_singular_values(s):
    """Roy & Vetterli effective rank of a descending vector ``s`` (last axis); 0 for ``s = 0``."""
    s = np.asarray(s, dtype=np.float64)
    total = s.sum(axis=-1, keepdims=True)
    p = np.divide(s, total, out=np.zeros_like(s), where=total > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return np.where(total[..., 0] > 0, np.exp(-plogp.sum(axis=-1)), 0.0)


def effective_rank(W):
    r"""Effective rank (Roy & Vetterli 2007): ``exp(-sum_i p_i log p_i)``, ``p_i = sigma_i / sum sigma``.

    Between 1 (rank one) and ``min(m, n)`` (all singular values equal); the zero matrix gets 0.
    Not the stable rank ``||W||_F^2 / ||W||_2^2``.
    """
    return effective_rank_from_singular_values(singular_values(W))


def schatten_norm(W, p):
    r"""Schatten-p (quasi-)norm ``(sum_i sigma_i^p)^{1/p}``, ``p > 0`` or ``p = inf`` (spectral)."""
    s = singular_values(W)
    if p == np.inf:
        return s[..., 0]
    p = check_positive(p, "p")
    return np.sum(s ** p, axis=-1) ** (1.0 / p)


def nuclear_norm(W):
    """Nuclear norm, the sum of singular values (Schatten-1)."""
    return np.sum(singular_values(W), axis=-1)
