r"""Gradient descent on a factorization: plain GD and the reference code's adaptive step (E19).

Read :func:`train` first: a short loop over a :class:`~dmf_edu.training.model.Model` (a deep matrix
factorization for :func:`gradient_descent`, a CP factorization for :func:`dmf_edu.tensors.gradient_descent`),
whose state and steps are the methods of :class:`_Loop` (argument checks and setup or resume come
first, in :func:`_start`).  Each concern it touches is a small helper: :class:`Stepper` (the optimizer,
generic over the model's parameter list), :class:`~dmf_edu.training.history.Recorder` (the history
and its schedule, in :mod:`dmf_edu.training.history`), :class:`_BestKeeper` (validation,
``keep_best``, ``patience``), :class:`~dmf_edu.training.run.Checkpoint` (save and resume, in
:mod:`dmf_edu.training.run` with the :class:`Run` it saves) and :func:`_progress_printer`.

The hot loop per step of a matrix model: one forward pass of prefix products (``N - 1`` products;
the last is ``W``), the problem's loss and gradient ``G`` at ``W``, one backward pass (``2N - 2``
products, E1) and an in-place update, all into preallocated buffers.  The history (SVD,
balancedness, errors, validation) is only evaluated at the recorded steps.
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np

from .._validate import check_int, check_positive
from .history import Recorder, record_predicate
from .model import MatrixModel, Model
from .run import Checkpoint

OPTIMIZERS = ("gd", "adaptive")


class DivergenceError(RuntimeError):
    """The loss became non-finite or exploded.  ``.run`` holds the run up to that point."""

    def __init__(self, message, run):
        super().__init__(message)
        self.run = run


class Stepper:
    r"""One run's parameters and optimizer state, stepped in two halves around the problem's call::

        W = stepper.forward()          # W = W_N ... W_1, shape (..., m, n)  (matrix models)
        loss, G = problem.loss_and_gradient(W)
        stepper.apply(G, active)       # backward (E1) and the update, in place

    The optimizer (plain GD or E19, masking of frozen trials) is generic over the parameter list
    of a :class:`~dmf_edu.training.model.Model`: ``apply`` asks the model for its gradients
    (:meth:`~dmf_edu.training.model.Model.backward`) and updates ``model.params`` in place.
    :func:`gradient_descent` is this loop plus its bookkeeping.  Splitting the step lets a driver
    share one pass over a problem's measurements between several runs (of different depths or
    initializations): forward every run, stack the ``W``'s, make ONE batched call
    ``problem.loss_and_gradient(np.stack(Ws))`` (completion and sensing problems accept stacked
    ``W``), then ``runs[i].apply(G[i])``.

    Parameters
    ----------
    weights : list of arrays, or a Model
        Initial ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``; copied (as float64,
        broadcast to ``lead``) into a :class:`~dmf_edu.training.model.MatrixModel`.  Or any model
        (e.g. a CP factorization), used as it is.
    lr, optimizer, beta, eps : as for :func:`gradient_descent`.
    lead : tuple, optional
        Trial axes (default: the weights' broadcast leading axes).
    t, s : int and array ``lead``, optional
        E19 state to continue from (updates done, running average).

    Notes
    -----
    ``forward`` returns a buffer that the next ``forward`` overwrites (copy it to keep it).
    ``apply(G, active=None)``: ``active`` (bool, shape ``lead``) masks trials that must not move.
    Plain GD on one trial lets the model fuse each gradient product into its update (matrices:
    ``gd_update``); batched plain GD scales ``G`` by ``lr`` first (masked trials by 0), so the
    model's products give the update directly; E19 needs the gradients' norms first.  ``apply``
    may overwrite ``G``.
    """

    def __init__(self, weights, *, lr, optimizer="gd", beta=0.99, eps=1e-4, lead=None, t=0, s=None):
        self.lr, self.optimizer, self.beta, self.eps = _check_optimizer(lr, optimizer, beta, eps)
        self.model = weights if isinstance(weights, Model) else MatrixModel(weights, lead)
        self.lead, self.weights = self.model.lead, self.model.params
        self.t = int(t)
        self.s = np.zeros(self.lead) if s is None else np.broadcast_to(np.asarray(s, float), self.lead).copy()
        self._fused = self.optimizer == "gd" and self.model.fusable

    def forward(self):
        """The end-to-end matrix ``W`` (a reused buffer); keeps the prefixes for :meth:`apply`."""
        return self.model.forward()

    @property
    def prefixes(self):
        """The forward prefix products of a matrix model (``None`` before :meth:`forward`)."""
        return self.model.prefixes

    def apply(self, G, active=None):
        """The model's gradients at the last forward pass (matrices: E1) and one optimizer update, in place."""
        if self._fused and self.model.fused_gd_step(G, self.lr):
            return None
        masked = active is not None and self.lead
        if self.optimizer == "gd":
            grads = self.model.backward(G, np.where(active, self.lr, 0.0)[..., None, None] if masked else self.lr)
        else:                                    # E19: one global step per trial
            grads = self.model.backward(G)
            sq = sum(np.einsum("...ij,...ij->...", g, g) for g in grads)
            self.t += 1
            s = self.beta * self.s + (1.0 - self.beta) * sq
            self.s = np.where(active, s, self.s) if masked else s
            eta = self.lr / (np.sqrt(self.s / (1.0 - self.beta ** self.t)) + self.eps)
            eta = np.where(active, eta, 0.0)[..., None, None] if masked else \
                (eta[..., None, None] if self.lead else float(eta))
            for g in grads:
                g *= eta
        for w, g in zip(self.weights, grads):
            np.subtract(w, g, out=w)
        return None


def _check_optimizer(lr, optimizer, beta, eps):
    lr = check_positive(lr, "lr")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be 'gd' or 'adaptive' (E19), got {optimizer!r}")
    beta = check_positive(beta, "beta", allow_zero=True)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    return lr, optimizer, beta, check_positive(eps, "eps")


# --------------------------------------------------------------------------- the loop

def gradient_descent(problem, weights, *, lr, max_steps, optimizer="gd", loss_tol=None,
                     beta=0.99, eps=1e-4, record_every=None, record_steps=None, truth=None,
                     n_singular=10, progress=False, divergence_factor=1e8, resume=None,
                     checkpoint=None, checkpoint_every=5000, validation=None, keep_best=False,
                     patience=None, callback=None):
    r"""Train a deep factorization ``W = W_N ... W_1`` by gradient descent on ``problem``.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of arrays
        Initial factors ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``.  Leading
        axes are independent trials, trained together (broadcast against the problem's own
        trial axes).  Copied: the caller's arrays are not modified.
    lr : float > 0
        Plain GD: the step ``eta``.  ``"adaptive"``: the base rate of E19.
    max_steps : int >= 0
        Cap on the total number of updates (counting those of a resumed run).
    optimizer : {"gd", "adaptive"}
        ``"gd"``: ``W_j <- W_j - lr dphi/dW_j``.  ``"adaptive"`` (E19, the optimizer of the
        reference code's completion figures): one global step per trial,
        ``s_t = beta s_{t-1} + (1 - beta) sum_j ||dphi/dW_j||_F^2``,
        ``eta_t = lr / (sqrt(s_t / (1 - beta^t)) + eps)``, direction the plain gradient.
    loss_tol : float, optional
        A trial stops updating once its loss is ``<= loss_tol`` (the run ends when all have).
        With ``reduction="mean"`` the loss is the train MSE of the reference code.
    beta, eps : floats
        E19 constants (0.99 and 1e-4 in the reference code).
    record_every : int, optional
        Record the history every this many steps, plus the first and the final step.
        ``record_steps`` (iterable of ints) records there, at step 0 and at the final step.
        Default: :func:`record_schedule`, log-spaced early and evenly spaced late, as many
        records as fit in about 4 % of the estimated run time (at least the final step).
    truth : array ``(..., m, n)``, optional
        Ground truth for test errors; defaults to ``problem.truth``.
    n_singular : int
        How many top singular values of ``W`` to record.
    progress : bool, str or callable
        ``True`` prints a line to stderr about once a second (a string: the same, with that
        label); a callable receives a dict.
    divergence_factor : float
        Raise :class:`DivergenceError` if the loss exceeds ``divergence_factor`` times its
        initial value (or 1, whichever is larger), or is not finite.
    resume : Run, optional
        Continue ``resume`` (its weights, optimizer state, validation state, history) up to ``max_steps``.
    checkpoint : path, optional
        Save the run there (atomically) every ``checkpoint_every`` steps and at the end; if the
        file exists, the run resumes from it, so an interrupted run loses no finished work.
        Early stopping and ``keep_best`` resume too: the result equals one uninterrupted run.
    validation : MatrixCompletion or MatrixSensing, optional
        A held-out problem of the same shape (e.g. from ``problem.split(0.1)``), never trained on.
        Its error (:func:`heldout_error`) is recorded as ``validation_error`` at the recorded steps.
    keep_best : bool
        Return (in ``weights``) the factors with the lowest recorded validation error, per trial;
        :attr:`Run.best_step` says at which step, :attr:`Run.last_weights` holds the last ones.
    patience : int >= 1, optional
        A trial stops after ``patience`` records without a new lowest validation error (records,
        not steps: the schedule sets how far apart they are).
    callback : callable, optional
        Called at each recorded step with a read-only view ``v`` (``v.step``, ``v.loss``, ``v.W``;
        ``W`` is valid during the call only: copy it to keep it); returning ``True`` stops the run.

    Returns
    -------
    Run
    """
    return train(MatrixModel, problem, weights, locals(), options=dict(n_singular=n_singular))


def train(model_type, problem, params, args, options=None):
    r"""The training loop of every model (:mod:`dmf_edu.training.model`): :func:`gradient_descent`
    for a deep matrix factorization, :func:`dmf_edu.tensors.gradient_descent` for a CP one.

    Parameters
    ----------
    model_type : subclass of :class:`~dmf_edu.training.model.Model`
    problem : a problem the model trains on (``model_type.check_problem``)
    params : list of arrays
        The initial parameters (copied), leading axes independent trials.
    args : dict
        The keyword arguments of :func:`gradient_descent` (``lr``, ``max_steps``, ``optimizer``, ...),
        all of them (a public ``gradient_descent`` passes its ``locals()``).
    options : dict, optional
        The model's own settings (``MatrixModel``: ``n_singular``), passed to its constructor.

    Returns
    -------
    Run
        Of the class ``model_type.run_type``.
    """
    loop = _start(model_type, problem, params, args, options or {})   # check; set up a fresh or resumed run
    model, stepper = loop.model, loop.stepper
    while True:
        loss, G = model.loss_and_gradient(problem)
        final = loop.check_loss(loss)               # divergence (raises), loss_tol, max_steps
        if loop.record_due(final):
            final = loop.record(loss) or final      # history; validation, keep_best, patience; callback
        loop.report(loss, final)
        if final:
            return loop.finish()                    # the stop reason, the last checkpoint
        stepper.apply(G, loop.trials.active)
        loop.advance()                              # the next step; a checkpoint every checkpoint_every


def _all(x):
    """``all(x)`` for a numpy bool or bool array, without numpy's dispatch cost on one trial."""
    return bool(x) if np.ndim(x) == 0 else bool(x.all())


class _Trials:
    """Which trials still move, the step at which each stopped, and which converged (loss_tol)."""

    def __init__(self, steps, converged, exhausted):
        self.steps, self.converged = steps, converged
        self.active = ~converged & ~exhausted
        self.any = bool(self.active.any())

    def stop(self, mask, step, converged=False):
        mask = mask & self.active
        if mask.any():
            self.steps = np.where(mask, step, self.steps)
            self.converged = self.converged | mask if converged else self.converged
            self.active = self.active & ~mask
            self.any = bool(self.active.any())

    def steps_at(self, step):
        """Updates applied per trial when the loop is at ``step``."""
        return np.where(self.active, step, self.steps)


def _view(step, loss, W):
    """The read-only view a callback receives."""
    loss, W = np.array(loss), W.view()
    loss.flags.writeable = W.flags.writeable = False
    return SimpleNamespace(step=step, loss=loss, W=W)


class StoppingRule:
    """When gradient descent stops, for :func:`gradient_descent` and the lockstep runs alike.

    ``check(loss, step, active)`` raises :class:`DivergenceError` when an active trial's loss is
    not finite or exceeds ``divergence_factor`` times its initial value (or 1, whichever is
    larger: ``loss0``, fixed at the first check unless given), and returns the trials whose loss
    is ``<= loss_tol`` (``None`` when there are none).  ``who`` names the run in the message.
    """

    def __init__(self, loss_tol, divergence_factor, lr, loss0=None, who="gradient descent"):
        self.loss_tol, self.divergence_factor, self.lr, self.who = loss_tol, divergence_factor, lr, who
        self.loss0, self.limit = loss0, None if loss0 is None else divergence_factor * loss0

    def check(self, loss, step, active=True, make_run=None):
        if self.limit is None:
            self.loss0 = np.maximum(np.abs(loss), 1.0)
            self.limit = self.divergence_factor * self.loss0
        if not _all(np.abs(loss) <= self.limit) and np.any(active & ~(np.abs(loss) <= self.limit)):   # NaN too
            what = "not finite" if not np.all(np.isfinite(loss)) else \
                f"{self.divergence_factor:g} times its initial value"
            raise DivergenceError(
                f"{self.who} diverged at step {step}: the loss is {what} "
                f"(max {np.nanmax(np.where(np.isfinite(loss), loss, np.inf)):.3e}); "
                f"lower lr (now {self.lr:g}) or use optimizer='adaptive'. The run so far is in .run",
                None if make_run is None else make_run())
        if self.loss_tol is not None and not _all(loss > self.loss_tol):
            return loss <= self.loss_tol
        return None


def _start(model_type, problem, params, args, options):
    """Check the arguments (``args``: the call's), then set up the loop, fresh or resumed."""
    a = SimpleNamespace(**args)
    settings = _check_arguments(model_type, problem, a)
    checkpoint, resume, params, lead = _resume(model_type, problem, params, a, settings)
    model = model_type(params, lead, **options)
    return _Loop(model, problem, a, settings, checkpoint, resume)


def _check_arguments(model_type, problem, a):
    """The checked settings of one call (``a``: its arguments), in the order of the signature."""
    model_type.check_problem(problem)
    lr, optimizer, beta, eps = _check_optimizer(a.lr, a.optimizer, a.beta, a.eps)
    max_steps = check_int(a.max_steps, "max_steps", minimum=0)
    loss_tol = None if a.loss_tol is None else check_positive(a.loss_tol, "loss_tol", allow_zero=True)
    divergence_factor = check_positive(a.divergence_factor, "divergence_factor")
    if getattr(a, "n_singular", None) is not None:
        check_int(a.n_singular, "n_singular", minimum=1)
    validation, patience = _check_validation(model_type, problem, a.validation, a.keep_best, a.patience)
    return SimpleNamespace(lr=lr, optimizer=optimizer, beta=beta, eps=eps, max_steps=max_steps, loss_tol=loss_tol,
                           divergence_factor=divergence_factor, validation=validation, patience=patience)


def _resume(model_type, problem, params, a, s):
    """The checkpoint, the run to resume (or None), the starting parameters and the trial axes."""
    fingerprint = None                     # hashing the data costs time: only to checkpoint or resume
    if a.checkpoint is not None or a.resume is not None:
        fingerprint = model_type.fingerprint(problem, params, dict(
            lr=s.lr, optimizer=s.optimizer, beta=s.beta, eps=s.eps, loss_tol=s.loss_tol,
            keep_best=bool(a.keep_best), patience=s.patience,
            validation=None if s.validation is None else model_type.digest(s.validation)))
    ck = Checkpoint(a.checkpoint, a.checkpoint_every, fingerprint)
    resume = ck.resume_from(a.resume, s.optimizer)
    if resume is not None:
        params = resume.last_weights or resume.weights
    params, lead = model_type.check(problem, params, s.validation)
    return ck, resume, params, lead


class _Loop:
    """The state of one :func:`gradient_descent` call: its helpers (stepper, recorder, keeper,
    checkpoint, trials), the step, the divergence limit and the stop reason; one method per
    part of an iteration."""

    def __init__(self, model, problem, a, settings, checkpoint, resume):
        s = self.settings = settings
        state = {} if resume is None else resume.state
        self.model, self.problem, lead = model, problem, model.lead
        self.stepper = Stepper(model, lr=s.lr, optimizer=s.optimizer, beta=s.beta, eps=s.eps,
                               t=state.get("t", 0), s=state.get("s"))
        self.truth = truth = model.check_truth(problem, a.truth)
        history = {} if resume is None else resume.history
        self.checkpoint, self.progress, self.callback = checkpoint, _reporter(a.progress), a.callback
        self.validation, self.keep_best = s.validation, bool(a.keep_best)
        self.recorder = Recorder(problem, truth, None, history, validated=s.validation is not None)
        self.keeper = None if s.validation is None else _BestKeeper(
            lead, a.keep_best, s.patience, state.get("best"), resume.weights if resume is not None else None)
        self.should_record = record_predicate(a.record_every, a.record_steps, s.max_steps,
                                              lambda: model.cost_ratio(problem, s.validation, truth))
        self.step, elapsed0, loss0, self.reason = 0, 0.0, None, None
        self.last_recorded = int(history["step"][-1]) if len(history.get("step", [])) else -1
        steps, converged = np.zeros(lead, dtype=np.int64), np.zeros(lead, dtype=bool)
        if resume is not None:
            steps = np.broadcast_to(resume.nit, lead).copy()
            converged = np.broadcast_to(resume.success, lead).copy()
            self.step = int(np.max(steps)) if steps.size else 0
            elapsed0 = resume.wall_time
            saved = state.get("loss0")
            if saved is not None and np.all(np.isfinite(saved)):
                loss0 = np.broadcast_to(np.asarray(saved, float), lead).copy()
        self.stopping = StoppingRule(s.loss_tol, s.divergence_factor, s.lr, loss0)
        self.trials = _Trials(steps, converged, self.keeper.exhausted() if self.keeper else np.zeros(lead, dtype=bool))
        self.clock = time.perf_counter() - elapsed0

    def check_loss(self, loss):
        """Raise :class:`DivergenceError` on divergence, stop the trials at ``loss_tol``; True if final."""
        reached = self.stopping.check(loss, self.step, self.trials.active, self.result)
        if reached is not None:
            self.trials.stop(reached, self.step, converged=True)
        return self.step >= self.settings.max_steps or not self.trials.any

    def record_due(self, final):
        return self.last_recorded != self.step and (final or self.should_record(self.step))

    def record(self, loss):
        """Record the history; validation, ``keep_best``, ``patience``; the callback.  True to stop."""
        step, model = self.step, self.model
        error = None if self.validation is None else model.validation_error(self.validation)
        items = model.history_items(self.problem, self.truth)
        self.recorder.add(step, loss, items, time.perf_counter() - self.clock, error)
        self.last_recorded = step
        if self.keeper:
            self.trials.stop(self.keeper.update(step, error, model.params, self.trials.active), step)
        if self.callback is not None and self.callback(_view(step, loss, model.output())) is True:
            self.reason = "callback"
        return self.reason is not None or not self.trials.any

    def report(self, loss, final):
        if self.progress is not None and (final or self.step % 50 == 0):
            self.progress(dict(step=self.step, max_steps=self.settings.max_steps, max_loss=float(np.max(loss)),
                               active=int(np.sum(self.trials.active)), trials=self.trials.active.size,
                               optimizer=self.settings.optimizer, final=final,
                               elapsed=time.perf_counter() - self.clock))

    def advance(self):
        self.step += 1
        self.checkpoint.maybe_save(self.step, self.result)

    def finish(self):
        """The final :class:`Run`, with its stop reason, saved to the checkpoint."""
        if self.reason is None and self.step < self.settings.max_steps:
            self.reason = "loss_tol" if np.all(self.trials.converged) else "patience"
        result = self.result()
        self.checkpoint.save(result)
        return result

    def result(self):
        """The run so far (what a checkpoint saves and a :class:`DivergenceError` carries)."""
        stepper, keeper, last = self.stepper, self.keeper, [w.copy() for w in self.stepper.weights]
        return self.model.run_type(weights=keeper.best_weights(last) if self.keep_best else last, history=self.recorder.history(),
                   nit=self.trials.steps_at(self.step), success=self.trials.converged.copy(),
                   optimizer=self.settings.optimizer, lr=stepper.lr,
                   state={"t": stepper.t, "s": stepper.s.copy(), "loss0": self.stopping.loss0,
                          "fingerprint": self.checkpoint.fingerprint, "best": keeper and keeper.state()},
                   wall_time=time.perf_counter() - self.clock, last_weights=last if self.keep_best else None,
                   status=self.reason or "max_steps")


def _check_validation(model_type, problem, validation, keep_best, patience):
    if validation is None:
        if keep_best or patience is not None:
            raise ValueError("keep_best and patience need a validation problem: pass validation=test, "
                             "e.g. train, test = problem.split(0.1)")
        return None, None
    model_type.check_problem(validation, "validation")
    if tuple(validation.shape) != tuple(problem.shape):
        raise ValueError(f"validation is {'x'.join(map(str, validation.shape))} but the problem is "
                         f"{'x'.join(map(str, problem.shape))}: pass held-out entries of the same "
                         f"{'matrix' if len(problem.shape) == 2 else 'tensor'}, "
                         "e.g. train, validation = problem.split(0.1)")
    if patience is not None:
        try:
            patience = check_int(patience, "patience", minimum=1)
        except ValueError:
            raise ValueError(f"patience must be >= 1 (the number of records without a lower validation "
                             f"error before a trial stops), got {patience}; pass None to never stop early") from None
    return validation, patience


def _reporter(progress):
    if progress is True or isinstance(progress, str):
        return _progress_printer(None if progress is True else progress)
    return progress or None


# --------------------------------------------------------------------------- validation, best weights, patience

class _BestKeeper:
    """Per trial: the lowest validation error recorded, its step, the records since (for
    ``patience``) and, with ``keep_best``, a copy of the factors at that step."""

    def __init__(self, lead, keep_best, patience, saved=None, saved_weights=None):
        self.keep_best, self.patience = bool(keep_best), np.inf if patience is None else patience
        self.error, self.step = np.full(lead, np.inf), np.full(lead, -1, dtype=np.int64)
        self.since, self.weights = np.zeros(lead, dtype=np.int64), None
        if saved is not None:
            self.error, self.step, self.since = (np.broadcast_to(saved[k], lead).copy()
                                                 for k in ("error", "step", "since"))
            if keep_best and saved_weights is not None and np.all(self.step >= 0):
                self.weights = [np.array(np.broadcast_to(w, lead + w.shape[-2:])) for w in saved_weights]

    def update(self, step, error, weights, active):
        improved = active & (error < self.error)
        self.error = np.where(improved, error, self.error)
        self.step = np.where(improved, step, self.step)
        self.since = np.where(improved, 0, self.since + active)
        if self.keep_best and np.any(improved):
            if self.weights is None:
                self.weights = [w.copy() for w in weights]
            for b, w in zip(self.weights, weights):
                np.copyto(b, w, where=np.asarray(improved)[..., None, None])
        return self.exhausted()

    def exhausted(self):
        return self.since >= self.patience

    def best_weights(self, last):
        return last if self.weights is None else [w.copy() for w in self.weights]

    def state(self):
        return dict(error=self.error.copy(), step=self.step.copy(), since=self.since.copy(),
                    patience=self.patience)


def _progress_printer(label=None, stream=None):
    stream = sys.stderr if stream is None else stream
    last = [0.0]

    def show(info):
        now = info["elapsed"]
        if now - last[0] < 1.0 and not info["final"]:
            return
        last[0] = now
        done, total = info["step"], info["max_steps"]
        rate = done / now if now > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        tail = "done" if info["final"] else f"ETA <= {eta:.0f} s"
        print(f"  [{label or info['optimizer']}] step {done}/{total}  loss {info['max_loss']:.3e}  "
              f"active {info['active']}/{info['trials']}  {now:.1f} s, {tail}", file=stream, flush=True)

    return show
