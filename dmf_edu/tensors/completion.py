r"""Tensor completion (THEORY.md §10): the loss on a dense tensor and, straight from CP factors, the
loss with its factor gradients in ``O(K R N)`` (E20), never forming the tensor.

Observations ``W[index[k, 0], ..., index[k, N-1]] = values[k]``, ``k = 1 .. K``.  Two reductions (§0):

* ``"sum"``: ``ell(W) = 1/2 sum_k rho_k^2``, ``G = sum_k rho_k e_{i^k}`` (c = 1);
* ``"mean"``: ``ell(W) = (1/K) sum_k rho_k^2``, ``G = (2/K) sum_k rho_k e_{i^k}`` (c = 2/K),

``rho_k = W[i^k] - values[k]``.  A multi-index may be listed more than once: each listing is its own
term of the sum (and counts in ``K``), so ``G`` adds their residuals.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._validate import as_float_array, as_rng, check_test_count
from ..problems import REDUCTIONS
from .cp import check_factors, cp_to_tensor

__all__ = ["TensorCompletion", "heldout_error", "check_tensor"]


def _check_index(index, shape):
    """``index`` as an ``(K, N)`` intp array of in-range integers (one-line errors naming it)."""
    idx = np.asarray(index)
    N = len(shape)
    if idx.ndim != 2 or idx.shape[1] != N:
        raise ValueError(f"index must be an int array of shape (K, {N}), one row (i_1, ..., i_{N}) per "
                         f"observation, got shape {idx.shape}")
    if idx.shape[0] == 0:
        raise ValueError("index is empty: a completion problem needs at least one observation")
    if idx.dtype == bool or not np.issubdtype(idx.dtype, np.number):
        raise ValueError(f"index must hold integers, got dtype {idx.dtype}; pass an int array")
    if not np.issubdtype(idx.dtype, np.integer):
        if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
            raise ValueError("index holds non-integer values; pass whole-number positions (an int array)")
    low, high = idx.min(axis=0), idx.max(axis=0)
    for n, d in enumerate(shape):
        if low[n] < 0 or high[n] >= d:
            raise ValueError(f"index[:, {n}] has positions outside [0, {d - 1}] (found {int(low[n])} .. "
                             f"{int(high[n])}); mode {n} of the tensor has size {d}")
    return np.ascontiguousarray(idx.T.astype(np.intp))          # (N, K): one contiguous row per mode


def check_tensor(W, shape, name="W"):
    """``W`` as a float64 array of shape ``(..., *shape)``; one-line ``ValueError`` naming ``name``."""
    arr = as_float_array(W, name, min_ndim=len(shape))
    if arr.shape[arr.ndim - len(shape):] != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape} but the problem's tensor is "
                         f"{'x'.join(map(str, shape))}: pass an array of shape (..., {', '.join(map(str, shape))})")
    return arr


class TensorCompletion:
    r"""Tensor completion: fit ``W[i^k] = values[k]`` for the observed multi-indices ``i^k`` (§10).

    .. math:: \ell(W) = \tfrac12 \sum_{k} (W[i^k] - y_k)^2, \qquad G = \sum_k \rho_k e_{i^k}

    (``reduction="mean"``: ``(1/K) sum rho_k^2`` and ``G = (2/K) sum rho_k e_{i^k}``).

    Parameters
    ----------
    shape : sequence of N >= 2 ints
        ``(d_1, ..., d_N)``.
    index : int array, shape ``(K, N)``
        Row ``k`` is the multi-index ``(i_1, ..., i_N)`` of observation ``k`` (0-based).  Repeats
        are allowed: each listing is its own term.
    values : array, shape ``(..., K)``
        Observed values; leading axes give one problem per trial (same index).
    reduction : {"sum", "mean"}
    truth : array ``(..., d_1, ..., d_N)``, optional
        Ground truth for :meth:`evaluate`.

    Notes
    -----
    :meth:`loss_and_factor_gradients` is the training hot path: ``O(K R N)`` work and memory
    (E20's sparse form), with the scatter done by a ``d_n x K`` sparse selection matrix per mode.
    """

    def __init__(self, shape, index, values, reduction="sum", truth=None):
        try:
            dims = tuple(int(d) if isinstance(d, numbers.Integral) and not isinstance(d, bool) else None
                         for d in shape)
        except TypeError:
            raise ValueError(f"shape must be a sequence (d_1, ..., d_N) of positive ints, got {shape!r}") from None
        if None in dims or any(d < 1 for d in dims):
            raise ValueError(f"shape must be a sequence (d_1, ..., d_N) of positive ints, got {shape!r}")
        if len(dims) < 2:
            raise ValueError(f"shape {dims} has order {len(dims)}; tensor completion needs order N >= 2 "
                             "(use a vector fit for N = 1)")
        self.shape, self.order = dims, len(dims)
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'sum' (1/2 sum of squares) or 'mean' (mean of squares), "
                             f"got {reduction!r}")
        self.reduction = reduction
        self._modes = _check_index(index, dims)
        self.index = self._modes.T
        K = self._modes.shape[1]
        self.values = as_float_array(values, "values", min_ndim=1)
        if self.values.shape[-1] != K:
            raise ValueError(f"values has {self.values.shape[-1]} entries on its last axis but index lists {K} "
                             "observations; pass one value per row of index")
        self.n_observations = K
        self.truth = None if truth is None else check_tensor(truth, dims, "truth")
        self.flat_index = np.ravel_multi_index(tuple(self._modes), dims)   # positions in W.ravel()
        ones, ks = np.ones(K), np.arange(K)
        self._selectors = [sp.csr_matrix((ones, (m, ks)), shape=(d, K)) for m, d in zip(self._modes, dims)]

    def __repr__(self):
        return (f"TensorCompletion(shape={self.shape}, n_observations={self.n_observations}, "
                f"reduction={self.reduction!r}, batch_shape={self.values.shape[:-1]}, "
                f"truth={'yes' if self.truth is not None else 'no'})")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_tensor(cls, T, reduction="sum", truth=None):
        """A completion problem from a tensor whose missing entries are NaN (every other entry observed).

        Parameters
        ----------
        T : array ``(d_1, ..., d_N)``, NaN where missing; an infinite entry is an error.
        reduction, truth : as for :class:`TensorCompletion`

        Returns
        -------
        TensorCompletion
            Observations in row-major order of their multi-indices.
        """
        T = as_float_array(T, "T", min_ndim=2, finite=False)
        observed = ~np.isnan(T)
        if np.any(np.isinf(T)):
            raise ValueError("T has infinite entries; NaN marks a missing entry: replace an infinite entry by "
                             "NaN to treat it as missing, or by a finite value")
        if not observed.any():
            raise ValueError("T has no observed entry (every entry is NaN); a completion problem needs at "
                             "least one observation")
        index = np.argwhere(observed)
        return cls(T.shape, index, T[observed], reduction=reduction, truth=truth)

    def split(self, test, rng=None):
        """Split the observations into two disjoint problems ``(train, test)`` (THEORY.md §9).

        ``test``: a fraction in (0, 1) or a count; ``rng`` chooses the test part uniformly without
        replacement.  Both keep the shape, reduction and truth; observations keep their order.
        """
        K = self.n_observations
        chosen = np.zeros(K, dtype=bool)
        chosen[as_rng(rng).choice(K, size=check_test_count(test, K), replace=False)] = True
        return self._subset(np.flatnonzero(~chosen)), self._subset(np.flatnonzero(chosen))

    def _subset(self, idx):
        return TensorCompletion(self.shape, self.index[idx], self.values[..., idx], reduction=self.reduction,
                                truth=self.truth)

    # ------------------------------------------------------------------ the loss on a dense tensor

    @property
    def batch_shape(self):
        """The problem's own trial axes (the leading axes of ``values``)."""
        return self.values.shape[:-1]

    def coefficients(self):
        """``(c_loss, c_grad)``: ``loss = c_loss sum rho^2``, ``G = c_grad sum rho_k e_{i^k}`` (§0, §10)."""
        K = self.n_observations
        return (0.5, 1.0) if self.reduction == "sum" else (1.0 / K, 2.0 / K)

    def residuals(self, W):
        """``rho = W[index] - values``, shape ``(..., K)``, from a dense tensor ``(..., d_1, ..., d_N)``."""
        W = check_tensor(W, self.shape)
        flat = W.reshape(W.shape[:W.ndim - self.order] + (-1,))
        return np.take(flat, self.flat_index, axis=-1) - self.values

    def loss(self, W):
        """``ell(W)`` at a dense tensor, shape ``(...)``."""
        r = self.residuals(W)
        return self.coefficients()[0] * np.einsum("...k,...k->...", r, r)

    def loss_and_gradient(self, W):
        """``(loss (...), G (..., d_1, ..., d_N))`` at a dense tensor; repeated indices add up in ``G``."""
        r = self.residuals(W)
        c_loss, c_grad = self.coefficients()
        loss = c_loss * np.einsum("...k,...k->...", r, r)
        lead, size = r.shape[:-1], int(np.prod(self.shape))
        rows = np.arange(int(np.prod(lead, dtype=int)))[:, None] * size + self.flat_index
        G = np.bincount(rows.ravel(), weights=(c_grad * r).ravel(), minlength=rows.shape[0] * size)
        return loss, G.reshape(lead + self.shape)

    def gradient(self, W):
        """``G = grad ell(W)``, shape ``(..., d_1, ..., d_N)``."""
        return self.loss_and_gradient(W)[1]

    # ------------------------------------------------------------------ straight from the factors

    def _rows(self, factors):
        """Gathered rows ``A_n[..., index[:, n], :]``, each ``(..., K, R)``."""
        return [np.take(A, m, axis=-2) for A, m in zip(factors, self._modes)]

    def predict(self, factors):
        """The CP tensor at the observed multi-indices, ``(..., K)``, in ``O(K R N)`` (never the tensor)."""
        factors = self._check(factors)
        rows = self._rows(factors)
        prod = rows[0]
        for B in rows[1:]:
            prod = prod * B
        return prod.sum(axis=-1)

    def _check(self, factors):
        factors = check_factors(factors)
        got = tuple(A.shape[-2] for A in factors)
        if got != self.shape:
            raise ValueError(f"factors give a {'x'.join(map(str, got))} tensor but the problem is "
                             f"{'x'.join(map(str, self.shape))}: A_n must be (..., d_n, R) with "
                             f"(d_1, ..., d_N) = {self.shape}")
        return factors

    def loss_and_factor_gradients(self, factors):
        r"""Loss and E20's factor gradients straight from the factors: ``O(K R N)``, never the tensor.

        With the gathered rows ``B_n = A_n[index[:, n]]`` (``K x R``), the products of the other
        modes ``P_n = prod_{n' != n} B_{n'}`` (prefix and suffix products over the modes, no
        division), ``rho = sum_r P_0 * B_0 - values`` and

        .. math:: \frac{\partial\phi}{\partial A_n}[i, r] = c \sum_{k: i^k_n = i} \rho_k P_n[k, r]
                  \qquad (c = 1 \text{ sum}, \; 2/K \text{ mean}),

        scattered with one sparse 0/1 selection matrix per mode (repeated indices add up).  About ``3N`` products
        of ``K x R`` arrays; the memory is ``O(K R N)``.

        Parameters
        ----------
        factors : list of arrays
            ``[A_1, ..., A_N]``, ``A_n`` of shape ``(..., d_n, R)`` with ``d_n = shape[n]``.

        Returns
        -------
        loss : ndarray, shape ``(...)``
        grads : list of arrays
            ``[dphi/dA_1, ..., dphi/dA_N]``, each ``(..., d_n, R)`` (broadcast leading shape); equal
            to :func:`~dmf_edu.tensors.cp_gradients` ``(factors, self.gradient(cp_to_tensor(factors)))``.
        """
        return self.loss_and_factor_gradients_unchecked(self._check(factors))

    def loss_and_factor_gradients_unchecked(self, factors):
        """:meth:`loss_and_factor_gradients` without the argument checks (float64 factors of the
        problem's shapes; the training loop's hot path, E20)."""
        rows = self._rows(factors)
        N = len(rows)
        prefix = [None, rows[0]]                      # prefix[n] = B_0 * ... * B_{n-1}
        for n in range(1, N - 1):
            prefix.append(prefix[-1] * rows[n])
        r = np.einsum("...kr,...kr->...k", prefix[N - 1], rows[N - 1]) - self.values
        c_loss, c_grad = self.coefficients()
        loss = c_loss * np.einsum("...k,...k->...", r, r)
        weight = (c_grad * r)[..., None]
        grads = [None] * N
        grads[N - 1] = self._scatter(N - 1, weight * prefix[N - 1])
        suffix = rows[N - 1]                          # B_{n+1} * ... * B_{N-1}, built downwards
        for n in range(N - 2, 0, -1):
            grads[n] = self._scatter(n, weight * prefix[n] * suffix)
            suffix = suffix * rows[n]
        grads[0] = self._scatter(0, weight * suffix)
        return loss, grads

    def _scatter(self, n, contrib):
        """``out[..., i, r] = sum_{k: index[k, n] = i} contrib[..., k, r]`` (repeated indices add up).

        One product with the ``d_n x K`` 0/1 selection matrix of mode ``n`` (CSR, built once): scipy's
        sparse-times-dense loop, about 2x faster than ``np.bincount`` over the ``K R`` entries.
        """
        S = self._selectors[n]
        if contrib.ndim == 2:
            return S @ contrib
        lead, R = contrib.shape[:-2], contrib.shape[-1]
        flat = np.moveaxis(contrib, -2, 0).reshape(contrib.shape[-2], -1)
        return np.moveaxis((S @ flat).reshape((S.shape[0],) + lead + (R,)), 0, -2)

    # ------------------------------------------------------------------ errors

    def train_error(self, W):
        """Mean squared residual over the observations, ``(...)`` (dense ``W``, or a list of factors)."""
        r = self._model_residuals(W)
        return np.mean(r * r, axis=-1)

    def _model_residuals(self, W):
        if isinstance(W, (list, tuple)):
            return self.predict(W) - self.values
        return self.residuals(W)

    def evaluate(self, W, truth=None):
        r"""Errors of ``W`` (a dense tensor ``(..., d_1, ..., d_N)`` or a list of CP factors), ``(...)`` each.

        * ``loss`` and ``train_error`` (mean squared residual): over this problem's observations only;
        * with a ground truth (``truth`` or ``self.truth``): ``reconstruction_error``
          ``= ||W - W*||_F^2 / ||W*||_F^2`` (§10's error; the matrix package's mean squared error
          when ``||W*||_F^2`` is the number of entries), ``relative_error`` ``= ||W - W*||_F / ||W*||_F``
          and ``mse``, the mean squared error over all entries.

        Not a held-out error: for that, split the problem and use :func:`heldout_error` on the test part.
        """
        r = self._model_residuals(W)
        c_loss = self.coefficients()[0]
        out = {"loss": c_loss * np.einsum("...k,...k->...", r, r), "train_error": np.mean(r * r, axis=-1)}
        truth = self.truth if truth is None else check_tensor(truth, self.shape, "truth")
        if truth is not None:
            dense = cp_to_tensor(W) if isinstance(W, (list, tuple)) else check_tensor(W, self.shape)
            axes = tuple(range(-self.order, 0))
            den = np.sum(truth * truth, axis=axes)
            if np.any(den == 0):
                raise ValueError("truth is zero: the relative errors need a nonzero ground truth; use 'mse'")
            err = np.sum((dense - truth) ** 2, axis=axes)
            out.update(reconstruction_error=err / den, relative_error=np.sqrt(err / den),
                       mse=err / int(np.prod(self.shape)))
        return out


def heldout_error(W, test_problem):
    r"""Held-out error: mean squared error over the test problem's observations (THEORY.md §9).

    Parameters
    ----------
    W : dense tensor ``(..., d_1, ..., d_N)``, or a list of CP factors ``[A_1, ..., A_N]``
        (computed in ``O(K R N)`` from the factors, never forming the tensor).
    test_problem : TensorCompletion
        The held-out part of ``problem.split(test)``.

    Returns
    -------
    ndarray of shape ``(...)``.
    """
    if not isinstance(test_problem, TensorCompletion):
        raise TypeError("test_problem must be a TensorCompletion (e.g. the second part of problem.split(0.2)), "
                        f"got {type(test_problem).__name__}")
    return test_problem.train_error(W)
