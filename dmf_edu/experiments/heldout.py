"""Training watched on held-out entries (THEORY.md §9), shared by X9 and X2 on MovieLens.

:func:`track` runs the E19 optimizer once, recording every ``config["every"]`` steps the train
MSE, the validation error (``gradient_descent(validation=..., keep_best=True)``: early
stopping with the best weights kept) and, through a callback, the test error.  The run goes
on to convergence, so one run gives both the stopped and the converged numbers.  The test
split is only measured, never selected on.
"""

from __future__ import annotations

from ..factorization import end_to_end, init_weights
from ..metrics import heldout_error
from ..training.loop import gradient_descent


def heldout_mse(W, problem):
    """:func:`~dmf_edu.metrics.heldout_error` of one ``(m, n)`` matrix, as a float."""
    return float(heldout_error(W, problem))


def track(problem, depth, rng, config, validation=None, test=None, n_singular=1, width=None):
    """E19 from Gaussian init ``config["init_scale"]`` to train MSE ``config["loss_tol"]`` or
    ``config["max_steps"]``, recording every ``config["every"]`` steps.

    Returns a dict of curves at the recorded steps — ``step``, ``train`` (train MSE),
    ``validation`` and ``test`` (held-out MSE, when given), ``singular_values`` (top
    ``n_singular`` of ``W``) — and ``W`` (final), ``W_best`` and ``best_step`` (lowest
    validation error; ``None`` without validation), ``steps``, ``success`` (reached ``loss_tol``), ``wall_time``.
    """
    weights = init_weights(problem.shape, depth, config["init_scale"], width=width, rng=rng)
    test_curve = []

    def measure(view):
        test_curve.append(heldout_mse(view.W, test))

    run = gradient_descent(problem, weights, lr=config["lr"], max_steps=config["max_steps"], optimizer="adaptive",
                           loss_tol=config["loss_tol"], record_every=config["every"], n_singular=n_singular,
                           validation=validation, keep_best=validation is not None,
                           callback=None if test is None else measure)
    h = run.history
    out = dict(step=h["step"].astype(int).tolist(), train=h["train_error"].tolist(),
               singular_values=h["singular_values"].tolist(), W=run.W, W_best=None, best_step=None,
               steps=int(run.nit), success=bool(run.success), wall_time=float(run.wall_time))
    if test is not None:
        out["test"] = test_curve
    if validation is not None:
        out.update(validation=h["validation_error"].tolist(), W_best=run.W, best_step=int(run.best_step),
                   W=end_to_end(run.last_weights))
    return out
