r"""What the one training loop trains: a :class:`Model` (its parameters, loss and gradients, history).

:func:`~dmf_edu.training.gradient_descent` (a deep matrix factorization, :class:`MatrixModel`) and
:func:`dmf_edu.tensors.gradient_descent` (a CP factorization, ``dmf_edu.tensors.CPModel``, §10) run
the same loop (:func:`~dmf_edu.training.loop.train`): the optimizer (plain GD or E19), the stopping
rules, the history schedule, validation, ``keep_best``, ``patience``, checkpoints and resume are
generic over a list of parameters; a model supplies the rest.

A model type implements

* class level (before the parameters exist): :meth:`Model.check_problem` (the problem kinds it
  trains on), :meth:`Model.check` (the parameters against the problem: float64 copies and the trial
  axes ``lead``), :meth:`Model.fingerprint` (what a checkpoint must share with the call resuming
  it), ``run_type`` (the :class:`~dmf_edu.training.Run` class returned) and ``options`` (its own
  settings, e.g. ``n_singular``);
* per step: :meth:`Model.loss_and_gradient` (the problem's loss and whatever :meth:`Model.backward`
  turns into the parameter gradients) and, optionally, :meth:`Model.fused_gd_step` (plain GD on one
  trial with the gradient products fused into the update);
* per recorded step: :meth:`Model.history_items`, :meth:`Model.validation_error`, :meth:`Model.output`
  (the dense end-to-end object, for callbacks), and :meth:`Model.cost_ratio` (for the default
  record schedule).

Every parameter has the shape ``lead + (a, b)``: the trial axes, then a matrix.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_weights
from ..factorization import backward, gd_update, prefix_products
from ..metrics import heldout_error
from ..problems import Problem
from .history import matrix_cost_ratio, matrix_items
from .run import Run, problem_digest, run_fingerprint

__all__ = ["Model", "MatrixModel"]


class Model:
    """The interface the training loop drives (see the module docstring).  Subclass it."""

    name = "model"
    problem_types = ()                     # accepted problem classes
    problem_kinds = ""                     # how an error message names them (default: the class names)
    run_type = Run

    def __init__(self, params, lead, **options):
        self.params, self.lead, self.options = params, tuple(lead), options

    # ---------------------------------------------------------------- class level
    @classmethod
    def check_problem(cls, problem, name="problem"):
        """``problem`` if this model trains on it, else ``TypeError`` naming ``name``."""
        if not isinstance(problem, cls.problem_types):
            kinds = cls.problem_kinds or " or ".join(t.__name__ for t in cls.problem_types)
            raise TypeError(f"{name} must be a {kinds}, got {type(problem).__name__}")
        return problem

    @classmethod
    def check(cls, problem, params, validation=None):
        """``(params as float64 arrays, lead)``; ``ValueError`` naming the argument on a mismatch."""
        raise NotImplementedError

    @classmethod
    def check_truth(cls, problem, truth):
        """The ground truth for the history: ``truth``, or the problem's own (None if neither)."""
        return problem.truth if truth is None else np.asarray(truth, dtype=float)

    @classmethod
    def trial_axes(cls, params, problem, validation=None, name="params"):
        """The trial axes ``lead``: the parameters' leading axes broadcast with the problem's own
        (``problem.batch_shape``), which the validation problem's must fit in; ``ValueError`` naming ``name``."""
        shapes = [p.shape[:-2] for p in params]
        try:
            lead = np.broadcast_shapes(*shapes, problem.batch_shape)
            if validation is not None and np.broadcast_shapes(lead, validation.batch_shape) != lead:
                raise ValueError
        except ValueError:
            raise ValueError(f"the {name}' trial axes {shapes} do not broadcast with the problem's "
                             f"{problem.batch_shape} (and the validation problem's)") from None
        return lead

    @classmethod
    def fingerprint(cls, problem, params, settings):
        """What a resumed run must share with the call resuming it (see :func:`run_fingerprint`)."""
        return run_fingerprint(problem, params, settings)

    @classmethod
    def digest(cls, problem):
        """A hash of a problem's data (for the fingerprint of the validation problem)."""
        return problem_digest(problem)

    # ---------------------------------------------------------------- per step
    def loss_and_gradient(self, problem):
        """``(loss (lead), G)`` at the current parameters; ``G`` is what :meth:`backward` takes."""
        raise NotImplementedError

    def backward(self, G, scale=None):
        """The parameter gradients (a list like ``params``, possibly reused buffers), each multiplied
        by ``scale`` (a float or an array ``lead + (1, 1)``) when given.  May overwrite ``G``."""
        raise NotImplementedError

    fusable = False

    def fused_gd_step(self, G, lr):
        """Plain GD ``p <- p - lr dphi/dp`` in one pass, if this model can (True) for this ``G``."""
        return False

    # ---------------------------------------------------------------- per recorded step
    def output(self):
        """The dense end-to-end object (``W`` of a matrix factorization, the tensor of a CP one)."""
        raise NotImplementedError

    def history_items(self, problem, truth):
        """The model's history entries at the current parameters (a dict of per-trial values)."""
        raise NotImplementedError

    def validation_error(self, validation):
        """The held-out error on ``validation``, shape ``lead``."""
        raise NotImplementedError

    def cost_ratio(self, problem, validation, truth):
        """Estimated cost of one record over the cost of one step (for :func:`record_schedule`)."""
        return 10.0


class MatrixModel(Model):
    r"""A deep matrix factorization ``W = W_N ... W_1`` (E1 per step; history: singular values,
    effective rank, balancedness E2).  Options: ``n_singular`` (top singular values recorded).

    The step: one forward pass of prefix products into preallocated buffers (``N - 1`` products,
    the last is ``W``), the problem's ``loss_and_gradient_unchecked(W)``, one backward pass (E1,
    ``2N - 2`` products) into buffers; plain GD on one trial fuses each gradient product into its
    update (:func:`~dmf_edu.factorization.gd_update`).
    """

    name = "matrix"
    problem_types = (Problem,)
    problem_kinds = "MatrixCompletion or MatrixSensing"

    def __init__(self, weights, lead=None, n_singular=10):
        weights = check_weights(weights)
        lead = np.broadcast_shapes(*(w.shape[:-2] for w in weights)) if lead is None else tuple(lead)
        ws = [np.array(np.broadcast_to(w, lead + w.shape[-2:]), dtype=np.float64) for w in weights]
        super().__init__(ws, lead, n_singular=n_singular)
        self.n_singular = n_singular
        n = ws[0].shape[-1]
        self._prefix = [np.empty(lead + (w.shape[-2], n)) for w in ws[1:]]
        self._grads = [np.empty_like(w) for w in ws]
        self._chain = [None] + [np.empty(lead + (w.shape[-2], n)) for w in ws[1:-1]]
        self._G = np.empty(lead + (ws[-1].shape[-2], n))
        self.fusable = not lead and len(ws) >= 2
        self._scratch = ([None, np.empty_like(ws[1])] + [np.empty((n, w.shape[-1])) for w in ws[2:]]
                         if self.fusable else None)
        self.prefixes = None

    @classmethod
    def check(cls, problem, weights, validation=None):
        weights = check_weights(weights)
        m, n = weights[-1].shape[-2], weights[0].shape[-1]
        if (m, n) != tuple(problem.shape):
            raise ValueError(
                f"weights give an end-to-end matrix W_N ... W_1 of shape {m}x{n} but the problem is "
                f"{problem.shape[0]}x{problem.shape[1]}: the first factor needs {problem.shape[1]} columns "
                f"and the last {problem.shape[0]} rows")
        return weights, cls.trial_axes(weights, problem, validation, "weights")

    def forward(self):
        """The end-to-end matrix ``W`` (a reused buffer); keeps the prefixes for :meth:`backward`."""
        self.prefixes = prefix_products(self.params, out=self._prefix)
        return self.prefixes[-1]

    def loss_and_gradient(self, problem):
        return problem.loss_and_gradient_unchecked(self.forward())

    def backward(self, G, scale=None):
        """E1 at the last forward pass; with ``scale``, ``G`` is scaled first (the products then give
        the scaled gradients directly)."""
        if scale is not None:
            if hasattr(G, "tocsr"):
                G = G * scale
            else:
                G = np.multiply(G, scale, out=self._G if np.shape(G) == self._G.shape else None)
        return backward(self.params, self.prefixes, G, (self._grads, self._chain))

    def fused_gd_step(self, G, lr):
        if isinstance(G, np.ndarray) or len(self.params) >= 3:       # sparse G at depth 2: backward
            gd_update(self.params, self.prefixes, G, lr, self._scratch)
            return True
        return False

    def output(self):
        return self.prefixes[-1]

    def history_items(self, problem, truth):
        return matrix_items(problem, truth, self.n_singular, self.prefixes[-1], self.params, self.prefixes)

    def validation_error(self, validation):
        return heldout_error(self.prefixes[-1], validation)

    def cost_ratio(self, problem, validation, truth):
        return matrix_cost_ratio(self.params, self.lead, problem, validation, truth)
