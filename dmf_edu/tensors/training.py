r"""Gradient descent on a CP factorization (THEORY.md §10, E19-E22), through the one training loop.

:func:`gradient_descent` is :func:`dmf_edu.training.train` with :class:`CPModel`: everything the
matrix loop offers (plain GD or E19, ``loss_tol``, the history schedule, validation, ``keep_best``,
``patience``, checkpoints and resume, ``callback``, batched trials, :class:`~dmf_edu.DivergenceError`
carrying the run) works unchanged; the model supplies the step (E20 straight from the factors,
``O(K R N)``, never the dense tensor) and the history (component norms E22, measured tensor rank,
component balancedness E21, errors).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive
from ..training import Model, Run, train
from ..training.run import problem_digest, run_fingerprint
from .completion import TensorCompletion, check_tensor
from .cp import check_factors, component_balancedness, component_norms, cp_to_tensor, tensor_rank

__all__ = ["gradient_descent", "CPModel", "CPRun"]


class CPRun(Run):
    """A :class:`~dmf_edu.training.Run` of a CP factorization (:func:`gradient_descent`).

    ``weights`` are the factors ``[A_1, ..., A_N]``, each ``(..., d_n, R)``; :attr:`W` is the dense
    tensor.  ``history`` (``K`` recorded steps; ``...`` the trial axes): ``step`` ``(K,)``, ``loss``,
    ``train_error`` (mean squared residual on the observations), ``component_norms`` ``(K, ..., R)``
    (``sigma_r``, E22, column ``r`` of every factor, not sorted), ``tensor_rank`` ``(K, ...)`` (the
    components above ``rank_tol`` times the largest, §10), ``component_balancedness``
    ``(K, ..., N - 1, R)`` (E21's residuals ``||w_r^(n)||^2 - ||w_r^(1)||^2``), ``balancedness``
    ``(K, ...)`` (their largest relative size ``|.| / (||w_r^(n)||^2 + ||w_r^(1)||^2)``, in [0, 1]),
    ``time``; with a ground truth ``reconstruction_error`` (§10's ``||W - W*||_F^2 / ||W*||_F^2``),
    ``relative_error`` (its square root) and ``mse`` (mean squared error over all entries); with a
    validation problem ``validation_error``.
    """

    model = "cp"

    @property
    def W(self):
        """The dense CP tensor of :attr:`weights`, ``(..., d_1, ..., d_N)``."""
        return cp_to_tensor(self.weights)

    @property
    def factors(self):
        """The factors ``[A_1, ..., A_N]`` (the same list as :attr:`weights`)."""
        return self.weights


class CPModel(Model):
    r"""A CP factorization ``W = sum_r w_r^(1) o ... o w_r^(N)`` (§10) as a training-loop model.

    Parameters: the factors ``A_n`` ``(lead, d_n, R)``.  Step: E20 in its sparse form,
    :meth:`~dmf_edu.tensors.TensorCompletion.loss_and_factor_gradients_unchecked` (``O(K R N)``).
    History: see :class:`CPRun`.  Option ``rank_tol`` (default 1e-2): the threshold of
    :func:`~dmf_edu.tensors.tensor_rank`.
    """

    name = "cp"
    problem_types = (TensorCompletion,)
    run_type = CPRun

    def __init__(self, factors, lead, rank_tol=1e-2):
        params = [np.array(np.broadcast_to(A, tuple(lead) + A.shape[-2:]), dtype=np.float64) for A in factors]
        super().__init__(params, lead, rank_tol=rank_tol)
        self.rank_tol = rank_tol

    @classmethod
    def check(cls, problem, factors, validation=None):
        factors = check_factors(factors, "factors")
        dims = tuple(A.shape[-2] for A in factors)
        if dims != tuple(problem.shape):
            raise ValueError(f"factors give a {'x'.join(map(str, dims))} tensor but the problem is "
                             f"{'x'.join(map(str, problem.shape))}: pass one factor A_n of shape (..., d_n, R) "
                             f"per mode, (d_1, ..., d_N) = {tuple(problem.shape)}")
        return factors, cls.trial_axes(factors, problem, validation, "factors")

    @classmethod
    def check_truth(cls, problem, truth):
        return problem.truth if truth is None else check_tensor(truth, problem.shape, "truth")

    @classmethod
    def digest(cls, problem):
        return problem_digest(problem, ("index", "values"))

    @classmethod
    def fingerprint(cls, problem, params, settings):
        return dict(run_fingerprint(problem, params, settings, digest=cls.digest), model=cls.name)

    def loss_and_gradient(self, problem):
        return problem.loss_and_factor_gradients_unchecked(self.params)

    def backward(self, G, scale=None):
        """``G`` is already the list of factor gradients (E20): scaled in place when asked."""
        if scale is not None:
            for g in G:
                g *= scale
        return G

    def output(self):
        return cp_to_tensor(self.params)

    def history_items(self, problem, truth):
        params = self.params
        errors = problem.evaluate(params, truth)
        residuals = component_balancedness(params)                      # (..., N - 1, R)
        first = np.einsum("...ir,...ir->...r", params[0], params[0])[..., None, :]
        total = 2.0 * first + residuals                                  # ||w^(n)||^2 + ||w^(1)||^2
        relative = np.abs(residuals) / np.where(total > 0, total, 1.0)
        items = dict(train_error=errors["train_error"], component_norms=component_norms(params),
                     tensor_rank=tensor_rank(params, self.rank_tol), component_balancedness=residuals,
                     balancedness=relative.max(axis=(-2, -1)))
        items.update((k, errors[k]) for k in ("reconstruction_error", "relative_error", "mse") if k in errors)
        return items

    def validation_error(self, validation):
        return validation.train_error(self.params)

    def cost_ratio(self, problem, validation, truth):
        """Flops plus a fixed Python cost (about 60 us a step, 400 us a record, as flops at ~50 GFLOP/s)."""
        trials = max(1, int(np.prod(self.lead)))
        R, N = self.params[0].shape[-1], len(self.params)
        size = int(np.prod(problem.shape))
        step = trials * 12.0 * problem.n_observations * R * N + 3e6
        record = trials * (6.0 * problem.n_observations * R * N + 4.0 * size * R * (truth is not None)
                           + 6.0 * (validation.n_observations if validation is not None else 0) * R * N) + 2e7
        return record / step


def gradient_descent(problem, factors, *, lr, max_steps, optimizer="gd", loss_tol=None, beta=0.99, eps=1e-4,
                     record_every=None, record_steps=None, truth=None, rank_tol=1e-2, progress=False,
                     divergence_factor=1e8, resume=None, checkpoint=None, checkpoint_every=5000, validation=None,
                     keep_best=False, patience=None, callback=None):
    r"""Train a CP factorization ``[A_1, ..., A_N]`` by gradient descent on a tensor completion problem.

    The one training loop of :func:`dmf_edu.gradient_descent` (plain GD, or E19's adaptive step
    with ``optimizer="adaptive"``), with E20's factor gradients straight from the factors
    (``O(K R N)`` per step).  From a small :func:`~dmf_edu.tensors.init_cp` the component norms
    leave the floor one after another (E22: incremental tensor-rank learning, §10).

    Parameters
    ----------
    problem : TensorCompletion
    factors : list of arrays
        Initial ``[A_1, ..., A_N]``, ``N >= 2``, ``A_n`` of shape ``(..., d_n, R)`` with
        ``(d_1, ..., d_N) = problem.shape``; leading axes are independent trials (broadcast with
        the problem's own).  Copied.
    lr, max_steps, optimizer, loss_tol, beta, eps, record_every, record_steps, progress,
    divergence_factor, resume, checkpoint, checkpoint_every, keep_best, patience, callback
        As for :func:`dmf_edu.gradient_descent` (a callback's ``v.W`` is the dense tensor).
    truth : array ``(..., d_1, ..., d_N)``, optional
        Ground truth for the errors in the history; defaults to ``problem.truth``.
    rank_tol : float >= 0
        Threshold of the measured tensor rank (:func:`~dmf_edu.tensors.tensor_rank`) recorded.
    validation : TensorCompletion, optional
        Held-out observations of the same tensor (``problem.split``); ``validation_error`` is their
        mean squared residual, from the factors.

    Returns
    -------
    CPRun
        The :class:`~dmf_edu.training.Run` shape (``weights`` = factors, ``history``, ``nit``,
        ``success``, ``status``, ``message``, ``wall_time``, ``state``), ``W`` the dense tensor; the
        history's keys are listed at :class:`CPRun`.

    Raises
    ------
    ValueError
        Factors of mismatched shapes, order < 2, non-finite entries, a wrong ``truth`` (one line
        naming the argument).
    DivergenceError
        As for :func:`dmf_edu.gradient_descent`; ``.run`` holds the run so far.
    """
    rank_tol = check_positive(rank_tol, "rank_tol", allow_zero=True)
    return train(CPModel, problem, factors, locals(), options=dict(rank_tol=rank_tol))
