r"""Gradient checking: directional central differences, entry-wise differences, Taylor slope.

Each checker takes a scalar function ``f(xs)`` of a list of arrays and a claimed
gradient ``grad(xs)`` (a list of arrays of the same shapes) and returns numbers to assert
on.  What to expect in float64 (central differences, h about 1e-5): a correct gradient scores ~1e-9 relative error
along a random direction and a Taylor slope of 2; a wrong one 0.1-1 and a slope of 1.
Check at random rectangular points whose hidden widths differ from both outer
dimensions: at scaled-identity points some wrong gradients (a missing transpose) agree
with the right one.
"""

from __future__ import annotations

import numpy as np

from .factorization import end_to_end, layer_gradients
from ._validate import as_rng


def _as_list(xs):
    return [np.asarray(x, dtype=float) for x in (xs if isinstance(xs, (list, tuple)) else [xs])]


def _inner(a, b):
    return sum(float(np.sum(x * y)) for x, y in zip(a, b))


def _shifted(xs, vs, t):
    return [x + t * v for x, v in zip(xs, vs)]


def _random_direction(xs, rng):
    vs = [rng.standard_normal(x.shape) for x in xs]
    size = np.sqrt(_inner(xs, xs)) or 1.0
    norm = np.sqrt(_inner(vs, vs))
    return [v * (size / norm) for v in vs]


def _check_grad_shapes(xs, gs):
    if len(gs) != len(xs):
        raise ValueError(f"grad returned {len(gs)} arrays for {len(xs)} inputs")
    for j, (x, g) in enumerate(zip(xs, gs)):
        if np.shape(g) != x.shape:
            raise ValueError(f"grad[{j}] has shape {np.shape(g)}, expected {x.shape}")


def directional_check(f, grad, xs, rng=None, h=1e-5, n_directions=3):
    r"""Largest relative error between ``<grad f(x), v>`` and the central difference
    ``(f(x + h v) - f(x - h v)) / (2h)`` over ``n_directions`` random directions ``v``
    (scaled to ``||v|| = ||x||``, so ``h`` is relative)."""
    rng = as_rng(rng)
    xs = _as_list(xs)
    gs = _as_list(grad(xs))
    _check_grad_shapes(xs, gs)
    worst = 0.0
    for _ in range(n_directions):
        vs = _random_direction(xs, rng)
        fd = (float(f(_shifted(xs, vs, h))) - float(f(_shifted(xs, vs, -h)))) / (2 * h)
        an = _inner(gs, vs)
        worst = max(worst, abs(fd - an) / max(abs(fd), abs(an), 1e-300))
    return worst


def entrywise_check(f, grad, xs, rng=None, h=1e-5, max_entries=200):
    r"""Entry-wise central differences.

    Returns ``(error, where)``: the largest ``|fd - g| / (|fd| + |g| + floor)`` over (a random
    sample of at most ``max_entries``) entries, with ``floor = 1e-6 max |g|``, and
    ``(array index, entry index)`` of the worst entry, so a report can name the layer.
    """
    rng = as_rng(rng)
    xs = _as_list(xs)
    gs = _as_list(grad(xs))
    _check_grad_shapes(xs, gs)
    floor = 1e-6 * max((float(np.max(np.abs(g))) for g in gs if g.size), default=0.0) + 1e-300
    sites = [(j, i) for j, x in enumerate(xs) for i in range(x.size)]
    if max_entries is not None and len(sites) > max_entries:
        sites = [sites[k] for k in rng.choice(len(sites), max_entries, replace=False)]
    worst, where = 0.0, None
    for j, i in sites:
        scale = max(abs(xs[j].flat[i]), np.sqrt(_inner(xs, xs) / max(sum(x.size for x in xs), 1)), 1e-12)
        step = h * scale
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[j].flat[i] += step
        minus[j].flat[i] -= step
        fd = (float(f(plus)) - float(f(minus))) / (2 * step)
        err = abs(fd - gs[j].flat[i]) / (abs(fd) + abs(gs[j].flat[i]) + floor)
        if err > worst or where is None:
            worst, where = err, (j, np.unravel_index(i, xs[j].shape))
    return worst, where


def taylor_slope(f, grad, xs, rng=None, ts=None):
    r"""Slope of ``log |f(x + t v) - f(x) - t <grad f(x), v>|`` against ``log t``.

    The remainder is ``O(t^2)`` for a correct gradient (slope 2) and ``O(t)`` for a wrong
    one (slope 1).  ``ts`` defaults to 8 values from 1e-2 to 1e-5; points lost in rounding
    (remainder below ``1e-11 |f(x)|``) are left out of the fit.
    """
    rng = as_rng(rng)
    xs = _as_list(xs)
    gs = _as_list(grad(xs))
    _check_grad_shapes(xs, gs)
    ts = np.logspace(-2, -5, 8) if ts is None else np.asarray(ts, float)
    vs = _random_direction(xs, rng)
    f0 = float(f(xs))
    slope0 = _inner(gs, vs)
    rem = np.array([abs(float(f(_shifted(xs, vs, t))) - f0 - t * slope0) for t in ts])
    keep = rem > 1e-11 * max(abs(f0), 1e-300)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ts[keep]), np.log(rem[keep]), 1)[0])


def check_layer_gradients(problem, weights, rng=None, grad_fn=None, h=1e-5):
    r"""Run all three checks on ``phi(W_1..W_N) = problem.loss(W_N ... W_1)`` (E1).

    ``grad_fn(weights, G)`` defaults to :func:`layer_gradients`; pass another function to
    check it (a student's, or a planted bug).  Returns a dict with ``directional``,
    ``entrywise``, ``entrywise_where`` and ``taylor_slope``.
    """
    grad_fn = layer_gradients if grad_fn is None else grad_fn
    rng = as_rng(rng)

    def phi(ws):
        return float(problem.loss(end_to_end(ws)))

    def grad(ws):
        G = problem.gradient(end_to_end(ws))
        G = G.toarray() if hasattr(G, "toarray") else G
        return grad_fn(ws, G)

    err, where = entrywise_check(phi, grad, weights, rng=rng, h=h)
    return dict(directional=directional_check(phi, grad, weights, rng=rng, h=h),
                entrywise=err, entrywise_where=where,
                taylor_slope=taylor_slope(phi, grad, weights, rng=rng))
