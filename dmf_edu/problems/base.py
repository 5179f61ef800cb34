"""The common part of every problem: the reductions, the checks of observed data, and
:class:`Problem` (one measurement map: forward, adjoint, loss, gradient, Hessian products)."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, check_matrix_like, check_test_count
from ..metrics import reconstruction_error, relative_error

REDUCTIONS = ("sum", "mean")
BLOCK_BYTES = 1 << 20          # rows of A per block: about 1 MB, so a block stays in L2 cache


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' (1/2 sum of squares) or 'mean' (mean of squares), got {reduction!r}")
    return reduction


def check_finite_observed(M, observed, name, fix, what="NaN or infinite"):
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
