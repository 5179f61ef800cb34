r"""Gradient flows integrated with ``scipy.integrate.solve_ivp``: the factor flow and the
end-to-end flow ``dW/dt = -A_{N,W}(grad ell(W))`` (E3), each returning a :class:`dmf_edu.training.Run`."""

from __future__ import annotations

import time as _time

import numpy as np
from scipy.integrate import solve_ivp

from .._validate import as_float_array, check_int, check_positive, check_weights
from ..factorization import backward, prefix_products
from ..linalg import resolve_depth
from ..problems import Problem
from ..training.history import Recorder
from ..training.loop import DivergenceError
from ..training.run import Run
from .operator import end_to_end_operator

__all__ = ["gradient_flow", "end_to_end_flow"]


def _check_problem(problem, m, n, what):
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    if (m, n) != tuple(problem.shape):
        raise ValueError(f"{what} gives an end-to-end matrix of shape {m}x{n} but the problem is "
                         f"{problem.shape[0]}x{problem.shape[1]}")


def _dense(G):
    return G.toarray() if hasattr(G, "toarray") else G


def _integrate(problem, y0, decode, velocity, t_end, *, loss_tol, method, rtol, atol,
               max_step, record_times, n_records, truth, n_singular, name, state):
    """Shared driver of both flows: ``solve_ivp`` + loss event + the GD history recorder.

    ``decode(y) -> (weights, W)`` and ``velocity(weights, W, G) -> list of arrays`` (the
    time derivatives of the arrays in ``weights``).
    """
    t_end = check_positive(t_end, "t_end")
    rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
    if loss_tol is not None:
        loss_tol = check_positive(loss_tol, "loss_tol", allow_zero=True)
    n_singular = check_int(n_singular, "n_singular", minimum=1)
    if record_times is None:
        record_times = np.linspace(0.0, t_end, check_int(n_records, "n_records", minimum=2))
    else:
        record_times = as_float_array(record_times, "record_times", ndim=1)
        if np.any(np.diff(record_times) <= 0) or record_times[0] < 0 or record_times[-1] > t_end:
            raise ValueError("record_times must increase strictly within [0, t_end]")
    truth = problem.truth if truth is None else np.asarray(truth, dtype=float)
    clock0 = _time.perf_counter()
    trace = [(0.0, 0, 0.0)]                                  # (furthest t, evaluations, seconds)
    count = [0]

    def rhs(t, y):
        count[0] += 1
        if t > trace[-1][0]:
            trace.append((t, count[0], _time.perf_counter() - clock0))
        with np.errstate(all="ignore"):
            ws, W = decode(y)
            _, G = problem.loss_and_gradient_unchecked(W)
            return np.concatenate([v.ravel() for v in velocity(ws, W, G)])

    def loss_of(y):
        with np.errstate(all="ignore"):
            return problem.loss_and_gradient_unchecked(decode(y)[1])[0]

    events = None
    if loss_tol is not None:
        def reached(t, y):
            return float(np.max(loss_of(y))) - loss_tol
        reached.terminal, reached.direction = True, -1
        events = [reached]
    if events is not None and events[0](0.0, y0) <= 0:          # converged before starting
        status, message, ts, ys = 1, "loss_tol already reached at t = 0", [0.0], [y0]
    else:
        sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=record_times, events=events,
                        rtol=rtol, atol=atol, max_step=max_step)
        status, message, ts, ys = sol.status, sol.message, list(sol.t), list(sol.y.T)
        if events is not None and sol.t_events[0].size and (not ts or ts[-1] < sol.t_events[0][0]):
            ts.append(float(sol.t_events[0][0]))
            ys.append(sol.y_events[0][0])
    recorder = Recorder(problem, truth, n_singular)
    marks = np.array([row[0] for row in trace])
    for t, y in zip(ts, ys):
        ws, W = decode(y)
        k = min(int(np.searchsorted(marks, t)), len(trace) - 1)
        recorder.record(trace[k][1], problem.loss(W), W, ws, trace[k][2])
        recorder.rows.setdefault("t", []).append(t)
    y_end = ys[-1] if ys else y0
    ws, W = decode(y_end)
    loss = problem.loss(W)
    lead = np.shape(loss)
    state = dict(state, t=count[0], s=0.0, flow_time=ts[-1] if ts else 0.0, status=status,
                 message=message, method=method, rtol=rtol, atol=atol)
    if loss_tol is None:
        converged = np.zeros(lead, dtype=bool)
    else:   # a fired event means every trial is at loss_tol up to the event's root-finding error
        converged = np.asarray((loss <= loss_tol) | (status == 1))
    run = Run(weights=[np.array(w) for w in ws], history=recorder.history(),
              nit=np.full(lead, count[0]), success=converged, optimizer=name, lr=float("nan"),
              state=state, wall_time=_time.perf_counter() - clock0,
              status="loss_tol" if np.all(converged) and loss_tol is not None else "max_steps",
              message=f"{name}: {message}")
    if status == -1 or not np.all(np.isfinite(loss)):
        raise DivergenceError(f"{name} failed near t = {trace[-1][0]:.6g}: {message} "
                              f"(the loss may blow up; check the problem scaling or lower t_end). "
                              "The run so far is in .run", run)
    return run


_FLOW_DOC = """t_end : float > 0
        Final time (rescaled ``tau`` when ``rescaled`` is true).
    loss_tol : float, optional
        Stop as soon as the loss (max over trials) falls to ``loss_tol`` (a terminal
        ``solve_ivp`` event; the stopping point is appended to the history).
    method, rtol, atol, max_step :
        Passed to ``scipy.integrate.solve_ivp`` (default ``DOP853``, ``rtol=1e-9``, ``atol=1e-12``).
    n_records : int
        Number of equally spaced record times in ``[0, t_end]`` (ignored with ``record_times``).
    record_times : array, optional
        Increasing times at which to record the history.
    truth : array ``(..., m, n)``, optional
        Ground truth for test errors (default ``problem.truth``).
    n_singular : int
        Top singular values to record.

    Returns
    -------
    Run
        As from :func:`dmf_edu.gradient_descent`: ``history`` has the same keys (``step`` is
        the number of gradient evaluations the solver had made by that time) plus ``t``, the
        flow time of each record.  ``optimizer`` names the flow, ``lr`` is NaN, ``nit`` holds
        the total number of gradient evaluations, ``success`` whether ``loss <= loss_tol``,
        ``status`` ``"loss_tol"`` (every trial reached it) or ``"max_steps"`` (``t_end``
        reached), ``message`` the solver's, ``state`` the solver status and ``flow_time``
        (final time).

    Raises
    ------
    DivergenceError
        If the solver fails (e.g. the loss blows up); ``.run`` holds the records so far.
"""


def gradient_flow(problem, weights, t_end, *, loss_tol=None, method="DOP853", rtol=1e-9, atol=1e-12,
                  max_step=np.inf, n_records=201, record_times=None, rescaled=False,
                  weight_decay=0.0, grad_fn=None, truth=None, n_singular=10):
    """Gradient flow of the factors, ``dW_j/dt = -dphi/dW_j - lambda W_j`` (E1, E2).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of arrays
        Initial ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``; leading axes are
        trials (integrated jointly as one ODE; not modified).
    rescaled : bool
        Integrate in ``tau = N t`` (velocity divided by ``N``), to compare depths.
    weight_decay : float >= 0
        ``lambda``; with it E2 becomes ``dD_j/dt = -2 lambda D_j``.
    grad_fn : callable ``(weights, G) -> list``, optional
        Layer gradients to use (default E1, :func:`dmf_edu.layer_gradients`); pass another to
        study a variant or plant a bug.
    """
    weights = check_weights(weights)
    N = len(weights)
    _check_problem(problem, weights[-1].shape[-2], weights[0].shape[-1], "weights")
    lam = check_positive(weight_decay, "weight_decay", allow_zero=True)
    try:
        lead = np.broadcast_shapes(*(w.shape[:-2] for w in weights), problem.batch_shape)
    except ValueError:
        raise ValueError("the weights' trial axes do not broadcast with the problem's") from None
    ws0 = [np.broadcast_to(w, lead + w.shape[-2:]) for w in weights]
    shapes = [w.shape for w in ws0]
    cuts = np.cumsum([0] + [int(np.prod(sh)) for sh in shapes])
    scale = 1.0 / N if rescaled else 1.0

    def decode(y):
        ws = [y[cuts[i]:cuts[i + 1]].reshape(sh) for i, sh in enumerate(shapes)]
        return ws, prefix_products(ws)[-1]

    def velocity(ws, W, G):
        grads = backward(ws, prefix_products(ws), G) if grad_fn is None else grad_fn(ws, _dense(G))
        return [-scale * (g + lam * w) for g, w in zip(grads, ws)]

    y0 = np.concatenate([w.ravel() for w in ws0])
    return _integrate(problem, y0, decode, velocity, t_end, loss_tol=loss_tol, method=method,
                      rtol=rtol, atol=atol, max_step=max_step, record_times=record_times,
                      n_records=n_records, truth=truth, n_singular=n_singular, name="gradient_flow",
                      state=dict(depth=N, rescaled=bool(rescaled), weight_decay=lam))


def end_to_end_flow(problem, W0, depth, t_end, *, rescaled=None, loss_tol=None, method="DOP853",
                    rtol=1e-9, atol=1e-12, max_step=np.inf, n_records=201, record_times=None,
                    truth=None, n_singular=10):
    """End-to-end flow ``dW/dt = -A_{N,W}(grad ell(W))`` (E3), any depth including ``numpy.inf`` (E5).

    It is the factor flow from a balanced start (E3), so the recorded ``balancedness`` is 0
    by construction and ``run.weights`` is ``[W]`` (the end-to-end matrix, not a factorization).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    W0 : array, shape ``(..., m, n)``
        Initial end-to-end matrix (leading axes are trials).
    depth : int >= 1 or numpy.inf
    rescaled : bool, optional
        Integrate ``dW/dtau = -(1/N) A_{N,W}(G)`` in ``tau = N t``.  Default: ``False`` for finite
        depth, and necessarily ``True`` for ``depth=inf`` (the flow ``-A_{inf,W}(G)`` of E5).
    """
    N = resolve_depth(depth)
    W0 = as_float_array(W0, "W0", min_ndim=2)
    _check_problem(problem, W0.shape[-2], W0.shape[-1], "W0")
    if rescaled is None:
        rescaled = N == np.inf
    if N == np.inf and not rescaled:
        raise ValueError("depth=inf only exists in the rescaled time tau = N t; pass rescaled=True (or None)")
    try:
        lead = np.broadcast_shapes(W0.shape[:-2], problem.batch_shape)
    except ValueError:
        raise ValueError("the trial axes of W0 do not broadcast with the problem's") from None
    shape = lead + W0.shape[-2:]
    scale = 1.0 / N if (rescaled and N != np.inf) else 1.0

    def decode(y):
        W = y.reshape(shape)
        return [W], W

    def velocity(ws, W, G):
        return [-scale * end_to_end_operator(W, _dense(G), N)]

    y0 = np.broadcast_to(W0, shape).ravel().copy()
    return _integrate(problem, y0, decode, velocity, t_end, loss_tol=loss_tol, method=method,
                      rtol=rtol, atol=atol, max_step=max_step, record_times=record_times,
                      n_records=n_records, truth=truth, n_singular=n_singular, name="end_to_end_flow",
                      state=dict(depth=N, rescaled=bool(rescaled)))


gradient_flow.__doc__ += _FLOW_DOC
end_to_end_flow.__doc__ += _FLOW_DOC
