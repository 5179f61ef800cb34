r"""E1 — the layer gradients of a deep matrix factorization.

Statement (THEORY.md E1)
------------------------
For ``phi(W_1, ..., W_N) = l(W_N ... W_1)`` and ``G = grad l(W)`` at ``W = W_N ... W_1``::

    d phi / d W_j  =  W_{N:j+1}^T  G  W_{j-1:1}^T ,        W_{j:i} = W_j ... W_i  (empty = I).

Scope: proved exactly, as polynomial identities in free (generic) symbols, for depths 1 to 4 at
the sizes ``d = (2,2,2)`` (square: a dropped transpose is shape-compatible and must be caught by
value), ``(3,2)``, ``(3,4,2)``, ``(3,1,4,2)`` and ``(2,3,4,1,3)`` (full run only), hidden widths
different from the outer ones.  No structure (balanced, square, commuting) is assumed.  The
argument is the same at every size, but only these sizes are machine-checked.

Steps
-----
S1  For the linear loss ``<G, W>`` with ``G`` a matrix of free symbols held fixed, every
    entry of ``sympy.diff`` equals the formula.  By the chain rule,
    ``d phi/d(W_j)_ab = sum_ik G_ik dW_ik/d(W_j)_ab`` with ``G = grad l`` frozen at the point,
    so this one identity is E1 for every differentiable loss.
S2  For the masked quadratic loss ``1/2 sum_ik m_ik (W_ik - y_ik)^2`` (mask and targets free;
    matrix completion is the 0/1 mask) the formula holds with ``G = m o (W - Y)``, a gradient
    that depends on the weights: the case numerical code meets.
T1  Library: ``dmf_edu.factorization.layer_gradients`` at a random rational point of every
    size equals the exact derivative of S1 (relative error <= 1e-12).
"""

import numpy as np
import sympy as sp

from dmf_edu import factorization
from dmf_edu.proofs.symbolic import (Page, Planted, chain_product, identity_like, random_rational_point,
                                     rational_matrix, rational_weights, symbol_matrix, symbolic_weights,
                                     to_float_array, weight_grid)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E1", title="layer gradients dphi/dW_j",
    statement="d/dW_j l(W_N...W_1) = W_{N:j+1}^T G W_{j-1:1}^T, G = grad l(W), for every differentiable l",
    method="exact expansion (sympy.diff)",
    steps={"S1": "loss <G, W>, G free: sympy.diff = W_{N:j+1}^T G W_{j-1:1}^T (every loss, by the chain rule)",
           "S2": "masked quadratic loss: the formula with G = m o (W - Y)",
           "T1": "library: factorization.layer_gradients equals the exact derivative at rational points"})

DIMS = ([2, 2, 2], [3, 2], [3, 4, 2], [3, 1, 4, 2], [2, 3, 4, 1, 3])


# --------------------------------------------------------------------------- the formula

def layer_gradient_formula(weights, G):
    r"""E1 on symbolic factors: ``[W_{N:j+1}^T G W_{j-1:1}^T for j = 1..N]``.

    Parameters
    ----------
    weights : list ``[W_1, ..., W_N]`` of ``sympy.Matrix`` or ``DomainMatrix``, ``W_j`` of shape ``(d_j, d_{j-1})``
    G : same kind, shape ``(d_N, d_0)``

    Returns
    -------
    list of matrices, the ``j``-th of shape ``(d_j, d_{j-1})`` (empty products are identities)
    """
    m, n = G.shape
    return [chain_product(weights[j + 1:], identity_like(G, m)).transpose() * G
            * chain_product(weights[:j], identity_like(G, n)).transpose() for j in range(len(weights))]


def masked_quadratic_gradient(W, mask, Y):
    """``G = m o (W - Y)``, the gradient of ``1/2 sum m (W - Y)^2`` with respect to ``W``."""
    return mask.multiply_elementwise(W - Y)


def gradient_matrix(f, M):
    """Matrix of partial derivatives ``df/dM_ab``, entry by entry with plain ``sympy.diff``."""
    return sp.Matrix(M.shape[0], M.shape[1], lambda a, b: sp.diff(f, M[a, b]))


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, formula=layer_gradient_formula, masked_gradient=masked_quadratic_gradient,
          library=factorization.layer_gradients):
    """Check S1, S2 at every size of :data:`DIMS` (the first four when ``quick``), T1 at a rational point."""
    dims_list = DIMS[:4] if quick else DIMS
    proof.sizes(", ".join(f"N={len(d) - 1} d=({','.join(map(str, d))})" for d in dims_list))
    for dims in dims_list:
        weights = symbolic_weights(dims)
        m, n = dims[-1], dims[0]
        W = chain_product(weights)
        G, mask, Y = symbol_matrix("g", m, n), symbol_matrix("m", m, n), symbol_matrix("y", m, n)
        free = set().union(*(w.free_symbols for w in weights), G.free_symbols, mask.free_symbols, Y.free_symbols)
        point = random_rational_point(free, proof.rng)
        # S1: the linear functional <G, W> with G held fixed
        phi = sp.expand(sum(G[i, k] * W[i, k] for i in range(m) for k in range(n)))
        exact = [gradient_matrix(phi, Wj) for Wj in weights]
        for j, (e, c) in enumerate(zip(exact, formula(weights, G))):
            proof.zero("S1", e - c, f"dims {dims}, layer {j + 1}, loss <G, W>", point)
        # S2: the masked quadratic loss, whose G depends on the weights
        loss = sum(mask[i, k] * (W[i, k] - Y[i, k]) ** 2 for i in range(m) for k in range(n)) / 2
        for j, c in enumerate(formula(weights, masked_gradient(W, mask, Y))):
            proof.zero("S2", gradient_matrix(loss, weights[j]) - c, f"dims {dims}, layer {j + 1}, masked loss",
                       point)
    tie_layer_gradients(proof, "T1", library, quick)
    proof.note("the loss <G, W> with free G covers every loss (chain rule)")


def tie_layer_gradients(proof, step, library, quick):
    """Tie-in: ``library(weights, G)`` equals E1 at exact rational points of every weight regime
    (:func:`weight_grid`: square, tall, wide W; N = 1, 2, 3, >= 4; equal and distinct widths), and
    batched (two trials stacked on a leading axis, one call)."""
    grid = weight_grid(quick)
    proof.sizes("tie-in " + ", ".join(f"d=({','.join(map(str, d))})" for d in grid) + ", batched 2 trials")
    for dims in grid:
        trials = [(rational_weights(dims, proof.rng), rational_matrix(dims[-1], dims[0], proof.rng))
                  for _ in range(2 if dims is grid[2] else 1)]
        exact = [layer_gradient_formula(ws, G) for ws, G in trials]
        floats = [([to_float_array(w) for w in ws], to_float_array(G)) for ws, G in trials]
        if len(trials) == 2:                                   # batched: one call on stacked trials
            numeric = library([np.stack(ws) for ws in zip(*(f[0] for f in floats))],
                              np.stack([f[1] for f in floats]))
            numeric = [[g[b] for g in numeric] for b in range(2)]
        else:
            numeric = [library(*floats[0])]
        for b, (num, ex) in enumerate(zip(numeric, exact)):
            proof.count(step, num, len(ex), f"layer_gradients, dims {dims}")
            for j, e in enumerate(ex):
                proof.close(step, num[j], e, rtol=1e-12, what=f"layer_gradients, dims {dims}, trial {b}, layer {j + 1}")


# --------------------------------------------------------------------------- planted wrong variants

def _dropped_transpose(weights, G):
    m, n = G.shape
    return [chain_product(weights[j + 1:], identity_like(G, m)).transpose() * G
            * chain_product(weights[:j], identity_like(G, n)) for j in range(len(weights))]


def _last_layer_halved(weights, G):
    grads = factorization.layer_gradients(weights, G)
    return grads[:-1] + [0.5 * grads[-1]]


def _square_layers_transposed(weights, G):
    return [g.T if g.shape[0] == g.shape[1] else g for g in factorization.layer_gradients(weights, G)]


PLANTED = {
    "dropped transpose": Planted("S1", lambda: dict(formula=_dropped_transpose)),
    "reversed product order": Planted("S1", lambda: dict(formula=lambda ws, G: layer_gradient_formula(ws[::-1], G))),
    "wrong factor 2": Planted("S1", lambda: dict(formula=lambda ws, G: [g + g for g in layer_gradient_formula(ws, G)])),
    "masked loss: mask forgotten, G = W - Y": Planted("S2", lambda: dict(masked_gradient=lambda W, m, Y: W - Y)),
    "library: last layer halved": Planted("T1", lambda: dict(library=_last_layer_halved)),
    "library: square layers transposed": Planted("T1", lambda: dict(library=_square_layers_transposed)),
}


# --------------------------------------------------------------------------- worked example

def worked_example():
    """Depth 2, d = (1, 2, 1): W = W_2 W_1 is 1x1; both sides of E1."""
    W1, W2 = symbolic_weights([1, 2, 1])
    G = symbol_matrix("g", 1, 1)
    phi = sp.expand((G.T * chain_product([W1, W2]))[0, 0])
    print("phi = <G, W_2 W_1> =", phi)
    for j, (Wj, formula) in enumerate(zip([W1, W2], layer_gradient_formula([W1, W2], G)), start=1):
        print(f"dphi/dW_{j}: sympy.diff = {list(gradient_matrix(phi, Wj))}   E1 = {list(formula)}")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
