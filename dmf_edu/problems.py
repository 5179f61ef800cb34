r"""Matrix completion and matrix sensing problems, and the generators that build them from a target.

A problem owns the loss on the end-to-end matrix, ``loss(W)``, and its gradient
``G = gradient(W)``; the factorization turns ``G`` into layer gradients (E1).  Every
method accepts ``W`` of shape ``(..., m, n)`` (leading axes are independent trials)
and returns per-trial losses of shape ``(...)``.

Both problems are quadratic in a linear **measurement map** ``A: R^{m x n} -> R^K``
(:meth:`Problem.forward`; entries for completion, ``<A_k, W>`` for sensing) with observed
data ``b`` (:attr:`Problem.data`): ``ell(W) = c_l ||A(W) - b||^2``, ``G = c_g A^*(A(W) - b)``
(:meth:`Problem.adjoint`, :attr:`Problem.loss_factors`) and the constant Hessian
``H_ell[Z] = c_g A^*(A(Z))`` (:meth:`Problem.loss_hessian_apply`, E17).  The training loop,
the flows, the landscape and the convex baselines all use this one map.

Two reductions (THEORY.md §0):

* ``"sum"``: ``ell(W) = 1/2 sum_k r_k^2`` — the convention of the theory;
* ``"mean"``: ``ell(W) = (1/K) sum_k r_k^2`` — the reference code's train loss (no 1/2),
  so its learning rates carry over; for plain GD ``lr_sum = 2 lr_mean / K``.

The target matrices themselves (:func:`random_low_rank`, :func:`separated_target`) live in
:mod:`dmf_edu.targets` and are re-exported here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._validate import as_float_array, as_rng, check_int, check_matrix_like, check_shape, check_test_count
from .metrics import reconstruction_error, relative_error


REDUCTIONS = ("sum", "mean")
_BLOCK_BYTES = 1 << 20          # rows of A per block: about 1 MB, so a block stays in L2 cache


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' (1/2 sum of squares) or 'mean' (mean of squares), got {reduction!r}")
    return reduction


def _check_finite_observed(M, observed, name, fix, what="NaN or infinite"):
    bad = observed & ~np.isfinite(M)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} observed entr{'y' if bad.sum() == 1 else 'ies'} that "
                         f"{'is' if bad.sum() == 1 else 'are'} {what} (first at {where}); {fix}")


class Problem:
    """Common interface: ``shape``, ``reduction``, ``truth``, the measurement map and loss/gradient on ``W``."""

    shape: tuple
    reduction: str
    data: np.ndarray        # the observed data b, shape (..., K): ``values`` (completion) or ``y`` (sensing)
    truth = None

    @property
    def loss_factors(self):
        """``(c_l, c_g)``: ``loss = c_l sum_k r_k^2`` and ``G = c_g A^*(r)`` with ``r = A(W) - b``.

        ``(1/2, 1)`` for ``reduction="sum"``, ``(1/K, 2/K)`` for ``"mean"`` (THEORY.md §0).
        """
        k = self.n_observations
        return (0.5, 1.0) if self.reduction == "sum" else (1.0 / k, 2.0 / k)

    def forward(self, X):
        """The measurement map ``A(X)``, shape ``(..., K)``, for ``X`` of shape ``(..., m, n)``."""
        return self._forward(check_matrix_like(X, self.shape, "X"))

    def adjoint(self, r):
        """The adjoint ``A^*(r) = sum_k r_k A_k``, shape ``(..., m, n)``, for ``r`` of shape ``(..., K)``."""
        r = as_float_array(r, "r", min_ndim=1)
        if r.shape[-1] != self.n_observations:
            raise ValueError(f"r has {r.shape[-1]} entries on its last axis but the problem has "
                             f"{self.n_observations} observations: pass an array of shape (..., {self.n_observations})")
        return self._adjoint(r)

    def loss_hessian_apply(self, Z):
        r"""The Hessian of the loss applied to ``Z``: ``H_ell[Z] = c_g A^*(A(Z))``, shape ``(..., m, n)``.

        Both losses are quadratic, ``ell(W) = c_l ||A(W) - b||^2``, so the Hessian is independent
        of ``W``: ``c_g P_Omega(Z)`` for completion, ``c_g sum_k <A_k, Z> A_k`` for sensing, with
        ``c_g = 1`` for ``reduction="sum"`` and ``2/K`` for ``"mean"`` (:attr:`loss_factors`;
        the Gauss-Newton part of E17).
        """
        return self.loss_factors[1] * self._adjoint(self._forward(check_matrix_like(Z, self.shape, "Z")))

    def loss(self, W):
        """Loss ``ell(W)``, shape ``(...)``."""
        W = check_matrix_like(W, self.shape)
        r = self.residuals(W)
        return self.loss_factors[0] * np.sum(r * r, axis=-1)

    def gradient(self, W):
        """Gradient ``G = grad ell(W)``, shape ``(..., m, n)`` (a scipy sparse matrix on the sparse path)."""
        return self.loss_and_gradient(W)[1]

    def stacked_loss_and_gradient(self, W, block_bytes=None, counts=None):
        """``(loss (R,), G (R, m, n))`` at a stack ``W`` ``(R, m, n)`` shared by ``R`` runs, unchecked.

        The numbers of ``loss_and_gradient(W)`` (to float rounding), for :mod:`dmf_edu.training.lockstep`.
        Sensing overrides it with one blocked pass over the measurements (``block_bytes``) that
        also serves nested measurement sets (``counts``).
        """
        if counts is not None:
            raise ValueError("counts (nested measurement sets) needs a MatrixSensing problem without trial axes")
        return self.loss_and_gradient_unchecked(W)

    @property
    def batch_shape(self):
        """Leading (trial) axes of the data: one problem per trial when non-empty."""
        return self.data.shape[:-1]

    def residuals(self, W):
        """``A(W) - b``, shape ``(..., K)`` (``W`` unchecked)."""
        return self._forward(W) - self.data

    def loss_and_gradient(self, W):
        """``(loss, G)`` in one pass, ``W`` checked; see :meth:`loss_and_gradient_unchecked`."""
        return self.loss_and_gradient_unchecked(check_matrix_like(W, self.shape))

    def train_error(self, W):
        """Mean squared residual over the observations (the reference code's train loss)."""
        W = check_matrix_like(W, self.shape)
        r = self.residuals(W)
        return np.mean(r * r, axis=-1)

    def evaluate(self, W, truth=None):
        """Errors of ``W`` (shape ``(..., m, n)``), a dict of arrays of shape ``(...)``.

        * ``loss`` and ``train_error`` average over **this problem's observations only** (its
          observed entries Omega, or its measurements): the entries the method was fitted to.
        * with a ground truth (``truth`` or ``self.truth``): ``reconstruction_error``, the MSE
          over **all** ``m n`` entries (the observed ones included; the published figures'
          measure), and ``relative_error`` (relative Frobenius, all entries).

        Neither is a held-out error.  On real data, where the truth is known only where
        observed, use ``train, test = problem.split(0.2)``, train on ``train`` and report
        :func:`dmf_edu.heldout_error` ``(W, test)`` (THEORY.md §9).
        """
        W = check_matrix_like(W, self.shape)
        out = {"loss": self.loss(W), "train_error": self.train_error(W)}
        truth = self.truth if truth is None else truth
        if truth is not None:
            out["reconstruction_error"] = reconstruction_error(W, truth)
            out["relative_error"] = relative_error(W, truth)
        return out

    def split(self, test, rng=None):
        """Split the observations into two disjoint problems ``(train, test)`` (THEORY.md §9).

        Parameters
        ----------
        test : float in (0, 1) or int
            The test part: a fraction of the observations (rounded to the nearest count) or a
            count.  Both parts must be non-empty.
        rng : None, int or numpy Generator
            Which observations go to the test part (uniformly without replacement).

        Returns
        -------
        (train, test) : two problems of the same class, shape, reduction, ground truth and
            (for completion) storage path ``method``; their observations are disjoint and
            together are this problem's.  Observations keep their order within each part.
        """
        K = self.n_observations
        n_test = check_test_count(test, K)
        chosen = np.zeros(K, dtype=bool)
        chosen[as_rng(rng).choice(K, size=n_test, replace=False)] = True
        return self._subset(np.flatnonzero(~chosen)), self._subset(np.flatnonzero(chosen))


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
        self.reduction = _check_reduction(reduction)
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
            _check_finite_observed(M, observed, "M", "NaN marks a missing entry; replace an infinite "
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
        _check_finite_observed(M, np.broadcast_to(mask, M.shape), "M",
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
        self.reduction = _check_reduction(reduction)
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
        block = max(1, (_BLOCK_BYTES if block_bytes is None else block_bytes) // (mn * A2.itemsize))
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
