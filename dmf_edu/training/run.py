"""The result of a training run, :class:`Run`: weights, history, optimizer and validation state,
saved to and loaded from one ``.npz`` file atomically; and the checkpoint policy of
:func:`dmf_edu.gradient_descent` (save every k steps, resume, refuse a file from other settings)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._validate import check_int
from ..factorization import prefix_products

__all__ = ["Run"]   # Checkpoint, problem_digest, run_fingerprint: for dmf_edu.training


@dataclass
class Run:
    """Result of :func:`gradient_descent`.

    Attributes
    ----------
    weights : list of arrays
        The factors ``[W_1, ..., W_N]`` returned: the final ones, or with ``keep_best=True`` the
        ones with the lowest validation error (per trial).  Copies: the caller's arrays are never
        modified.
    history : dict of arrays
        ``step`` (K,), and per trial (shape ``(K, ...)``): ``loss``, ``train_error``
        (mean squared residual on the observations), ``effective_rank``, ``balancedness``,
        ``singular_values`` (``(K, ..., n_singular)``, top singular values of ``W``), with a
        ground truth ``reconstruction_error`` (MSE over all entries) and ``relative_error``,
        with a validation problem ``validation_error`` (MSE over its entries, :func:`heldout_error`);
        ``time`` (seconds since the start).
    nit : ndarray of int
        Per trial, the number of updates applied (a converged or early-stopped trial stops updating).
    success : ndarray of bool
        Per trial, whether ``loss <= loss_tol`` was reached.
    optimizer, lr : the settings used.
    state : dict
        What a resume needs: ``t`` (updates done), ``s`` (the E19 running average), ``loss0``,
        ``fingerprint``, and with validation ``best`` (see :attr:`best_step`).
    last_weights : list of arrays or None
        With ``keep_best``: the factors at the last step (a resume continues from these).
    status : str
        Why the run stopped: ``"max_steps"``, ``"loss_tol"``, ``"patience"`` or ``"callback"``.
    message : str
        The same in one sentence (default: made from ``status`` and ``success``).
    wall_time : float
        Seconds (counting those of a resumed run).

    Notes
    -----
    ``model`` (a class attribute) names the kind of factorization: ``"matrix"`` here; a subclass
    for another model (``dmf_edu.tensors.CPRun``, ``"cp"``) sets its own, registers itself, and
    :meth:`load` returns that subclass for a file it saved.
    """

    model: ClassVar[str] = "matrix"
    _kinds: ClassVar[dict] = {}

    weights: list
    history: dict
    nit: np.ndarray
    success: np.ndarray
    optimizer: str
    lr: float
    state: dict = field(default_factory=dict)
    wall_time: float = 0.0
    last_weights: list | None = None
    status: str = "max_steps"
    message: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._kinds[cls.model] = cls

    def __post_init__(self):
        if not self.message:
            self.message = _MESSAGES.get(self.status, "stopped ({status})").format(
                status=self.status, done=int(np.sum(self.success)), trials=np.size(self.success))

    def __repr__(self):
        """One screen: how it stopped, the settings, updates, final loss and factor shapes (no arrays)."""
        loss = np.asarray(self.history.get("loss", np.empty(0)), dtype=float)
        final = "none" if loss.size == 0 else _spread(loss[-1])
        shapes = ", ".join("x".join(map(str, np.shape(w))) for w in self.weights)
        return (f"Run(status={self.status!r}, optimizer={self.optimizer!r}, lr={self.lr:g}, "
                f"nit={_spread(self.nit)}, success={int(np.sum(self.success))}/"
                f"{np.size(self.success)}, final_loss={final}, weights=[{shapes}])")

    @property
    def W(self):
        """End-to-end matrix ``W_N ... W_1`` of :attr:`weights`."""
        return prefix_products(self.weights)[-1]

    @property
    def best_step(self):
        """Per trial, the recorded step with the lowest validation error (``None`` without validation).
        With ``keep_best=True``, :attr:`weights` are the factors at that step."""
        best = self.state.get("best")
        return None if best is None else best["step"]

    @property
    def best_validation_error(self):
        """Per trial, the lowest recorded validation error (``None`` without validation)."""
        best = self.state.get("best")
        return None if best is None else best["error"]

    @property
    def stopped_early(self):
        """Per trial, whether ``patience`` stopped it (``None`` without validation)."""
        best = self.state.get("best")
        return None if best is None else best["since"] >= best["patience"]

    def save(self, path):
        """Save to ``path`` (``.npz``) atomically: written to a temporary file, then renamed."""
        path = os.fspath(path)
        arrays = {f"weight_{j}": w for j, w in enumerate(self.weights)}
        arrays.update({f"last_weight_{j}": w for j, w in enumerate(self.last_weights or [])})
        arrays.update({f"history_{k}": v for k, v in self.history.items()})
        best = self.state.get("best") or {}
        arrays.update({f"best_{k}": v for k, v in best.items() if k != "patience"})
        arrays.update(nit=self.nit, success=self.success,
                      state_s=np.asarray(self.state.get("s", 0.0)),
                      state_loss0=np.asarray(self.state.get("loss0", np.nan)))
        meta = dict(optimizer=self.optimizer, lr=self.lr, t=int(self.state.get("t", 0)),
                    wall_time=self.wall_time, depth=len(self.weights), status=self.status, message=self.message,
                    fingerprint=self.state.get("fingerprint"), keep_last=self.last_weights is not None,
                    patience=best.get("patience"), model=self.model)
        tmp = path + ".tmp.npz"
        np.savez(tmp, meta=np.asarray(json.dumps(meta)), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Load a run written by :meth:`save` (also by versions that wrote ``steps``, ``converged``
        and ``stop_reason`` for ``nit``, ``success`` and ``status``)."""
        with np.load(os.fspath(path)) as data:
            meta = json.loads(str(data["meta"]))
            depth = range(meta["depth"])
            best = {k[len("best_"):]: data[k] for k in data.files if k.startswith("best_")}
            state = {"t": meta["t"], "s": data["state_s"], "fingerprint": meta.get("fingerprint"),
                     "loss0": data["state_loss0"] if "state_loss0" in data.files else None}
            if best:
                state["best"] = dict(best, patience=meta.get("patience") or np.inf)
            kind = meta.get("model", "matrix")
            kind = cls if kind == cls.model else cls._kinds.get(kind, cls)
            return kind(weights=[data[f"weight_{j}"] for j in depth],
                       history={k[8:]: data[k] for k in data.files if k.startswith("history_")},
                       nit=data["nit" if "nit" in data.files else "steps"],
                       success=data["success" if "success" in data.files else "converged"],
                       optimizer=meta["optimizer"], lr=meta["lr"], state=state, wall_time=meta["wall_time"],
                       last_weights=[data[f"last_weight_{j}"] for j in depth] if meta.get("keep_last") else None,
                       status=meta.get("status", meta.get("stop_reason", "max_steps")), message=meta.get("message", ""))


_MESSAGES = {
    "max_steps": "Stopped at the step cap (max_steps, or t_end for a flow): {done} of {trials} trials reached loss_tol.",
    "loss_tol": "Every trial reached loss <= loss_tol.",
    "patience": "Stopped early: the validation error stopped improving (patience); {done} of {trials} trials "
                "reached loss_tol.",
    "callback": "Stopped by the callback; {done} of {trials} trials reached loss_tol.",
}


def _spread(values):
    """``"0.5"`` for one value, ``"0.1..0.5 (3 trials)"`` for several: a summary, never the array."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 1:
        return f"{v[0]:.4g}"
    return f"{v.min():.4g}..{v.max():.4g} ({v.size} trials)" if v.size else "none"


# --------------------------------------------------------------------------- checkpoint and resume

class Checkpoint:
    """Saves the run to ``path`` every ``every`` steps and at the end; an existing file is resumed
    from, unless it was computed with other settings (``fingerprint``)."""

    def __init__(self, path, every, fingerprint):
        self.path, self.every = path, check_int(every, "checkpoint_every", minimum=1)
        self.fingerprint = fingerprint

    def resume_from(self, resume, optimizer):
        where = "the given run"
        if self.path is not None and resume is None and os.path.exists(self.path):
            resume, where = Run.load(self.path), f"from the checkpoint {self.path}"
        if resume is None:
            return None
        if resume.optimizer != optimizer:
            raise ValueError(f"cannot resume a {resume.optimizer!r} run with optimizer={optimizer!r}")
        saved, now = resume.state.get("fingerprint"), self.fingerprint
        diff = [k for k in now if saved and k in saved and saved[k] != now[k]]
        if diff:
            details = "; ".join(f"{k}: saved {saved[k]!r}, now {now[k]!r}" for k in diff
                                if k not in ("data", "validation"))
            for k, what in (("validation", "the validation data"), ("data", "the problem's data")):
                if k in diff:
                    details = f"{what} differ" + (f"; {details}" if details else "")
            raise ValueError(f"cannot resume {where}: it was computed with other settings ({details}); "
                             "use another checkpoint path, delete the file, or pass the same settings")
        return resume

    def maybe_save(self, step, make_run):
        if self.path is not None and step % self.every == 0:
            make_run().save(self.path)

    def save(self, run):
        if self.path is not None:
            run.save(self.path)


def problem_digest(problem, names=("rows", "cols", "data", "measurement_matrix")):
    """A hash of a problem's data (its arrays ``names``: positions, values, measurements), or None."""
    if problem is None:
        return None
    digest = hashlib.sha1()
    for name in names:
        arr = getattr(problem, name, None)
        if arr is not None:
            digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def run_fingerprint(problem, weights, settings, digest=problem_digest):
    """What a resumed run must share with the call that resumes it: the problem's data (hashed by
    ``digest``), the factor shapes (when given) and the settings."""
    out = dict(problem=type(problem).__name__, shape=list(problem.shape), reduction=problem.reduction,
               data=digest(problem), **settings)
    if weights is not None:
        out["weight_shapes"] = [list(np.shape(w)) for w in weights]
    return out
