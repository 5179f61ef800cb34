r"""Gradient descent on a deep factorization: plain GD and the reference code's adaptive step (E19).

The hot loop per step: one forward pass of prefix products (``N - 1`` products; the last
is ``W``), the problem's loss and gradient ``G`` at ``W``, one backward pass (``2N - 2``
products, E1) and an in-place update.  Nothing is computed twice; the history (SVD,
balancedness, errors) is only evaluated at the recorded steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ._validate import check_int, check_positive, check_weights
from .factorization import backward, balancedness, prefix_products
from .metrics import effective_rank_from_singular_values, reconstruction_error, relative_error
from .problems import Problem

OPTIMIZERS = ("gd", "adaptive")


class DivergenceError(RuntimeError):
    """The loss became non-finite or exploded.  ``.run`` holds the run up to that point."""

    def __init__(self, message, run):
        super().__init__(message)
        self.run = run


@dataclass
class Run:
    """Result of :func:`gradient_descent`.

    Attributes
    ----------
    weights : list of arrays
        Final factors ``[W_1, ..., W_N]`` (copies; the caller's arrays are never modified).
    history : dict of arrays
        ``step`` (K,), and per trial (shape ``(K, ...)``): ``loss``, ``train_error``
        (mean squared residual on the observations), ``effective_rank``, ``balancedness``,
        ``singular_values`` (``(K, ..., n_singular)``, top singular values of ``W``), and with a
        ground truth ``reconstruction_error`` (MSE over entries) and ``relative_error``;
        ``time`` (seconds since the start).
    steps : ndarray of int
        Per trial, the number of updates applied (a converged trial stops updating).
    converged : ndarray of bool
        Per trial, whether ``loss <= loss_tol`` was reached.
    optimizer, lr : the settings used.
    state : dict
        Optimizer state needed to resume (``t``: updates done, ``s``: the E19 running average).
    """

    weights: list
    history: dict
    steps: np.ndarray
    converged: np.ndarray
    optimizer: str
    lr: float
    state: dict = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def W(self):
        """Final end-to-end matrix ``W_N ... W_1``."""
        return prefix_products(self.weights)[-1]

    def save(self, path):
        """Save to ``path`` (``.npz``) atomically: written to a temporary file, then renamed."""
        path = os.fspath(path)
        arrays = {f"weight_{j}": w for j, w in enumerate(self.weights)}
        arrays.update({f"history_{k}": v for k, v in self.history.items()})
        arrays.update(steps=self.steps, converged=self.converged,
                      state_s=np.asarray(self.state.get("s", 0.0)),
                      state_loss0=np.asarray(self.state.get("loss0", np.nan)))
        meta = dict(optimizer=self.optimizer, lr=self.lr, t=int(self.state.get("t", 0)),
                    wall_time=self.wall_time, depth=len(self.weights),
                    fingerprint=self.state.get("fingerprint"))
        tmp = path + ".tmp.npz"
        np.savez(tmp, meta=np.asarray(json.dumps(meta)), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Load a run written by :meth:`save`."""
        with np.load(os.fspath(path)) as data:
            meta = json.loads(str(data["meta"]))
            weights = [data[f"weight_{j}"] for j in range(meta["depth"])]
            history = {k[len("history_"):]: data[k] for k in data.files if k.startswith("history_")}
            return cls(weights=weights, history=history, steps=data["steps"],
                       converged=data["converged"], optimizer=meta["optimizer"], lr=meta["lr"],
                       state={"t": meta["t"], "s": data["state_s"], "fingerprint": meta.get("fingerprint"),
                              "loss0": data["state_loss0"] if "state_loss0" in data.files else None},
                       wall_time=meta["wall_time"])


class _Recorder:
    """Collects the history at the recorded steps."""

    def __init__(self, problem, truth, n_singular, previous=None):
        self.problem, self.truth, self.n_singular = problem, truth, n_singular
        self.rows = {k: list(v) for k, v in (previous or {}).items()}

    def record(self, step, loss, W, weights, elapsed):
        s = np.linalg.svd(W, compute_uv=False)
        row = dict(step=step, loss=np.array(loss), train_error=self.problem.train_error(W),
                   singular_values=s[..., :self.n_singular],
                   effective_rank=effective_rank_from_singular_values(s),
                   balancedness=balancedness(weights), time=elapsed)
        if self.truth is not None:
            row["reconstruction_error"] = reconstruction_error(W, self.truth)
            row["relative_error"] = relative_error(W, self.truth)
        for k, v in row.items():
            self.rows.setdefault(k, []).append(v)

    def history(self):
        return {k: np.asarray(v) for k, v in self.rows.items()}


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


def _fingerprint(problem, weights, settings):
    """What a resumed run must share with the call that resumes it: the problem's data (hashed),
    the factor shapes (when given) and the optimizer settings."""
    digest = hashlib.sha1()
    for name in ("rows", "cols", "_data", "_A2"):
        arr = getattr(problem, name, None)
        if arr is not None:
            digest.update(np.ascontiguousarray(arr).tobytes())
    out = dict(problem=type(problem).__name__, shape=list(problem.shape), reduction=problem.reduction,
               data=digest.hexdigest(), **settings)
    if weights is not None:
        out["weight_shapes"] = [list(np.shape(w)) for w in weights]
    return out


def _check_resumable(saved, now, where):
    if not saved:
        return
    diff = [k for k in now if k in saved and saved[k] != now[k]]
    if diff:
        details = "; ".join(f"{k}: saved {saved[k]!r}, now {now[k]!r}" for k in diff if k != "data")
        if "data" in diff:
            details = "the problem's data differ" + (f"; {details}" if details else "")
        raise ValueError(f"cannot resume {where}: it was computed with other settings ({details}); "
                         "use another checkpoint path, delete the file, or pass the same settings")


def gradient_descent(problem, weights, *, lr, max_steps, optimizer="gd", loss_tol=None,
                     beta=0.99, eps=1e-4, record_every=None, record_steps=None, truth=None,
                     n_singular=10, progress=False, divergence_factor=1e8, resume=None,
                     checkpoint=None, checkpoint_every=5000):
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
        Record the history every this many steps (default: about 200 records), plus the
        first and the final step.  ``record_steps`` (iterable of ints) records exactly there.
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
        Continue ``resume`` (its weights, optimizer state and history) up to ``max_steps``.
    checkpoint : path, optional
        Save the run there (atomically) every ``checkpoint_every`` steps and at the end; if the
        file exists, the run resumes from it, so an interrupted run loses no finished work.

    Returns
    -------
    Run
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    lr = check_positive(lr, "lr")
    max_steps = check_int(max_steps, "max_steps", minimum=0)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be 'gd' or 'adaptive' (E19), got {optimizer!r}")
    if loss_tol is not None:
        loss_tol = check_positive(loss_tol, "loss_tol", allow_zero=True)
    beta = check_positive(beta, "beta", allow_zero=True)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    eps = check_positive(eps, "eps")
    divergence_factor = check_positive(divergence_factor, "divergence_factor")
    n_singular = check_int(n_singular, "n_singular", minimum=1)
    fingerprint = None
    if checkpoint is not None or resume is not None:
        fingerprint = _fingerprint(problem, weights, dict(lr=lr, optimizer=optimizer, beta=beta, eps=eps,
                                                          loss_tol=loss_tol))
    where = "the given run"
    if checkpoint is not None and resume is None and os.path.exists(checkpoint):
        resume, where = Run.load(checkpoint), f"from the checkpoint {checkpoint}"
    if resume is not None:
        if resume.optimizer != optimizer:
            raise ValueError(f"cannot resume a {resume.optimizer!r} run with optimizer={optimizer!r}")
        _check_resumable(resume.state.get("fingerprint"), fingerprint, where)
        weights = resume.weights
    weights = check_weights(weights)
    m, n = weights[-1].shape[-2], weights[0].shape[-1]
    if (m, n) != tuple(problem.shape):
        raise ValueError(
            f"weights give an end-to-end matrix W_N ... W_1 of shape {m}x{n} but the problem is "
            f"{problem.shape[0]}x{problem.shape[1]}: the first factor needs {problem.shape[1]} columns "
            f"and the last {problem.shape[0]} rows"
        )
    try:
        lead = np.broadcast_shapes(*(w.shape[:-2] for w in weights), problem.batch_shape)
    except ValueError:
        raise ValueError(f"the weights' trial axes {[w.shape[:-2] for w in weights]} do not broadcast "
                         f"with the problem's {problem.batch_shape}") from None
    truth = problem.truth if truth is None else np.asarray(truth, dtype=float)
    ws = [np.array(np.broadcast_to(w, lead + w.shape[-2:]), dtype=np.float64) for w in weights]

    if resume is not None:
        t = int(resume.state.get("t", 0))
        s = np.broadcast_to(np.asarray(resume.state.get("s", 0.0), float), lead).copy()
        steps = np.broadcast_to(resume.steps, lead).copy()
        converged = np.broadcast_to(resume.converged, lead).copy()
        start = int(np.max(steps)) if steps.size else 0
        elapsed0 = resume.wall_time
        recorder = _Recorder(problem, truth, n_singular, resume.history)
        last_recorded = int(resume.history["step"][-1]) if len(resume.history.get("step", [])) else -1
    else:
        t, s = 0, np.zeros(lead)
        steps, converged = np.zeros(lead, dtype=np.int64), np.zeros(lead, dtype=bool)
        start, elapsed0, last_recorded = 0, 0.0, -1
        recorder = _Recorder(problem, truth, n_singular)
    if record_steps is not None:
        wanted = set(int(k) for k in record_steps)
        should_record = wanted.__contains__
    else:
        every = max(1, max_steps // 200) if record_every is None else check_int(record_every, "record_every", minimum=1)
        should_record = lambda k: k % every == 0  # noqa: E731
    if progress is True or isinstance(progress, str):
        report = _progress_printer(None if progress is True else progress)
    else:
        report = progress or None
    trials = int(np.prod(lead)) if lead else 1
    batched = bool(lead)
    clock0 = time.perf_counter()

    def make_run():
        return Run(weights=[w.copy() for w in ws], history=recorder.history(), steps=steps.copy(),
                   converged=converged.copy(), optimizer=optimizer, lr=lr,
                   state={"t": t, "s": s.copy(), "loss0": loss0, "fingerprint": fingerprint},
                   wall_time=elapsed0 + time.perf_counter() - clock0)

    loss0 = None
    if resume is not None and resume.state.get("loss0") is not None \
            and np.all(np.isfinite(resume.state["loss0"])):
        loss0 = np.broadcast_to(np.asarray(resume.state["loss0"], float), lead).copy()
    step = start
    while True:
        prefixes = prefix_products(ws)
        W = prefixes[-1]
        loss, G = problem._loss_and_gradient(W)
        if loss0 is None:
            loss0 = np.maximum(np.abs(loss), 1.0)
        active = ~converged
        bad = active & ~(np.abs(loss) <= divergence_factor * loss0)   # catches NaN too
        if np.any(bad):
            run = make_run()
            what = "not finite" if not np.all(np.isfinite(loss)) else \
                f"{divergence_factor:g} times its initial value"
            raise DivergenceError(
                f"gradient descent diverged at step {step}: the loss is {what} "
                f"(max {np.nanmax(np.where(np.isfinite(loss), loss, np.inf)):.3e}); "
                f"lower lr (now {lr:g}) or use optimizer='adaptive'. The run so far is in .run", run)
        if loss_tol is not None:
            converged |= active & (loss <= loss_tol)
            active = ~converged
        final = step >= max_steps or not np.any(active)
        if last_recorded != step and (should_record(step) or final or step == 0):
            recorder.record(step, loss, W, ws, elapsed0 + time.perf_counter() - clock0)
            last_recorded = step
        if report is not None and (final or step % 50 == 0):
            report(dict(step=step, max_steps=max_steps, max_loss=float(np.max(loss)),
                        active=int(np.sum(active)), trials=trials, optimizer=optimizer, final=final,
                        elapsed=elapsed0 + time.perf_counter() - clock0))
        if final:
            break
        grads = backward(ws, prefixes, G)
        if optimizer == "adaptive":
            sq = sum(np.einsum("...ij,...ij->...", g, g) for g in grads)
            t += 1
            s = np.where(active, beta * s + (1.0 - beta) * sq, s)
            eta = lr / (np.sqrt(s / (1.0 - beta ** t)) + eps)
        else:
            eta = lr
        if batched:
            eta = (np.where(active, eta, 0.0))[..., None, None]
        else:
            eta = float(eta)
        for w, g in zip(ws, grads):
            g *= eta
            w -= g
        steps += active
        step += 1
        if checkpoint is not None and step % checkpoint_every == 0:
            make_run().save(checkpoint)
    run = make_run()
    if checkpoint is not None:
        run.save(checkpoint)
    return run
