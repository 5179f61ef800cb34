r"""E2 — gradient flow conserves the balancedness matrices.

Statement (THEORY.md E2)
------------------------
Under ``dW_j/dt = -d phi/d W_j`` every ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (j = 1..N-1)
is constant.  With weight decay, ``dW_j/dt = -d phi/d W_j - lambda W_j``, it decays:
``dD_j/dt = -2 lambda D_j``.

Scope: exact polynomial identities in free symbolic factors (depths 2 to 4, rectangular with
hidden widths unlike the outer ones, and the square ``d = (2,2,2)``), a free ``G`` and a free
``lambda``.  Because ``G`` is free the identity holds at every state for *any* loss.  Gradient
*descent* does not conserve ``D_j`` exactly (the drift is O(step), THEORY.md E2): that is tested
numerically elsewhere, not here.  The gradients are E1 (proved on the E1 page).

Steps
-----
S1  The key cancellation: ``W_{j+1}^T (dphi/dW_{j+1}) = (dphi/dW_j) W_j^T`` — both are
    ``W_{N:j+1}^T G W_{j:1}^T`` — for every ``j`` and every ``G``.
S2  Hence, with ``Wdot_j = -dphi/dW_j - lambda W_j``,
    ``dD_j/dt = Wdot_{j+1}^T W_{j+1} + W_{j+1}^T Wdot_{j+1} - Wdot_j W_j^T - W_j Wdot_j^T = -2 lambda D_j``.
T1  Library: ``factorization.balancedness_residuals`` returns N - 1 residuals, each the exact ``D_j``, at
    rational points of every regime (square, tall, wide W; N = 2, 3, >= 4; equal and distinct widths).
T2  Library: the rate ``dD_j/dt`` computed from ``factorization.layer_gradients`` (lambda = 0)
    is zero to rounding (relative to ``sum ||Wdot|| ||W||``, tolerance 1e-12).
"""

import numpy as np
import sympy as sp

from dmf_edu import factorization
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula
from dmf_edu.proofs.symbolic import (Page, Planted, random_rational_point, rational_matrix, rational_weights,
                                     symbol_matrix, symbolic_weights, to_float_array, weight_grid)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E2", title="balancedness D_j conserved by the flow",
    statement="D_j = W_{j+1}^T W_{j+1} - W_j W_j^T satisfies dD_j/dt = -2 lambda D_j under "
              "dW_j/dt = -dphi/dW_j - lambda W_j (lambda = 0: conserved)",
    method="exact expansion",
    steps={"S1": "W_{j+1}^T dphi/dW_{j+1} = dphi/dW_j W_j^T for every G",
           "S2": "dD_j/dt + 2 lambda D_j = 0 under the flow with weight decay",
           "T1": "library: factorization.balancedness_residuals equals D_j at rational points",
           "T2": "library: dD_j/dt from factorization.layer_gradients is zero to rounding"})

DIMS = ([2, 2, 2], [3, 4, 2], [3, 1, 4, 2], [2, 3, 4, 1, 3])


def balancedness_rate(weights, velocities, j):
    """``dD_j/dt`` for ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (0-based ``j``), sympy or numpy."""
    A, B = weights[j + 1], weights[j]
    dA, dB = velocities[j + 1], velocities[j]
    return dA.T @ A + A.T @ dA - dB @ B.T - B @ dB.T


def prove(proof, quick=False, formula=layer_gradient_formula, decay_rate=2,
          residuals=factorization.balancedness_residuals, library=factorization.layer_gradients):
    """S1, S2 exactly at every size of :data:`DIMS` (three when ``quick``); T1, T2 at a rational point."""
    lam = sp.Symbol("lambda", real=True)
    dims_list = DIMS[:3] if quick else DIMS
    proof.sizes(", ".join(f"N={len(d) - 1} d=({','.join(map(str, d))})" for d in dims_list))
    for dims in dims_list:
        weights = symbolic_weights(dims)
        G = symbol_matrix("g", dims[-1], dims[0])
        grads = formula(weights, G)
        point = random_rational_point(set().union(*(w.free_symbols for w in weights), G.free_symbols, {lam}),
                                      proof.rng)
        velocities = [-g - lam * w for g, w in zip(grads, weights)]
        D = [weights[j + 1].T * weights[j + 1] - weights[j] * weights[j].T for j in range(len(weights) - 1)]
        for j in range(len(weights) - 1):
            proof.zero("S1", weights[j + 1].T * grads[j + 1] - grads[j] * weights[j].T,
                       f"dims {dims}, j = {j + 1}", point)
            proof.zero("S2", balancedness_rate(weights, velocities, j) + decay_rate * lam * D[j],
                       f"dims {dims}, D_{j + 1}", point)
    tie_residuals(proof, residuals, library, quick)


def tie_residuals(proof, residuals, library, quick):
    """T1: ``residuals`` returns the N - 1 exact ``D_j`` at rational points of every weight regime
    with N >= 2; T2: the rate from ``library`` (layer gradients, checked against E1 too) is 0 --
    at the first such regime on two trials batched in one call (leading axis)."""
    grid = [d for d in weight_grid(quick) if len(d) >= 3]
    for dims in grid:
        trials = [(rational_weights(dims, proof.rng), rational_matrix(dims[-1], dims[0], proof.rng))
                  for _ in range(2 if dims is grid[0] else 1)]
        floats = [[to_float_array(w) for w in weights] for weights, _ in trials]
        for weights, ws in zip(trials, floats):
            got = residuals(ws)
            proof.count("T1", got, len(ws) - 1, f"balancedness_residuals, dims {dims}")
            for j, Dj in enumerate(got):
                exact = weights[0][j + 1].T * weights[0][j + 1] - weights[0][j] * weights[0][j].T
                proof.close("T1", Dj, exact, rtol=1e-12, what=f"balancedness_residuals D_{j + 1}, dims {dims}")
        if len(trials) == 2:                                   # batched: one call on stacked trials
            stacked = library([np.stack(w) for w in zip(*floats)], np.stack([to_float_array(G) for _, G in trials]))
            proof.count("T2", stacked, len(floats[0]), f"layer_gradients batched, dims {dims}")
            per_trial = [[g[b] for g in stacked] for b in range(2)]
        else:
            per_trial = [library(floats[0], to_float_array(trials[0][1]))]
        for b, ((weights, G), ws, grads) in enumerate(zip(trials, floats, per_trial)):
            label = f"dims {dims}" + (f", batched trial {b}" if len(trials) > 1 else "")
            _tie_rate(proof, dims, weights, G, ws, grads, label)


def _tie_rate(proof, dims, weights, G, ws, grads, label):
    """T2 for one trial: the library's gradients are E1's and their balancedness rate is 0."""
    proof.count("T2", grads, len(ws), f"layer_gradients, {label}")
    for g, e in zip(grads, layer_gradient_formula(weights, G)):
        proof.close("T2", g, e, rtol=1e-12, what=f"layer_gradients, {label}")
    vel = [-g for g in grads]
    for j in range(len(ws) - 1):
        scale = sum(np.linalg.norm(v) * np.linalg.norm(w) for v, w in zip(vel[j:j + 2], ws[j:j + 2]))
        proof.close("T2", balancedness_rate(ws, vel, j), np.zeros((dims[j + 1],) * 2), rtol=1e-12,
                    what=f"dD_{j + 1}/dt from layer_gradients, {label}", scale=scale)


def _first_layer_doubled(weights, G):
    grads = layer_gradient_formula(weights, G)
    return [grads[0] + grads[0]] + grads[1:]


def _dropped_transpose(weights, G):
    return [g.T if g.shape[0] == g.shape[1] else g for g in layer_gradient_formula(weights, G)]


def _library_first_layer_doubled(weights, G):
    grads = factorization.layer_gradients(weights, G)
    return [2 * grads[0]] + grads[1:]


PLANTED = {
    "dropped transpose (square layers)": Planted("S1", lambda: dict(formula=_dropped_transpose)),
    "first layer gradient doubled": Planted("S1", lambda: dict(formula=_first_layer_doubled)),
    "wrong decay rate (-lambda D)": Planted("S2", lambda: dict(decay_rate=1)),
    "library: D_j with the sides swapped": Planted(
        "T1", lambda: dict(residuals=lambda ws: [-D for D in factorization.balancedness_residuals(ws)])),
    "library: D_j x1.01": Planted(
        "T1", lambda: dict(residuals=lambda ws: [1.01 * D for D in factorization.balancedness_residuals(ws)])),
    "library: first layer gradient doubled": Planted("T2", lambda: dict(library=_library_first_layer_doubled)),
    "library: last residual D_{N-1} dropped": Planted(
        "T1", lambda: dict(residuals=lambda ws: factorization.balancedness_residuals(ws)[:-1])),
}


def worked_example():
    """Depth 2, scalars (d = (1,1,1)): D = w2^2 - w1^2 and its rate under the flow."""
    w1, w2, g, lam = sp.symbols("w1 w2 g lambda", real=True)
    d1, d2 = -(g * w2) - lam * w1, -(g * w1) - lam * w2          # -dphi/dw - lambda w, phi = g w2 w1
    rate = sp.expand(2 * w2 * d2 - 2 * w1 * d1)
    print("D = w2^2 - w1^2;  dD/dt =", rate, "=", sp.factor(rate))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
