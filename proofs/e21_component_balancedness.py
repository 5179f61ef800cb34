r"""E21 — gradient flow conserves the balancedness of every CP component.

Statement (THEORY.md E21, §10)
------------------------------
Under ``dA_n/dt = -dphi/dA_n`` (E20), for every component ``r`` and modes ``n, n'``:
``d/dt (||w_r^(n)||^2 - ||w_r^(n')||^2) = 0``, because ``d/dt ||w_r^(n)||^2 = -2 <G, w_r^(1) o ... o w_r^(N)>``
for every ``n``.  Gradient descent with step ``eta`` moves the residual by exactly
``eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)`` per step (``g = dphi/dA``): O(eta^2) per step.

Scope: exact polynomial identities in free symbolic factors, a free ``G`` and a free ``eta``, orders 3
and 4 at equal and distinct dimensions, ``R = 1`` and ``R = 2``.  Because ``G`` is free the identities
hold at every state for any loss.  The gradients are E20 (proved on the E20 page).

Steps
-----
S1  ``<w_r^(n), dphi/dw_r^(n)> = <G, w_r^(1) o ... o w_r^(N)>`` for every mode ``n`` and component ``r``
    (so ``d/dt ||w_r^(n)||^2 = -2 <G, W_r>`` is the same for every ``n``: the residuals are conserved).
S2  One GD step changes ``||w_r^(n)||^2 - ||w_r^(1)||^2`` by exactly ``eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)``.
T1  Library: ``dmf_edu.tensors.component_balancedness`` equals the exact residuals at rational points.
T2  Library: ``<w_r^(n), g_r^(n)>`` from ``cp_gradients`` (free ``G``) and from
    ``TensorCompletion.loss_and_factor_gradients`` (sum and mean) equals the exact ``<G, W_r>`` for every ``n``.
"""

import numpy as np
import sympy as sp

from dmf_edu.tensors import TensorCompletion, component_balancedness, cp_gradients
from dmf_edu.proofs.e20_cp_gradient import (completion_gradient_formula, cp_entry, cp_gradient_formula, observed,
                                           symbol_tensor, symbolic_factors)
from dmf_edu.proofs.symbolic import Page, Planted, at_point, random_rational_point
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E21", title="component balancedness conserved by the flow",
    statement="d/dt(||w_r^(n)||^2 - ||w_r^(n')||^2) = 0 under dA/dt = -dphi/dA, since "
              "d/dt ||w_r^(n)||^2 = -2 <G, w_r^(1) o ... o w_r^(N)> for every n; a GD step moves it by "
              "eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)",
    method="exact expansion",
    steps={"S1": "<w_r^(n), dphi/dw_r^(n)> = <G, W_r> for every n and every G",
           "S2": "one GD step moves the residual by exactly eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)",
           "T1": "library: tensors.component_balancedness equals the exact residuals",
           "T2": "library: <w_r^(n), g_r^(n)> from cp_gradients and the sparse gradient equals <G, W_r>"})

CASES = [((2, 2, 2), 2), ((3, 2, 4), 1), ((2, 3, 2, 2), 2), ((3, 2, 4), 2)]


def sq(v):
    """``||v||^2`` of a sympy column (or numpy vector)."""
    return sum(x * x for x in v)


def component_inner(G, factors, r):
    """``<G, w_r^(1) o ... o w_r^(N)>`` for a tensor ``G`` given as ``{multi-index: value}``."""
    return sum(g * sp.Mul(*(A[i_n, r] for A, i_n in zip(factors, idx))) for idx, g in G.items())


def prove(proof, quick=False, formula=cp_gradient_formula, eta_power=2, residuals=component_balancedness,
          library=cp_gradients, sparse=TensorCompletion.loss_and_factor_gradients):
    """S1, S2 exactly at every case of :data:`CASES` (three when ``quick``); T1, T2 at a rational point."""
    eta = sp.Symbol("eta", real=True)
    cases = CASES[:3] if quick else CASES
    proof.sizes(", ".join(f"N={len(dims)} d=({','.join(map(str, dims))}) R={R}" for dims, R in cases))
    for dims, R in cases:
        factors, G = symbolic_factors(dims, R), symbol_tensor("g", dims)
        grads = formula(factors, G)
        point = random_rational_point(set().union(*(A.free_symbols for A in factors), G.values(), {eta}), proof.rng)
        N = len(dims)
        for r in range(R):
            W_r = component_inner(G, factors, r)
            for n in range(N):
                proof.zero("S1", factors[n][:, r].dot(grads[n][:, r]) - W_r, f"dims {dims}, r = {r}, mode {n + 1}",
                           point)
            for n in range(1, N):
                before = sq(factors[n][:, r]) - sq(factors[0][:, r])
                after = sq(factors[n][:, r] - eta * grads[n][:, r]) - sq(factors[0][:, r] - eta * grads[0][:, r])
                proof.zero("S2", after - before - eta ** eta_power * (sq(grads[n][:, r]) - sq(grads[0][:, r])),
                           f"dims {dims}, r = {r}, mode {n + 1} against mode 1", point)
        fs = [at_point(A, point) for A in factors]
        exact = sp.Matrix(N - 1, R, lambda n, r: sq(factors[n + 1][:, r]) - sq(factors[0][:, r]))
        proof.close("T1", residuals(fs), at_point(exact, point), rtol=1e-12,
                    what=f"component_balancedness, dims {dims}, R = {R}")
        Gp = np.array([float(point[G[i]]) for i in sorted(G)]).reshape(dims)
        inner = [at_point(component_inner(G, factors, r), point) for r in range(R)]
        grads_lib = library(fs, Gp)
        proof.count("T2", grads_lib, N, f"cp_gradients, dims {dims}, R = {R}")
        for n, g in enumerate(grads_lib):
            proof.close("T2", np.sum(fs[n] * g, axis=0), np.array(inner), rtol=1e-12,
                        what=f"<w_r, g_r> from cp_gradients, dims {dims}, mode {n + 1}")
        index = observed(dims, 4, proof.rng)
        y = [sp.Rational(int(proof.rng.integers(-9, 10)), 7) for _ in index]
        for reduction in ("sum", "mean"):
            c = 1 if reduction == "sum" else sp.Rational(2, len(index))
            exact = [sp.Matrix(fs_n.shape[0], R, lambda i, r, e=e: e[i, r].xreplace(point))
                     for fs_n, e in zip(fs, completion_gradient_formula(factors, index, y, c))]
            want = [sum(factors[0][i, r].xreplace(point) * exact[0][i, r] for i in range(dims[0])) for r in range(R)]
            _, grads_lib = sparse(TensorCompletion(dims, index, [float(v) for v in y], reduction=reduction), fs)
            proof.count("T2", grads_lib, N, f"loss_and_factor_gradients, {reduction}, dims {dims}, R = {R}")
            for n, g in enumerate(grads_lib):
                proof.close("T2", np.sum(fs[n] * g, axis=0), np.array([float(v) for v in want]), rtol=1e-12,
                            what=f"<w_r, g_r> from loss_and_factor_gradients, {reduction}, dims {dims}, mode {n + 1}",
                            scale=max(1e-300, float(np.max(np.abs(fs[n] * g).sum(axis=0)))))
    proof.note("G free: the rate -2 <G, W_r> is the same for every mode at every state, for any loss")


def _first_mode_doubled(factors, G):
    grads = cp_gradient_formula(factors, G)
    return [2 * grads[0]] + grads[1:]


def _library_first_mode_doubled(factors, G):
    grads = cp_gradients(factors, G)
    return [2 * grads[0]] + grads[1:]


def _sparse_last_mode_x101(problem, factors):
    loss, grads = problem.loss_and_factor_gradients(factors)
    return loss, grads[:-1] + [1.01 * grads[-1]]


PLANTED = {
    "first mode's gradient doubled": Planted("S1", lambda: dict(formula=_first_mode_doubled)),
    "GD drift claimed O(eta) (eta^1)": Planted("S2", lambda: dict(eta_power=1)),
    "library: residuals with the sides swapped": Planted(
        "T1", lambda: dict(residuals=lambda fs: -component_balancedness(fs))),
    "library: norms not squared": Planted(
        "T1", lambda: dict(residuals=lambda fs: np.stack([np.linalg.norm(A, axis=0) - np.linalg.norm(fs[0], axis=0)
                                                          for A in fs[1:]]))),
    "library: first mode's gradient doubled": Planted("T2", lambda: dict(library=_library_first_mode_doubled)),
    "library: sparse gradient of the last mode x1.01": Planted("T2", lambda: dict(sparse=_sparse_last_mode_x101)),
}


def worked_example():
    """Order 3, scalars (d = (1, 1, 1), R = 1): W = a b c, phi = g a b c."""
    a, b, c, g = sp.symbols("a b c g", real=True)
    da, db, dc = -g * b * c, -g * a * c, -g * a * b
    print("d/dt a^2 =", sp.expand(2 * a * da), "  d/dt b^2 =", sp.expand(2 * b * db),
          "  d/dt c^2 =", sp.expand(2 * c * dc), "  (all -2 g W)")
    print("d/dt (b^2 - a^2) =", sp.expand(2 * b * db - 2 * a * da))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
