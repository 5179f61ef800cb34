r"""E4 — the operator A_{N,W} in the singular basis: the depth multipliers a_N.

Statement (THEORY.md E4)
------------------------
With the full SVD ``W = U Sigma V^T`` (singular values padded with zeros to ``m`` rows and ``n``
columns), ``U^T A_{N,W}(Z) V = a_N o (U^T Z V)`` entrywise, ``a_N[i, j] = a_N(sigma_i, sigma_j)``:

    a_N(x, y) = sum_{p=1}^{N} x^{2(N-p)/N} y^{2(p-1)/N}
              = (x^2 - y^2) / (x^{2/N} - y^{2/N})   (x != y),      a_N(x, x) = N x^{2(N-1)/N}.

Construction: in ``u = x^{1/N}``, ``v = y^{1/N}`` every power is an integer power:
``a_N = sum_p u^{2(N-p)} v^{2(p-1)}``, closed form ``(u^{2N} - v^{2N})/(u^2 - v^2)``.  The matrix
statement uses the E3 operator (proved on the E3 page) with ``(W W^T)^{1/N} = U D_out U^T``.

Scope: the scalar identities for all ``x, y > 0`` and every depth (symbolic ``N``), and also
each ``N = 1..8`` explicitly; ``y = 0`` is the ``p = 1`` term (``0^0 = 1``).  The matrix identity
for 2x2 ``W`` with symbolic rotations (N = 2, 3; quick: N = 2) and 3x2 ``W`` with exact
rotations at a random rational point (N = 2, exact in ``s`` and ``Z``; the zero-padded
multipliers ``a_N(sigma, 0)`` enter there).  Rank-deficient ``W`` is not covered.

Steps
-----
S1  ``sum_p u^{2(N-p)} v^{2(p-1)} = (u^{2N} - v^{2N})/(u^2 - v^2)``: for N = 1..8 (1..5 quick)
    as rational functions, and for symbolic N by summing the geometric series.
S2  The diagonal: ``lim_{v -> u}`` of the closed form is ``N u^{2(N-1)}`` (= ``N x^{2(N-1)/N}``).
S3  ``U^T A_{N,W}(Z) V - a_N o (U^T Z V)`` is the zero matrix.
T1  Library: ``linalg.depth_multiplier(x, y, N)`` for N = 1..6 at rational points with ``x != y``,
    ``x = y`` and ``y = 0`` equals the exact sum (relative 1e-12); at ``N = inf`` it equals E5's
    limit (the log mean) at ``x != y``, ``x = y``, ``x ~ y`` and ``y = 0``.
"""

import functools

import numpy as np
import sympy as sp

from dmf_edu import linalg
from dmf_edu.proofs.e03_end_to_end_dynamics import end_to_end_operator_formula, singular_frames
from dmf_edu.proofs.symbolic import Page, Planted, field_matrix, power_simplify, random_rational_point
from dmf_edu.proofs.runner import run_page

# sympy's limit/summation/... are deterministic and not cached by sympy: memoised here, so a
# planted variant reuses the claim's work for the parts it does not change
_limit = functools.lru_cache(maxsize=256)(sp.limit)
_summation = functools.lru_cache(maxsize=256)(sp.summation)
_simplify = functools.lru_cache(maxsize=256)(sp.simplify)

PAGE = Page(
    label="E4", title="depth multipliers a_N in the singular basis",
    statement="U^T A_{N,W}(Z) V = a_N o (U^T Z V), a_N(x,y) = sum_p x^{2(N-p)/N} y^{2(p-1)/N} = "
              "(x^2-y^2)/(x^{2/N}-y^{2/N}) (x != y), a_N(x,x) = N x^{2(N-1)/N}",
    method="exact expansion + symbolic sum + limit",
    steps={"S1": "the finite sum equals the closed form (N = 1..8 and symbolic N)",
           "S2": "the diagonal value lim_{y->x} a_N = N x^{2(N-1)/N}",
           "S3": "U^T A_{N,W}(Z) V = a_N o (U^T Z V) (2x2 symbolic rotations, 3x2)",
           "T1": "library: linalg.depth_multiplier equals the exact sum (x != y, x = y, y = 0)"})


def multiplier_summand(u, v, N, p):
    r"""``p``-th term of ``a_N`` in ``u = x^{1/N}``, ``v = y^{1/N}``: ``u^{2(N-p)} v^{2(p-1)}``."""
    return u ** (2 * (N - p)) * v ** (2 * (p - 1))


def multiplier_closed_form(u, v, N):
    r"""``(x^2 - y^2)/(x^{2/N} - y^{2/N})`` in ``u, v``: ``(u^{2N} - v^{2N})/(u^2 - v^2)``."""
    return (u ** (2 * N) - v ** (2 * N)) / (u ** 2 - v ** 2)


def multiplier(u, v, N, summand=multiplier_summand):
    """``a_N`` as the finite sum (``0^0 = 1``: sympy's ``0**0 == 1``)."""
    return sp.Add(*(summand(u, v, N, p) for p in range(1, N + 1)))


def diagonal_value(u, N):
    """``a_N(x, x) = N x^{2(N-1)/N}`` in ``u = x^{1/N}``."""
    return N * u ** (2 * (N - 1))


def _singular_basis(m, n, N, frames, seed, basis_multiplier):
    """``U^T A(Z) V - a_N o (U^T Z V)`` as a DomainMatrix, full SVD frames ``U`` (m x m), ``V`` (n x n)."""
    f = singular_frames(m, n, frames, seed, name="z")
    U, V, Z, K, k = f["Q_out"], f["Q_in"], f["Z"], f["K"], min(m, n)
    padded = lambda size: [f["s"][r] if r < k else sp.Integer(0) for r in range(size)]  # noqa: E731
    lhs = U.transpose() * end_to_end_operator_formula(U, f["D_out"], V, f["D_in"], N, Z) * V
    a_N = sp.Matrix(m, n, lambda i, j: basis_multiplier(padded(m)[i], padded(n)[j], N))
    return lhs - field_matrix(a_N.multiply_elementwise((U.transpose() * Z * V).to_Matrix()), K)


def prove(proof, quick=False, summand=multiplier_summand, closed_form=multiplier_closed_form,
          diagonal=diagonal_value, basis_multiplier=multiplier, library=linalg.depth_multiplier):
    """S1-S3 exactly; T1 at rational points."""
    u, v = sp.symbols("u v", positive=True)
    depths = range(1, 6 if quick else 9)
    for N in depths:
        point = random_rational_point([u, v], proof.rng)
        proof.zero("S1", multiplier(u, v, N, summand) - closed_form(u, v, N), f"N={N}: sum = closed form", point)
    Ns, p = sp.Symbol("N", integer=True, positive=True), sp.Symbol("p", integer=True, positive=True)
    total = _simplify(_summation(summand(u, v, Ns, p), (p, 1, Ns)))
    pieces = total.args if isinstance(total, sp.Piecewise) else ((total, sp.true),)
    generic = [e for e, cond in pieces if cond == sp.true]
    if len(generic) != 1:
        proof.fail("S1", f"symbolic N: unexpected form of the geometric sum {total}")
    proof.zero("S1", generic[0] - closed_form(u, v, Ns), "symbolic N: geometric sum = closed form",
               simplifier=power_simplify)
    for N in depths:
        proof.zero("S2", _limit(closed_form(u, v, N), v, u) - diagonal(u, N), f"N={N}: limit y -> x")
    cases = [(3, 2, 2, "rational"), (2, 2, 2, "symbolic")] + ([] if quick else [(2, 2, 3, "symbolic")])
    for m, n, N, frames in cases:
        proof.zero("S3", _singular_basis(m, n, N, frames, int(proof.rng.integers(2 ** 31)), basis_multiplier),
                   f"{m}x{n} N={N} ({frames} rotations): U^T A(Z) V = a_N o (U^T Z V)")
    proof.sizes(f"N=1..{depths[-1]} and symbolic N; matrix: " + ", ".join(f"{m}x{n} N={N} ({f} rotations)"
                                                                        for m, n, N, f in cases))
    for N in range(1, 7):
        pt = random_rational_point([u, v], proof.rng)
        for uu, vv in ((pt[u], pt[v]), (pt[u], pt[u]), (pt[u], sp.Integer(0))):   # x != y, x = y, y = 0
            x, y = float(uu ** N), float(vv ** N)
            proof.close("T1", library(x, y, N), multiplier(uu, vv, N, summand), rtol=1e-12,
                        what=f"depth_multiplier({x}, {y}, {N})")
    tie_infinite_depth(proof, "T1", library)


def tie_infinite_depth(proof, step, library):
    r"""``library(x, y, inf)`` equals the limit of ``a_N/N`` (E5: the log mean ``L(x^2, y^2)``,
    ``L(x^2, x^2) = x^2``, ``L(x^2, 0) = 0``) at rational ``x != y``, ``x ~ y`` (``y = x (1 + 10^-9)``,
    exact log mean, relative 1e-8) and ``y = 0``."""
    x, y = sp.symbols("x y", positive=True)
    pt = random_rational_point([x, y], proof.rng, positive=[x, y])
    near = pt[x] * (1 + sp.Rational(1, 10 ** 9))
    L = lambda a, b: (a ** 2 - b ** 2) / (sp.log(a ** 2) - sp.log(b ** 2))  # noqa: E731
    for xx, yy, exact, rtol in ((pt[x], pt[y], L(pt[x], pt[y]), 1e-12), (pt[x], pt[x], pt[x] ** 2, 1e-12),
                                (pt[x], near, L(pt[x], near), 1e-8), (pt[x], sp.Integer(0), sp.Integer(0), 1e-12)):
        proof.close(step, library(float(xx), float(yy), np.inf), exact, rtol=rtol, scale=float(xx) ** 2,
                    what=f"depth_multiplier({float(xx)}, {float(yy)}, inf)")


PLANTED = {
    "summand exponent 2(N-p+1)": Planted("S1", lambda: dict(summand=lambda u, v, N, p: u ** (2 * (N - p + 1))
                                                            * v ** (2 * (p - 1)))),
    "closed form with denominator x^{1/N} - y^{1/N}": Planted(
        "S1", lambda: dict(closed_form=lambda u, v, N: (u ** (2 * N) - v ** (2 * N)) / (u - v))),
    "diagonal value without the factor N": Planted("S2", lambda: dict(diagonal=lambda u, N: u ** (2 * (N - 1)))),
    "singular basis: the mean a_N/N instead of the sum": Planted(
        "S3", lambda: dict(basis_multiplier=lambda x, y, N: multiplier(x, y, N) / N)),
    "singular basis: zero singular values treated as 1": Planted(
        "S3", lambda: dict(basis_multiplier=lambda x, y, N: multiplier(x if x != 0 else 1, y if y != 0 else 1, N))),
    "library: 1e-3 relative error when x > y": Planted(
        "T1", lambda: dict(library=lambda x, y, N: linalg.depth_multiplier(x, y, N) * (1 + (x > y) * 1e-3))),
    "library: y = 0 handled as y = x": Planted(
        "T1", lambda: dict(library=lambda x, y, N: linalg.depth_multiplier(x, y if y else x, N))),
}


def worked_example():
    """a_3 at x = 8, y = 1 (u = 2, v = 1): the sum, the closed form, and the diagonal a_3(8, 8)."""
    u, v = sp.Integer(2), sp.Integer(1)
    print("a_3(8, 1): sum =", multiplier(u, v, 3), " closed form =", multiplier_closed_form(u, v, 3),
          " a_3(8, 8) =", diagonal_value(u, 3))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
