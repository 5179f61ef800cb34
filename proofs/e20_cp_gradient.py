r"""E20 — the factor gradients of a CP tensor factorization, dense and sparse (tensor completion).

Statement (THEORY.md E20, §10)
------------------------------
For ``W[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]`` (``A_n`` of shape ``d_n x R``),
``phi(A_1, ..., A_N) = l(W)`` and ``G = grad l(W)``::

    d phi / d A_n [i, r]  =  sum_{i_{-n}} G[i_1, ..., i, ..., i_N] prod_{n' != n} A_n'[i_n', r]
                          =  ( G_(n) KhatriRao(A_n' : n' != n) )[i, r].

For completion (observations ``i^k``, values ``y_k``, ``rho_k = W[i^k] - y_k``) only observed entries
enter: ``d phi / d A_n [i, r] = sum_{k : i^k_n = i} c rho_k prod_{n' != n} A_n'[i^k_n', r]``, ``c = 1``
for the loss ``1/2 sum rho^2`` and ``c = 2/K`` for ``(1/K) sum rho^2``.  Order 2 is E1 at depth 2.

Scope: exact polynomial identities in free symbolic factors and a free symbolic ``G`` (and free
values ``y_k``), for orders 3 and 4 at equal and distinct dimensions, ``R = 1`` and ``R = 2``;
completion with a repeated observation; order 2 at a square and a rectangular size.

Steps
-----
S1  For the linear loss ``<G, W>`` with ``G`` free and held fixed, every entry of ``sympy.diff``
    equals the formula (by the chain rule this is E20 for every differentiable loss).
S2  For the completion losses (sum and mean, one multi-index observed twice) ``sympy.diff`` equals
    the sparse formula with ``c = 1`` and ``c = 2/K``.
S3  Order 2: the formula equals E1 (the E1 page's formula) with ``W_2 = A_1``, ``W_1 = A_2^T``:
    ``dphi/dA_1 = dphi/dW_2`` and ``dphi/dA_2 = (dphi/dW_1)^T``.
T1  Library: ``dmf_edu.tensors.cp_gradients`` at a rational point equals the exact derivative of S1.
T2  Library: ``TensorCompletion.loss_and_factor_gradients`` (O(K R N), never the dense tensor) at a
    rational point equals the exact loss and derivative of S2, sum and mean.
"""

import itertools

import numpy as np
import sympy as sp

from dmf_edu.tensors import TensorCompletion, cp_gradients
from dmf_edu.proofs.e01_layer_gradients import gradient_matrix, layer_gradient_formula
from dmf_edu.proofs.symbolic import Page, Planted, at_point, random_rational_point, symbol_matrix
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E20", title="CP factor gradients dphi/dA_n (dense, completion)",
    statement="dphi/dA_n[i,r] = sum_{i_-n} G[..i..] prod_{n'!=n} A_n'[i_n',r] = G_(n) KhatriRao(A_n', n'!=n); "
              "completion: sum_{k: i^k_n=i} c rho_k prod A_n'[i^k_n',r], c = 1 (sum) or 2/K (mean)",
    method="exact expansion (sympy.diff)",
    steps={"S1": "loss <G, W>, G free: sympy.diff equals the E20 formula (every loss, chain rule)",
           "S2": "completion loss, sum and mean, a repeated observation: the sparse formula, c = 1 and 2/K",
           "S3": "order 2: E20 equals E1 with W_2 = A_1, W_1 = A_2^T",
           "T1": "library: tensors.cp_gradients equals the exact derivative at rational points",
           "T2": "library: TensorCompletion.loss_and_factor_gradients equals the exact loss and derivative"})

# (dims, R): equal and distinct dimensions, orders 3 and 4, R = 1 and R = 2; the first three are quick
CASES = [((2, 2, 2), 2), ((3, 2, 4), 1), ((2, 3, 2, 2), 2), ((3, 2, 4), 2), ((2, 2, 2, 2), 1)]
ORDER_2 = [((2, 2), 2), ((3, 2), 2)]


# --------------------------------------------------------------------------- symbolic tensors

def symbolic_factors(dims, R, name="a"):
    """``[A_1, ..., A_N]``, ``A_n`` a ``d_n x R`` ``sympy.Matrix`` of real symbols ``a{n}_{i}{r}``."""
    return [symbol_matrix(f"{name}{n + 1}", dim, R) for n, dim in enumerate(dims)]


def symbol_tensor(name, dims):
    """``{(i_1, ..., i_N): symbol}`` over every multi-index (a dense tensor of free symbols)."""
    return {i: sp.Symbol(f"{name}_{''.join(map(str, i))}", real=True)
            for i in itertools.product(*(range(dim) for dim in dims))}


def cp_entry(factors, i):
    """``W[i] = sum_r prod_n A_n[i_n, r]``."""
    R = factors[0].shape[1]
    return sum(sp.Mul(*(A[i_n, r] for A, i_n in zip(factors, i))) for r in range(R))


def others(factors, n, i, r):
    """``prod_{n' != n} A_n'[i_n', r]``."""
    return sp.Mul(*(A[i_m, r] for m, (A, i_m) in enumerate(zip(factors, i)) if m != n))


def cp_gradient_formula(factors, G):
    """E20 on symbolic factors and a symbolic tensor ``G`` (dict): ``[dphi/dA_n]``, each ``d_n x R``."""
    R = factors[0].shape[1]
    return [sp.Matrix(A.shape[0], R, lambda i, r, n=n: sum(g * others(factors, n, idx, r)
                                                          for idx, g in G.items() if idx[n] == i))
            for n, A in enumerate(factors)]


def completion_gradient_formula(factors, index, y, c):
    """E20's sparse form: ``sum_{k: i^k_n = i} c rho_k prod_{n' != n} A_n'[i^k_n', r]`` (repeats add up)."""
    R = factors[0].shape[1]
    rho = [cp_entry(factors, i) - yk for i, yk in zip(index, y)]
    return [sp.Matrix(A.shape[0], R, lambda i, r, n=n: sum(c * rk * others(factors, n, idx, r)
                                                          for idx, rk in zip(index, rho) if idx[n] == i))
            for n, A in enumerate(factors)]


def completion_loss(factors, index, y, reduction):
    """``1/2 sum rho_k^2`` (sum) or ``(1/K) sum rho_k^2`` (mean)."""
    sq = sum((cp_entry(factors, i) - yk) ** 2 for i, yk in zip(index, y))
    return sq / 2 if reduction == "sum" else sq / len(index)


def same(proof, step, got, want, what, point=None):
    """Step ``step``: matrices ``got`` and ``want`` have one shape and are identically equal."""
    proof.holds(step, got.shape == want.shape, f"{what}: shape {got.shape} against {want.shape}")
    proof.zero(step, got - want, what, point)


def observed(dims, K, rng):
    """``K`` random multi-indices, the second a repeat of the first."""
    index = [tuple(int(rng.integers(0, dim)) for dim in dims) for _ in range(K)]
    return [index[0]] + index[:1] + index[2:]


# --------------------------------------------------------------------------- the proof

def _completion_library(problem, factors):
    return problem.loss_and_factor_gradients(factors)


def prove(proof, quick=False, formula=cp_gradient_formula, sparse_formula=completion_gradient_formula,
          mean_factor=2, to_cp=lambda dW1, dW2: [dW2, dW1.T], library=cp_gradients,
          sparse=TensorCompletion.loss_and_factor_gradients):
    """S1, S2 at every case of :data:`CASES` (three when ``quick``), S3 at :data:`ORDER_2`, T1, T2 at rational points."""
    cases = CASES[:3] if quick else CASES
    proof.sizes(", ".join(f"N={len(dims)} d=({','.join(map(str, dims))}) R={R}" for dims, R in cases)
                + "; order 2: " + ", ".join(f"{dims} R={R}" for dims, R in ORDER_2))
    for dims, R in cases:
        factors, G = symbolic_factors(dims, R), symbol_tensor("g", dims)
        index = observed(dims, 4, proof.rng)
        y = sp.symbols(f"y0:{len(index)}", real=True)
        free = set().union(*(A.free_symbols for A in factors), G.values(), y)
        point = random_rational_point(free, proof.rng)
        phi = sp.expand(sum(g * cp_entry(factors, i) for i, g in G.items()))
        exact = [gradient_matrix(phi, A) for A in factors]
        for n, (e, f) in enumerate(zip(exact, formula(factors, G))):
            same(proof, "S1", f, e, f"dims {dims}, R = {R}, mode {n + 1}, loss <G, W>", point)
        numeric = library([at_point(A, point) for A in factors],
                          np.array([float(point[G[i]]) for i in sorted(G)]).reshape(dims))
        proof.count("T1", numeric, len(factors), f"cp_gradients, dims {dims}, R = {R}")
        for n, e in enumerate(exact):
            proof.close("T1", numeric[n], at_point(e, point), rtol=1e-12,
                        what=f"cp_gradients, dims {dims}, R = {R}, mode {n + 1}")
        for reduction in ("sum", "mean"):
            c = 1 if reduction == "sum" else sp.Rational(mean_factor, len(index))
            loss = completion_loss(factors, index, y, reduction)
            exact = [gradient_matrix(loss, A) for A in factors]
            for n, (e, f) in enumerate(zip(exact, sparse_formula(factors, index, y, c))):
                same(proof, "S2", f, e, f"dims {dims}, R = {R}, {reduction} loss, mode {n + 1}", point)
            problem = TensorCompletion(dims, index, [float(point[v]) for v in y], reduction=reduction)
            value, grads = sparse(problem, [at_point(A, point) for A in factors])
            proof.close("T2", value, at_point(loss, point), rtol=1e-12, what=f"loss, dims {dims}, {reduction}")
            proof.count("T2", grads, len(factors), f"loss_and_factor_gradients, dims {dims}, R = {R}")
            for n, e in enumerate(exact):
                proof.close("T2", grads[n], at_point(e, point), rtol=1e-12,
                            what=f"loss_and_factor_gradients, dims {dims}, R = {R}, {reduction}, mode {n + 1}")
    for dims, R in ORDER_2:
        A1, A2 = symbolic_factors(dims, R)
        G = symbol_tensor("g", dims)
        Gm = sp.Matrix(dims[0], dims[1], lambda i, j: G[(i, j)])
        dW1, dW2 = layer_gradient_formula([A2.T, A1], Gm)
        for n, (f, e) in enumerate(zip(formula([A1, A2], G), to_cp(dW1, dW2))):
            same(proof, "S3", f, e, f"order 2, dims {dims}, R = {R}, mode {n + 1} against E1")
    proof.note("the loss <G, W> with free G covers every loss (chain rule); repeats add up in S2")


# --------------------------------------------------------------------------- planted wrong variants

def _last_mode_dropped(factors, G):
    """The product over the other modes stops one mode early (shows only for N >= 4)."""
    N, R = len(factors), factors[0].shape[1]
    keep = lambda n: [m for m in range(N) if m != n][:N - 2] if N >= 4 else [m for m in range(N) if m != n]  # noqa: E731
    return [sp.Matrix(A.shape[0], R, lambda i, r, n=n: sum(
        g * sp.Mul(*(factors[m][idx[m], r] for m in keep(n))) for idx, g in G.items() if idx[n] == i))
        for n, A in enumerate(factors)]


def _repeats_counted_once(factors, index, y, c):
    seen = {}
    for i, yk in zip(index, y):
        seen.setdefault(i, yk)
    return completion_gradient_formula(factors, list(seen), list(seen.values()), c)


def _reversed_unfolding(factors, G):
    """The mode-n unfolding with the remaining modes in reverse order (only distinct dims, or values, tell)."""
    N = len(factors)
    out = []
    for n in range(N):
        rest = [m for m in range(N) if m != n]
        Gn = np.moveaxis(G, [n] + rest[::-1], range(N)).reshape(G.shape[n], -1)
        KR = factors[rest[0]]
        for m in rest[1:]:
            KR = (KR[:, None, :] * factors[m][None, :, :]).reshape(-1, KR.shape[1])
        out.append(Gn @ KR)
    return out


def _scatter_last_wins(problem, factors):
    """Sparse gradient scattered with ``out[idx] += contrib`` (buffered: a repeated index counts once)."""
    loss, grads = problem.loss_and_factor_gradients(factors)
    rows = [A[problem.index[:, n]] for n, A in enumerate(factors)]
    r = np.sum(np.prod(rows, axis=0), axis=1) - problem.values
    c = 1.0 if problem.reduction == "sum" else 2.0 / problem.n_observations
    out = []
    for n, A in enumerate(factors):
        g = np.zeros_like(A)
        g[problem.index[:, n]] += c * r[:, None] * np.prod(rows[:n] + rows[n + 1:], axis=0)
        out.append(g)
    return loss, out


def _mean_without_factor_2(problem, factors):
    loss, grads = problem.loss_and_factor_gradients(factors)
    return loss, [g / 2 for g in grads] if problem.reduction == "mean" else grads


PLANTED = {
    "wrong factor 2": Planted("S1", lambda: dict(formula=lambda fs, G: [2 * g for g in cp_gradient_formula(fs, G)])),
    "last mode dropped from the product (N >= 4)": Planted("S1", lambda: dict(formula=_last_mode_dropped)),
    "mean loss: c = 1/K instead of 2/K": Planted("S2", lambda: dict(mean_factor=1)),
    "repeated observation counted once": Planted("S2", lambda: dict(sparse_formula=_repeats_counted_once)),
    "order 2: dA_2 = dW_1 (transpose forgotten)": Planted("S3", lambda: dict(to_cp=lambda dW1, dW2: [dW2, dW1])),
    "library: last factor's gradient x1.01": Planted(
        "T1", lambda: dict(library=lambda fs, G: cp_gradients(fs, G)[:-1] + [1.01 * cp_gradients(fs, G)[-1]])),
    "library: unfolding with the remaining modes reversed": Planted("T1", lambda: dict(library=_reversed_unfolding)),
    "library: mean reduction without its factor 2": Planted("T2", lambda: dict(sparse=_mean_without_factor_2)),
    "library: scatter by fancy-index += (repeats lost)": Planted("T2", lambda: dict(sparse=_scatter_last_wins)),
}


# --------------------------------------------------------------------------- worked example

def worked_example():
    """Order 3, R = 1, d = (2, 1, 1): W = a o b o c, phi = <G, W>; both sides of E20."""
    factors = symbolic_factors((2, 1, 1), 1)
    G = symbol_tensor("g", (2, 1, 1))
    phi = sp.expand(sum(g * cp_entry(factors, i) for i, g in G.items()))
    print("phi = <G, W> =", phi)
    for n, (A, f) in enumerate(zip(factors, cp_gradient_formula(factors, G)), start=1):
        print(f"dphi/dA_{n}: sympy.diff = {list(gradient_matrix(phi, A))}   E20 = {list(f)}")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
