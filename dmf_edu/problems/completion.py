"""Matrix completion: the measurement map reads observed entries."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validate import as_float_array, check_matrix_like, check_shape
from .base import Problem, check_finite_observed, check_reduction


class MatrixCompletion(Problem):
    r"""Matrix completion: fit the observed entries ``W[rows[k], cols[k]] = values[k]``.

    .. math:: \ell(W) = \tfrac12 \sum_{(i,j)\in\Omega} (W_{ij} - M_{ij})^2, \qquad
              G = P_\Omega(W - M)

    (``reduction="mean"``: ``(1/|Omega|) sum (W_ij - M_ij)^2`` and ``G = (2/|Omega|) P_Omega(W - M)``).

    Parameters
    ----------
    shape : (m, n)
    rows, cols : int arrays, shape ``(K,)``
        Observed positions Omega, distinct pairs.
    values : array, shape ``(..., K)``
        Observed values; leading axes give one problem per trial (same Omega).
    reduction : {"sum", "mean"}
    method : {"auto", "dense", "sparse"}
        ``"dense"`` stores an ``m x n`` mask and is fastest for small matrices; ``"sparse"``
        touches only the ``K`` observed entries and returns a ``scipy.sparse`` gradient
        (CSC if ``m < n``, else CSR; unbatched ``W``).  ``"auto"`` picks sparse when
        ``m n > 250 000`` and at most 5 % of entries are observed (measured in
        ``benchmarks/bench_core.py``).
    truth : array ``(..., m, n)``, optional
        Ground truth for ``evaluate``.
    """

    def __init__(self, shape, rows, cols, values, reduction="sum", method="auto", truth=None):
        self.shape = check_shape(shape)
        m, n = self.shape
        self.reduction = check_reduction(reduction)
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        for name, idx, size in (("rows", rows, m), ("cols", cols, n)):
            if idx.ndim != 1:
                raise ValueError(f"{name} must be a 1-D array of indices, got shape {idx.shape}")
            if idx.dtype == bool or (idx.size and not np.issubdtype(idx.dtype, np.number)):
                raise TypeError(f"{name} must hold integer indices, got dtype {idx.dtype}")
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                if not np.all(np.isfinite(idx.astype(float))) or np.any(idx != np.round(idx)):
                    raise TypeError(f"{name} must hold integer indices")
            if idx.size and (idx.min() < 0 or idx.max() >= size):
                raise ValueError(f"{name} has indices outside [0, {size - 1}] for a {m}x{n} matrix")
        if rows.shape != cols.shape:
            raise ValueError(f"rows {rows.shape} and cols {cols.shape} must have the same length")
        if rows.size == 0:
            raise ValueError("rows/cols are empty: a completion problem needs at least one observation")
        self.rows, self.cols = rows.astype(np.intp), cols.astype(np.intp)
        flat = self.rows * n + self.cols
        if np.unique(flat).size != flat.size:
            raise ValueError("(rows, cols) lists an entry more than once; observations must be distinct")
        self.values = as_float_array(values, "values", min_ndim=1)
        if self.values.shape[-1] != rows.size:
            raise ValueError(f"values has {self.values.shape[-1]} entries on its last axis but there are {rows.size} positions")
        self.n_observations = rows.size
        self.data = self.values
        if method == "auto":
            method = "sparse" if (m * n > 250_000 and rows.size <= 0.05 * m * n
                                  and self.values.ndim == 1) else "dense"
        if method not in ("dense", "sparse"):
            raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {method!r}")
        if method == "sparse" and self.values.ndim > 1:
            raise ValueError("method='sparse' supports one set of values; use method='dense' for batched values")
        self.method = method
        self.truth = None if truth is None else check_matrix_like(truth, self.shape, "truth")
        self._flat = flat                       # row-major positions of Omega in W.ravel()
        self._flat_T = self.cols * m + self.rows  # ... and in W.T.ravel()
        if method == "dense":
            batch = self.values.shape[:-1]
            self.mask = np.zeros((m, n))
            self.mask[self.rows, self.cols] = 1.0
            self.target = np.zeros(batch + (m, n))
            self.target[..., self.rows, self.cols] = self.values
        else:        # G's structure, built once: CSC if m < n, else CSR (factorization._sparse_products)
            wide = m < n
            major, minor, key = (self.cols, self.rows, self._flat_T) if wide else (self.rows, self.cols, flat)
            order = np.argsort(key, kind="stable")
            index = np.int32 if max(m, n, rows.size) < 2 ** 31 - 1 else np.int64
            indptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=n if wide else m))])
            self._sparse = (sp.csc_matrix if wide else sp.csr_matrix,
                            None if np.all(order[1:] > order[:-1]) else order,
                            minor[order].astype(index), indptr.astype(index))

    @classmethod
    def from_matrix(cls, M, reduction="sum", method="auto", truth=None):
        """A completion problem from a matrix whose missing entries are NaN.

        The convention of imputation libraries: NaN marks a missing entry, every other entry is
        observed.  A scipy sparse matrix is read the sparse way instead: its stored entries
        (explicit zeros included) are the observations.

        Parameters
        ----------
        M : array ``(m, n)`` with NaN where missing, or a ``scipy.sparse`` matrix
            An infinite entry is an error (it is neither a value nor "missing").
        reduction, method, truth : as for :class:`MatrixCompletion`

        Returns
        -------
        MatrixCompletion
            Observations in row-major order; ``truth`` is ``None`` unless given.
        """
        if sp.issparse(M):
            coo = sp.coo_matrix(M)
            rows, cols, values = coo.row, coo.col, as_float_array(coo.data, "M's stored entries")
            shape = coo.shape
            order = np.lexsort((cols, rows))
            rows, cols, values = rows[order], cols[order], values[order]
        else:
            M = as_float_array(M, "M", ndim=2, finite=False)
            observed = ~np.isnan(M)
            check_finite_observed(M, observed, "M", "NaN marks a missing entry; replace an infinite "
                                   "entry by NaN to treat it as missing, or by a finite value", what="infinite")
            rows, cols = np.nonzero(observed)
            values, shape = M[rows, cols], M.shape
        if rows.size == 0:
            raise ValueError("M has no observed entry (every entry is NaN, or the sparse matrix stores none); "
                             "a completion problem needs at least one observation")
        return cls(shape, rows, cols, values, reduction=reduction, method=method, truth=truth)

    @classmethod
    def from_mask(cls, M, mask, reduction="sum", method="auto", truth=None):
        """A completion problem observing ``M`` where ``mask`` is true.

        Parameters
        ----------
        M : array ``(..., m, n)``
            Values; leading axes give one problem per trial.  Entries outside the mask are
            ignored (they may be NaN); a NaN or infinite entry inside the mask is an error.
        mask : bool array ``(m, n)``
            Omega (``0``/``1`` integers are accepted).
        reduction, method, truth : as for :class:`MatrixCompletion`

        Returns
        -------
        MatrixCompletion
            Observations in row-major order.
        """
        M = as_float_array(M, "M", min_ndim=2, finite=False)
        mask = np.asarray(mask)
        if mask.shape != M.shape[-2:]:
            raise ValueError(f"mask has shape {mask.shape} but M is {M.shape}: pass a boolean mask of shape "
                             f"{M.shape[-2:]}, true where an entry is observed")
        if mask.dtype != bool:
            if not np.issubdtype(mask.dtype, np.number) or not np.all((mask == 0) | (mask == 1)):
                raise TypeError(f"mask must be boolean (or 0/1), got dtype {mask.dtype}")
            mask = mask.astype(bool)
        if not mask.any():
            raise ValueError("mask observes no entry; a completion problem needs at least one observation")
        check_finite_observed(M, np.broadcast_to(mask, M.shape), "M",
                               "every observed entry needs a finite value; drop it from the mask or fix the value")
        rows, cols = np.nonzero(mask)
        return cls(M.shape[-2:], rows, cols, M[..., rows, cols], reduction=reduction, method=method, truth=truth)

    def _subset(self, idx):
        """The problem made of observations ``idx`` only (same path, reduction and truth)."""
        return MatrixCompletion(self.shape, self.rows[idx], self.cols[idx], self.values[..., idx],
                                reduction=self.reduction, method=self.method, truth=self.truth)

    def observed_mask(self):
        """Boolean ``(m, n)`` mask of Omega."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.rows, self.cols] = True
        return mask

    def _forward(self, X):
        """``X[Omega]``, shape ``(..., K)`` (unchecked)."""
        if X.ndim == 2 and X.flags.c_contiguous:
            return X.reshape(-1).take(self._flat)
        return np.take(X.reshape(X.shape[:-2] + (-1,)), self._flat, axis=-1)

    def _adjoint(self, r):
        """``P_Omega``: ``r`` (``(..., K)``) scattered into zeros of shape ``(..., m, n)`` (unchecked)."""
        out = np.zeros(r.shape[:-1] + self.shape)
        out.reshape(r.shape[:-1] + (-1,))[..., self._flat] = r
        return out

    def loss_and_gradient_unchecked(self, W):
        """``(loss, G)`` in one pass, ``W`` not validated: the training hot path.

        Both paths touch only the ``K`` observed entries; ``"sparse"`` returns ``G`` as CSC when
        ``m < n`` and CSR otherwise (the faster layout for the backward pass's two products).
        """
        c_loss, c_grad = self.loss_factors
        r = self.residuals(W)
        loss = c_loss * (r @ r if r.ndim == 1 else np.einsum("...k,...k->...", r, r))
        if c_grad != 1.0:
            r *= c_grad
        if r.ndim == 1:
            if self.method == "sparse":
                container, order, indices, indptr = self._sparse
                return loss, container((r if order is None else r.take(order), indices, indptr), shape=self.shape)
            GT = np.zeros(self.shape[::-1])             # G in Fortran order: its transpose is contiguous
            GT.reshape(-1)[self._flat_T] = r
            return loss, GT.T
        return loss, self._adjoint(r)
