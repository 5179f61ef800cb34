r"""E22 — the norm of a balanced CP component moves as ``-N sigma^{2-2/N} <G, W_hat_r>``.

Statement (THEORY.md E22, §10)
------------------------------
Under ``dA_n/dt = -dphi/dA_n`` (E20), if component ``r`` is balanced (all ``||w_r^(n)||`` equal), its
norm ``sigma_r = ||w_r^(1) o ... o w_r^(N)|| = prod_n ||w_r^(n)||`` moves as
``d sigma_r / dt = -N sigma_r^{2 - 2/N} <G, W_hat_r>``, ``W_hat_r = o_n w_r^(n) / ||w_r^(n)||``.

Scope: exact identities.  S1 holds at every state (no balance assumed), in free symbolic factors and
a free ``G``.  S2 keeps the fractional power exact twice: (a) with the mode norms as a symbol ``s > 0``
(``sigma = s^N``, so ``sigma^{2-2/N} = s^{2N-2}``) and ``p = <G, W_hat_r>`` a symbol; (b) at exact rational
balanced points ``w_r^(n) = s u^(n)``, ``s`` a positive rational and ``u^(n) = (2x, |x|^2 - 1)/(|x|^2 + 1)``
a rational unit vector (``x`` rational), the other component rational and unbalanced, ``G`` free.
Orders 3 and 4, equal and distinct dimensions, ``R = 1`` and ``R = 2``.

Steps
-----
S1  For every state: ``d(sigma_r^2)/dt = -2 <G, W_r> sum_n prod_{n' != n} ||w_r^(n')||^2`` (``W_r`` the
    component tensor), from ``d/dt ||w_r^(n)||^2 = -2 <w_r^(n), dphi/dw_r^(n)>`` and E20.
S2  At a balanced component: (a) with ``||w_r^(n)|| = s`` and ``<G, W_r> = sigma_r <G, W_hat_r>``, S1 gives
    ``d sigma_r/dt = (1 / (2 sigma_r)) d(sigma_r^2)/dt = -N sigma_r^{2-2/N} <G, W_hat_r>``; (b) the same from
    E20 at rational balanced points ``w_r^(n) = s u^(n)`` (where ``sigma_r^2 = s^{2N}``), for a free ``G``.
T1  Library: ``dmf_edu.tensors.component_norms`` equals the exact ``prod_n ||w_r^(n)||`` at rational points.
T2  Library: the rate ``-sigma_r sum_n <w_r^(n), g_r^(n)> / ||w_r^(n)||^2`` from ``component_norms`` and
    ``cp_gradients`` (free ``G``) or ``TensorCompletion.loss_and_factor_gradients`` (sum and mean) at a
    rational balanced point equals the exact ``-N sigma_r^{2-2/N} <G, W_hat_r>``; the sparse loss and
    every factor gradient (one per mode) equal E20's exact values there, entrywise (order 4, tall
    factors ``R < d_n`` and distinct dimensions among the quick cases).
"""

import numpy as np
import sympy as sp

from dmf_edu.tensors import TensorCompletion, component_norms, cp_gradients
from dmf_edu.proofs.e20_cp_gradient import (completion_gradient_formula, completion_loss, cp_entry,
                                           cp_gradient_formula, observed, symbol_tensor, symbolic_factors)
from dmf_edu.proofs.e21_component_balancedness import component_inner, sq
from dmf_edu.proofs.symbolic import Page, Planted, at_point, random_rational_point
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E22", title="balanced component norms: dsigma/dt = -N sigma^(2-2/N) <G, W_hat>",
    statement="sigma_r = prod_n ||w_r^(n)||; if component r is balanced, d sigma_r/dt = -N sigma_r^{2-2/N} <G, W_hat_r>",
    method="exact expansion; norms as symbols, rational unit vectors",
    steps={"S1": "d(sigma_r^2)/dt = -2 <G, W_r> sum_n prod_{n'!=n} ||w_r^(n')||^2 at every state",
           "S2": "balanced: norms as symbols, and E20 at rational balanced points: dsigma/dt = -N sigma^{2-2/N} <G, W_hat_r>",
           "T1": "library: tensors.component_norms equals prod_n ||w_r^(n)|| at rational points",
           "T2": "library: the rate from component_norms and the (sparse) gradients equals E22"})

# the first two are quick; the second is order 4 with tall factors (R < d_n) and distinct dimensions,
# the regimes of loss_and_factor_gradients a square, equal-width case cannot tell apart
CASES = [((2, 3, 2), 2), ((2, 3, 2, 2), 1), ((2, 2, 2, 2), 1), ((2, 2, 2), 1), ((3, 2, 2, 2), 2)]


def unit_vector(x):
    """Rational unit vector ``(2 x, |x|^2 - 1) / (|x|^2 + 1)`` of the ``d - 1`` entries ``x`` (``d = len(x) + 1``)."""
    q = sum(v * v for v in x)
    return sp.Matrix([2 * v / (q + 1) for v in x] + [(q - 1) / (q + 1)])


def balanced_factors(dims, R, s):
    """Factors whose component 0 is ``s u^(n)`` (rational unit ``u^(n)`` of free ``x`` symbols); the others free."""
    factors = symbolic_factors(dims, R)
    xs = []
    for n, dim in enumerate(dims):
        x = sp.symbols(f"x{n + 1}_0:{dim - 1}", real=True) if dim > 1 else ()
        xs.extend(x)
        factors[n][:, 0] = s * unit_vector(x)
    return factors, xs


def sigma_sq_rate(factors, grads, G, r, rate_factor=2):
    """``d(sigma_r^2)/dt`` by the product rule, with ``d ||w^(n)||^2/dt = -rate_factor <w^(n), g^(n)>``."""
    N = len(factors)
    norms = [sq(A[:, r]) for A in factors]
    return sum(sp.Mul(*(norms[:n] + norms[n + 1:])) * (-rate_factor) * factors[n][:, r].dot(grads[n][:, r])
               for n in range(N))


def prove(proof, quick=False, formula=cp_gradient_formula, rate_factor=2, exponent=lambda N: 2 - sp.Rational(2, N),
          speed=lambda N: N, norms=component_norms, library=cp_gradients,
          sparse=TensorCompletion.loss_and_factor_gradients):
    """S1 at generic factors, S2 at a balanced component, for each case of :data:`CASES` (two when ``quick``)."""
    s = sp.Symbol("s", positive=True)
    cases = CASES[:2] if quick else CASES
    proof.sizes(", ".join(f"N={len(dims)} d=({','.join(map(str, dims))}) R={R}" for dims, R in cases))
    for dims, R in cases:
        N, G = len(dims), symbol_tensor("g", dims)
        # S1: any state
        factors = symbolic_factors(dims, R)
        grads = formula(factors, G)
        point = random_rational_point(set().union(*(A.free_symbols for A in factors), G.values()), proof.rng)
        for r in range(R):
            claim = -2 * component_inner(G, factors, r) * sum(
                sp.Mul(*(sq(A[:, r]) for m, A in enumerate(factors) if m != n)) for n in range(N))
            proof.zero("S1", sigma_sq_rate(factors, grads, G, r, rate_factor) - claim, f"dims {dims}, r = {r}", point)
        # S2 (a): with the norms as symbols, ||w^(n)|| = s for every n, sigma = s^N, <G, W_r> = sigma p
        p = sp.Symbol("p", real=True)
        sigma = s ** N
        rate = -2 * sigma * p * N * s ** (2 * (N - 1)) / (2 * sigma)          # S1's right side / (2 sigma)
        proof.zero("S2", rate * rate_factor / 2 + speed(N) * sigma ** exponent(N) * p,
                   f"N = {N}: norms as symbols, sigma = s^N", {s: sp.Rational(3, 2), p: sp.Rational(-2, 7)})
        # S2 (b): at an exact rational balanced point w^(n) = s u^(n), G free
        factors, xs = balanced_factors(dims, R, s)
        point = random_rational_point(set().union(*(A.free_symbols for A in factors)), proof.rng, positive=(s,))
        factors = [A.xreplace(point) for A in factors]
        sigma = point[s] ** N
        proof.zero("S2", sp.Mul(*(sq(A[:, 0]) for A in factors)) - sigma ** 2, f"dims {dims}: sigma^2 = s^(2N)")
        units = [A[:, 0] / point[s] for A in factors]
        W_hat = sum(g * sp.Mul(*(u[i_n] for u, i_n in zip(units, idx))) for idx, g in G.items())
        rate = sigma_sq_rate(factors, formula(factors, G), G, 0, rate_factor) / (2 * sigma)
        proof.zero("S2", rate + speed(N) * sigma ** exponent(N) * W_hat, f"dims {dims}: d sigma/dt against E22, G free")
        point.update(random_rational_point(G.values(), proof.rng))
        # T1, T2 at the rational balanced point
        fs = [at_point(A, point) for A in factors]
        exact_norms = [sp.sqrt(sp.Mul(*(sq(A[:, r]) for A in factors)).xreplace(point)) for r in range(R)]
        proof.close("T1", norms(fs), np.array([float(v) for v in exact_norms]), rtol=1e-12,
                    what=f"component_norms, dims {dims}, R = {R}")
        Gp = np.array([float(point[G[i]]) for i in sorted(G)]).reshape(dims)
        e22 = (-speed(N) * sigma ** exponent(N) * W_hat).xreplace(point)
        grads_dense = library(fs, Gp)
        proof.count("T2", grads_dense, N, f"cp_gradients, dims {dims}")
        proof.close("T2", _library_rate(norms, fs, grads_dense), e22, rtol=1e-12,
                    what=f"rate from cp_gradients, dims {dims}")
        index = observed(dims, 4, proof.rng)
        y = [sp.Rational(int(proof.rng.integers(-9, 10)), 5) for _ in index]
        for reduction in ("sum", "mean"):
            c = 1 if reduction == "sum" else sp.Rational(2, len(index))
            G_c = {}                                        # the completion gradient as a tensor (repeats add)
            for i, yk in zip(index, y):
                G_c[i] = G_c.get(i, 0) + c * (cp_entry(factors, i) - yk).xreplace(point)
            W_hat_c = sum(g * sp.Mul(*(u[i_n] for u, i_n in zip(units, idx))).xreplace(point)
                          for idx, g in G_c.items())
            e22 = (-speed(N) * sigma ** exponent(N)).xreplace(point) * W_hat_c
            value, grads_lib = sparse(TensorCompletion(dims, index, [float(v) for v in y], reduction=reduction), fs)
            _sparse_exactly(proof, factors, index, y, c, reduction, value, grads_lib, dims)
            proof.close("T2", _library_rate(norms, fs, grads_lib), e22, rtol=1e-12,
                        what=f"rate from loss_and_factor_gradients, {reduction}, dims {dims}")
    proof.note("sigma^{2-2/N} is exact: sigma = s^N with s > 0, so sigma^{2-2/N} = s^{2N-2}")


def _sparse_exactly(proof, factors, index, y, c, reduction, value, grads, dims):
    """T2: the library's completion loss and every factor gradient equal the exact E20 values at the
    rational point (``factors`` already rational): entrywise, so a 1 % error in any regime shows."""
    proof.close("T2", value, completion_loss(factors, index, y, reduction), rtol=1e-12,
                what=f"loss from loss_and_factor_gradients, {reduction}, dims {dims}")
    proof.count("T2", grads, len(factors), f"loss_and_factor_gradients, {reduction}, dims {dims}")
    for n, (g, e) in enumerate(zip(grads, completion_gradient_formula(factors, index, y, c))):
        proof.close("T2", g, e, rtol=1e-12,
                    what=f"dphi/dA_{n + 1} from loss_and_factor_gradients, {reduction}, dims {dims}")


def _library_rate(norms, fs, grads):
    """``d sigma_0/dt = -sigma_0 sum_n <w_0^(n), g_0^(n)> / ||w_0^(n)||^2`` from library numbers."""
    sigma = norms(fs)[0]
    return -sigma * sum(float(A[:, 0] @ g[:, 0]) / float(A[:, 0] @ A[:, 0]) for A, g in zip(fs, grads))


PLANTED = {
    "rate of ||w||^2 without its factor 2": Planted("S1", lambda: dict(rate_factor=1)),
    "exponent 2 - 1/N": Planted("S2", lambda: dict(exponent=lambda N: 2 - sp.Rational(1, N))),
    "factor N dropped": Planted("S2", lambda: dict(speed=lambda N: 1)),
    "library: sum of mode norms instead of their product": Planted(
        "T1", lambda: dict(norms=lambda fs: np.sum([np.linalg.norm(A, axis=0) for A in fs], axis=0))),
    "library: norms squared": Planted("T1", lambda: dict(norms=lambda fs: component_norms(fs) ** 2)),
    "library: first mode's gradient doubled": Planted(
        "T2", lambda: dict(library=lambda fs, G: [2 * cp_gradients(fs, G)[0]] + cp_gradients(fs, G)[1:])),
}


def worked_example():
    """Order 3, scalars: w^(n) = s for every n, sigma = s^3, phi = g s^3: dsigma/dt = -3 g s^4 = -3 sigma^{4/3} g."""
    s = sp.Symbol("s", positive=True)
    g = sp.Symbol("g", real=True)
    sigma = s ** 3
    ds = -g * s ** 2                                   # ds/dt = -dphi/dw^(n) = -g (product of the other two)
    rate = sp.diff(sigma, s) * ds
    print("sigma = s^3, d sigma/dt =", rate, "; E22: -3 sigma^(4/3) g =", -3 * sigma ** sp.Rational(4, 3) * g)


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
