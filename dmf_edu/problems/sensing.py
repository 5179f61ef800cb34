"""Matrix sensing: the measurement map is ``<A_k, W>`` for dense measurement matrices ``A_k``."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_matrix_like
from .base import BLOCK_BYTES, Problem, check_reduction


class MatrixSensing(Problem):
    r"""Matrix sensing: ``y_k = <A_k, M>``, fit ``<A_k, W> = y_k``.

    .. math:: \ell(W) = \tfrac12 \sum_k (\langle A_k, W\rangle - y_k)^2, \qquad G = \sum_k r_k A_k

    (``reduction="mean"``: ``(1/K) sum r_k^2`` and ``G = (2/K) sum r_k A_k``).  Computed as
    two ``K x mn`` matrix-vector products.

    Parameters
    ----------
    A : array, shape ``(K, m, n)``
    y : array, shape ``(..., K)`` (leading axes: one problem per trial, same ``A``)
    reduction : {"sum", "mean"}
    truth : array ``(..., m, n)``, optional
    precision : {"double", "single"}
        ``"single"`` stores ``A`` in float32 and computes the two products in float32 (half
        the memory traffic, about twice as fast for large ``K``); residuals and losses are
        float64.  The products then carry relative errors of about 1e-6, ample for train
        errors down to 1e-8; use ``"double"`` (default) for anything finer.
    """

    def __init__(self, A, y, reduction="sum", truth=None, precision="double"):
        A = as_float_array(A, "A", ndim=3)
        self.A = A
        K, m, n = A.shape
        self.shape = (m, n)
        self.reduction = check_reduction(reduction)
        self.y = as_float_array(y, "y", min_ndim=1)
        if self.y.shape[-1] != K:
            raise ValueError(f"y has {self.y.shape[-1]} values on its last axis but A has {K} measurements")
        self.n_observations = K
        self.data = self.y
        if precision not in ("double", "single"):
            raise ValueError(f"precision must be 'double' or 'single', got {precision!r}")
        self.precision = precision
        # rows vec(A_k), in the precision of the training products (float32 with "single")
        self.measurement_matrix = np.ascontiguousarray(A.reshape(K, m * n),
                                                       dtype=np.float64 if precision == "double" else np.float32)
        # forward/adjoint are always float64 (the convex baselines need the exact map)
        self._A64 = self.measurement_matrix if precision == "double" else A.reshape(K, m * n)
        self.truth = None if truth is None else check_matrix_like(truth, self.shape, "truth")

    def _subset(self, idx):
        """The problem made of measurements ``idx`` only."""
        return MatrixSensing(self.A[idx], self.y[..., idx], reduction=self.reduction, truth=self.truth,
                             precision=self.precision)

    def _forward(self, X):
        """``<A_k, X>``, shape ``(..., K)``, in float64 (unchecked)."""
        return _measure(X, self._A64)

    def _adjoint(self, r):
        """``sum_k r_k A_k``, shape ``(..., m, n)``, in float64 (unchecked)."""
        return _combine(r, self._A64, self.shape)

    def residuals(self, W):
        """``<A_k, W> - y_k``, shape ``(..., K)``, in the precision of the products (``W`` unchecked)."""
        return _measure(W, self.measurement_matrix) - self.y

    def loss_and_gradient_unchecked(self, W):
        """``(loss, G)`` in one pass, ``W`` not validated: the training hot path (two ``K x mn``
        products in the problem's ``precision``)."""
        c_loss, c_grad = self.loss_factors
        r = self.residuals(W)
        loss = c_loss * np.sum(r * r, axis=-1)
        return loss, _combine(c_grad * r, self.measurement_matrix, self.shape)

    def stacked_loss_and_gradient(self, W, block_bytes=None, counts=None):
        """Loss ``(R,)`` and gradient ``(R, m, n)`` at a stack ``W`` ``(R, m, n)``, in one blocked pass.

        For each block of rows of ``A`` small enough to stay in cache (``block_bytes``, default
        about 1 MB): the residuals of that block (row ``k`` of ``r`` needs only row ``k`` of
        ``A``) and its contribution to every ``G^(i)``.  ``A`` is thus read once for all ``R``
        matrices, instead of twice per matrix.  ``counts`` (optional, ``R`` ints): matrix ``i``
        sees only the first ``counts[i]`` measurements, as on its own prefix problem (nested
        measurement sets, X3).  ``W`` is not validated; with trial axes of its own (``y`` of
        more than one axis) the problem computes ``loss_and_gradient`` unblocked.
        """
        if self.y.ndim != 1:
            if counts is not None:
                raise ValueError("counts (nested measurement sets) needs a problem without trial axes")
            return self.loss_and_gradient_unchecked(W)
        A2, y = self.measurement_matrix, self.y
        K, mn = A2.shape
        R = W.shape[0]
        counts = np.full(R, K) if counts is None else np.asarray(counts)
        order = np.argsort(-counts, kind="stable")        # by decreasing count: the matrices in use are a prefix
        cs = counts[order]
        c_loss, c_grad = self.loss_factors
        scale = K / cs if self.reduction == "mean" else np.ones(R)     # mean: factors 1/k, 2/k of each prefix
        c_grad = (c_grad * scale)[:, None]
        w = W.reshape(R, mn)[order].astype(A2.dtype, copy=False)
        G = np.zeros((R, mn), A2.dtype)
        part = np.empty_like(G)
        loss = np.zeros(R)
        block = max(1, (BLOCK_BYTES if block_bytes is None else block_bytes) // (mn * A2.itemsize))
        bounds = sorted(set(range(0, int(cs[0]), block)) | {int(c) for c in cs})
        for start, stop in zip(bounds[:-1], bounds[1:]):
            a = int(np.count_nonzero(cs >= stop))           # matrices that see rows start .. stop - 1
            A_b = A2[start:stop]                            # (b, mn): read from memory once ...
            r = (w[:a] @ A_b.T).astype(np.float64) - y[start:stop]
            loss[:a] += np.einsum("rk,rk->r", r, r)
            np.matmul((c_grad[:a] * r).astype(A2.dtype, copy=False), A_b, out=part[:a])   # ... reused from cache
            G[:a] += part[:a]
        out_loss, out_G = np.empty(R), np.empty((R, mn))
        out_loss[order] = c_loss * scale * loss
        out_G[order] = G
        return out_loss, out_G.reshape(W.shape)


def _measure(W, A2):
    """``(<A_k, W>)_k`` as float64, shape ``(..., K)``, computed in the precision of ``A2`` (rows vec(A_k))."""
    w = W.reshape(W.shape[:-2] + (-1,)).astype(A2.dtype, copy=False)
    return (w @ A2.T).astype(np.float64, copy=False)


def _combine(r, A2, shape):
    """``sum_k r_k A_k`` as float64, shape ``(..., m, n)``, computed in the precision of ``A2``."""
    G = r.astype(A2.dtype, copy=False) @ A2
    return G.astype(np.float64, copy=False).reshape(r.shape[:-1] + shape)


# --------------------------------------------------------------------------- generators: problems from a target
