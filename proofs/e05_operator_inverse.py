r"""E5inv — the inverse of the end-to-end operator, ``A_{N,W}^{-1}``, and its multipliers ``1/a_N``.

Statement (THEORY.md E5, inverse)
---------------------------------
Let ``W = U Sigma V^T`` (full SVD, ``sigma`` padded with zeros) have full rank ``min(m, n)``.
For finite ``N >= 1`` the map ``A_{N,W}`` of E3 is invertible and

    U^T A_{N,W}^{-1}(Z) V = (U^T Z V) / a_N        (entry by entry, a_N[i, j] = a_N(sigma_i, sigma_j)),
    1/a_N(x, y) = (x^{2/N} - y^{2/N}) / (x^2 - y^2)  (x != y),     1/a_N(x, x) = x^{-2(N-1)/N} / N;

for square full-rank ``W`` the infinite-depth operator ``A_{inf,W}`` (rescaled time) is
invertible with multipliers ``1/L(x^2, y^2) = (ln x^2 - ln y^2)/(x^2 - y^2)``.  The resolvent
integrals of THEORY E5 give the same multipliers:
``int_0^inf ds / ((s + x^2)(s + y^2)) = 1/L`` and
``(sin(pi/N)/pi) int_0^inf s^{1/N} ds / ((s + x^2)(s + y^2)) = 1/a_N``.

Scope.  S1 decides ``A^{-1}(A(Z)) = Z`` and ``A(A^{-1}(Z)) = Z`` exactly with ``A`` from the
E3 sum of explicit powers (independent of ``a_N``): 2x2 with symbolic rotations ``U = R(a)``,
``V = R(b)`` (every rotation but the half-turn; quick mode: rational ``a, b``), symbolic singular
values and ``Z``; 3x3 and
3x2 and 2x3 (full run only) at exact rational orthogonal ``U, V`` (a Cayley
transform drawn from the seeded generator) with symbolic singular values and ``Z``.  Only
``U^T U = I`` enters, so the fixed ``U, V`` there are no restriction of the argument, but the
machine check at 3x3 covers those ``U, V`` only.  Singular values enter as ``sigma_i = s_i^N``
(so the powers are polynomials).  S2 (symbolic ``x, y > 0``), S3 (symbolic ``x, y > 0``, ``N = 2, 3``
and ``N = inf``).  Not covered: rank-deficient ``W`` (not invertible for ``N >= 2``: ``a_N(0, 0) = 0``)
and rectangular ``W`` at ``N = inf`` (``L(x^2, 0) = 0``); the resolvent integral for symbolic
``N`` (numerically checked in ``tests/test_dynamics.py``).

Steps
-----
S1  ``A^{-1}(A(Z)) = Z`` and ``A(A^{-1}(Z)) = Z`` with ``A^{-1}`` in the singular basis with ``1/a_N``.
S2  infinite depth: ``int_0^1 x^{2(1-s)} y^{2s} ds = L(x^2, y^2)`` (the multiplier of ``A_inf``),
    and ``1/L`` inverts it.
S3  the resolvent integrals of THEORY E5 equal ``1/L`` and ``1/a_N`` (N = 2, 3).
T1  library: ``dynamics.end_to_end_operator_inverse`` equals the exact inverse at rational points
    (2x2 N = 1, 2, 3, 4, inf; 3x2 N = 2, 3; 2x3 N = 3, 4; 3x3 N = 2, 5, inf).
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu import dynamics
from dmf_edu.proofs.e03_end_to_end_dynamics import end_to_end_operator_formula
from dmf_edu.proofs.e04_depth_multipliers import multiplier
from dmf_edu.proofs.symbolic import (Page, Planted, field_matrix, function_field, orthogonal, random_rational_point, rotation, symbol_matrix, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E5inv", title="inverse of A_{N,W}: multipliers 1/a_N, 1/L",
    statement="for full-rank W, U^T A_{N,W}^{-1}(Z) V = (U^T Z V)/a_N and A^{-1}(A(Z)) = Z; "
              "A_inf^{-1} has multipliers 1/L; the resolvent integrals of E5 give the same",
    method="exact (rational-function field) + sympy integrals",
    steps={
        "S1": "A^{-1}(A(Z)) = Z and A(A^{-1}(Z)) = Z, A from the E3 sum, A^{-1} with 1/a_N",
        "S2": "int_0^1 x^{2(1-s)} y^{2s} ds = L(x^2, y^2); 1/L inverts it",
        "S3": "resolvent integrals = 1/L (N = inf) and 1/a_N (N = 2, 3)",
        "T1": "library: dynamics.end_to_end_operator_inverse = exact inverse at rational points",
    })


# --------------------------------------------------------------------------- construction

def inverse_multiplier(x, y, N):
    """Claimed multiplier of ``A_N^{-1}``: ``1/a_N`` (``a_N`` the finite sum of page E4, in ``x = sigma^{1/N}``)."""
    return 1 / multiplier(x, y, N)


def padded(s, size):
    """Singular values ``s`` padded with zeros to ``size``."""
    return list(s) + [sp.Integer(0)] * (size - len(s))


def operator_sum(U, V, s, N, Z):
    r"""E3 with explicit powers (page E3's ``end_to_end_operator_formula``) for ``W = U diag(s^N) V^T``:
    :math:`\sum_j U D_m^{N-j} U^\top Z V D_n^{j-1} V^\top`, ``D = diag(s^2)`` padded with zeros; no ``a_N``."""
    K, (m, n) = Z.domain, Z.shape
    D = lambda size: field_matrix(sp.diag(*[x ** 2 for x in padded(s, size)]), K)  # noqa: E731
    return end_to_end_operator_formula(U, D(m), V, D(n), N, Z)


def inverse_formula(U, V, s, N, Z, inv=inverse_multiplier):
    """``U ((U^T Z V) o inv(s_i, s_j, N)) V^T`` (``DomainMatrix`` over ``K``; ``s`` padded by zeros)."""
    K, (m, n) = Z.domain, Z.shape
    pad = padded(s, max(m, n))
    Zt = (U.transpose() * Z * V).to_list()
    rows = [[Zt[i][j] * K.from_sympy(inv(pad[i], pad[j], N)) for j in range(n)] for i in range(m)]
    return U * DomainMatrix(rows, (m, n), K) * V.transpose()


def rational_orthogonal(d, rng):
    """Exact rational ``d x d`` rotation (:func:`dmf_edu.proofs.symbolic.orthogonal` at a random rational point)."""
    return orthogonal(d, "q", rng)[0]


def log_mean(x, y):
    """``L(x^2, y^2) = (x^2 - y^2)/(ln x^2 - ln y^2)`` (E5)."""
    return (x ** 2 - y ** 2) / (sp.log(x ** 2) - sp.log(y ** 2))


def inverse_log_mean(x, y):
    """Claimed multiplier of ``A_inf^{-1}``: ``(ln x^2 - ln y^2)/(x^2 - y^2)``."""
    return (sp.log(x ** 2) - sp.log(y ** 2)) / (x ** 2 - y ** 2)


def resolvent_weight(s, N):
    """Weight of the E5 resolvent integral of ``A_N^{-1}``: ``(sin(pi/N)/pi) s^{1/N}``."""
    return sp.sin(sp.pi / N) / sp.pi * s ** sp.Rational(1, N)


def _log_zero(e):
    return sp.simplify(sp.expand_log(sp.together(e), force=True))


# --------------------------------------------------------------------------- the proof

def _round_trip(proof, U, V, s, N, Z, inv, where):
    """S1 at one setting: both compositions are the identity (exact, in the field of ``Z``)."""
    back = inverse_formula(U, V, s, N, operator_sum(U, V, s, N, Z), inv)
    there = operator_sum(U, V, s, N, inverse_formula(U, V, s, N, Z, inv))
    proof.zero("S1", back - Z, f"{where}: A^-1(A(Z)) - Z")
    proof.zero("S1", there - Z, f"{where}: A(A^-1(Z)) - Z")


def prove(proof, quick=False, inv=inverse_multiplier, inv_inf=inverse_log_mean, weight=resolvent_weight,
          library=dynamics.end_to_end_operator_inverse):
    rng = proof.rng
    # S1, 2x2 with symbolic rotations U = R(a), V = R(b): exact in the field QQ(a, b, s, z)
    #     (quick: rational rotations, exact in QQ(s, z))
    a, b = sp.symbols("a b", real=True)
    s2 = sp.symbols("s1 s2", positive=True)
    Z2 = symbol_matrix("z", 2, 2)
    if quick:
        a, b = [sp.Rational(int(rng.integers(-5, 6)), int(rng.integers(1, 5))) for _ in range(2)]
    K = function_field([x for x in (a, b) if isinstance(x, sp.Symbol)] + [*s2, *Z2])
    for N in ((2,) if quick else (2, 3)):
        _round_trip(proof, field_matrix(rotation(a), K), field_matrix(rotation(b), K), s2, N,
                    field_matrix(Z2, K), inv, f"2x2 N={N}")
        proof.sizes(f"2x2 {'rational' if quick else 'symbolic'} rotations N={N}")
    # S1, 3x3 and rectangular at rational orthogonal U, V; symbolic singular values and Z
    cases = [] if quick else [((3, 3), 2), ((3, 2), 2), ((3, 2), 3), ((2, 3), 3)]
    for (m, n), N in cases:
        U, V = rational_orthogonal(m, rng), rational_orthogonal(n, rng)
        proof.zero("S1", U.T * U - sp.eye(m), f"{m}x{m} Cayley matrix is orthogonal")
        s = sp.symbols(f"s1:{min(m, n) + 1}", positive=True)
        Z = symbol_matrix("z", m, n)
        K = function_field([*s, *Z])
        _round_trip(proof, field_matrix(U, K), field_matrix(V, K), s, N, field_matrix(Z, K), inv, f"{m}x{n} N={N}")
        proof.sizes(f"{m}x{n} rational U, V N={N}")
    # S2: the multiplier of A_inf is the log mean (p = ln x^2, q = ln y^2), and 1/L inverts it
    p, q, t = sp.symbols("p q t", real=True)
    integral = sp.integrate(sp.exp((1 - t) * p + t * q), (t, 0, 1))
    generic = [e for e, cond in integral.args if cond != sp.true][0] if isinstance(integral, sp.Piecewise) else integral
    proof.zero("S2", sp.cancel(generic - (sp.exp(p) - sp.exp(q)) / (p - q)),
               "int_0^1 (x^2)^(1-t) (y^2)^t dt - (x^2 - y^2)/(ln x^2 - ln y^2)")
    x, y = sp.symbols("x y", positive=True)
    proof.zero("S2", _log_zero(inv_inf(x, y) * log_mean(x, y) - 1), "(1/L) * L - 1 (the N = inf inverse)")
    proof.sizes("symbolic x, y > 0 (N = inf)")
    # S3: the resolvent integrals.  N = inf: an antiderivative F of 1/((t + x^2)(t + y^2)) and its limits
    F = (sp.log(t + x ** 2) - sp.log(t + y ** 2)) / (y ** 2 - x ** 2)
    proof.zero("S3", sp.diff(F, t) - 1 / ((t + x ** 2) * (t + y ** 2)), "F' = 1/((t+x^2)(t+y^2))")
    value = sp.limit(F, t, sp.oo) - F.subs(t, 0)
    proof.zero("S3", _log_zero(value - inv_inf(x, y)), "F(oo) - F(0) - 1/L")
    u, v = sp.symbols("u v", positive=True)                      # x = u^N, y = v^N
    for N in ((2,) if quick else (2, 3)):
        I = sp.integrate(weight(t, N) / ((t + u ** (2 * N)) * (t + v ** (2 * N))), (t, 0, sp.oo))
        proof.zero("S3", I - inv(u, v, N), f"N={N}: (sin(pi/N)/pi) int s^(1/N) ... - 1/a_N",
                   simplifier=lambda e: sp.cancel(sp.gammasimp(e)))
    proof.sizes("resolvent integrals N = 2" + ("" if quick else ", 3") + ", inf")
    # T1: the library at rational points (finite depths in the u-variables; N = inf via 1/L)
    for (m, n), depths in (((2, 2), (1, 2, 3, 4, np.inf)), ((3, 2), (2, 3)), ((2, 3), (3, 4)), ((3, 3), (2, 5, np.inf))):
        U, V = rational_orthogonal(m, rng), rational_orthogonal(n, rng)
        k = min(m, n)
        s = sorted(random_rational_point(sp.symbols(f"r1:{k + 1}", positive=True), rng).values(), reverse=True)
        Z = sp.Matrix(m, n, lambda i, j: sp.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 8))))
        for N in depths:
            if N == np.inf:                          # sigma = s, multiplier 1/L(sigma_i^2, sigma_j^2)
                mult = lambda i, j: inv_inf(s[i], s[j]) if i != j else 1 / s[i] ** 2   # noqa: E731
                W = U * sp.diag(*s) * V.T
            else:                                    # sigma = s^N, multiplier 1/a_N in the u-variables
                pad = padded(s, max(m, n))
                mult = lambda i, j: inv(pad[i], pad[j], N)                             # noqa: E731
                W = U * sp.Matrix(m, n, lambda i, j: s[i] ** N if i == j else 0) * V.T
            Zt = U.T * Z * V
            exact = U * sp.Matrix(m, n, lambda i, j: Zt[i, j] * mult(i, j)) * V.T
            proof.close("T1", library(to_float_array(W), to_float_array(Z), N), exact, rtol=1e-10,
                        what=f"end_to_end_operator_inverse {m}x{n} N={N}")
    proof.note("T1 at 2x2 (N = 1, 2, 3, 4, inf), 3x2 (N = 2, 3), 2x3 (N = 3, 4), 3x3 (N = 2, 5, inf)")


PLANTED = {
    "multiplier a_N instead of 1/a_N": Planted(
        step="S1", make=lambda: dict(inv=lambda x, y, N: multiplier(x, y, N))),
    "multiplier of depth N + 1": Planted(
        step="S1", make=lambda: dict(inv=lambda x, y, N: 1 / multiplier(x, y, N + 1))),
    "N = inf: ln x - ln y (factor 2 lost)": Planted(
        step="S2", make=lambda: dict(inv_inf=lambda x, y: (sp.log(x) - sp.log(y)) / (x ** 2 - y ** 2))),
    "resolvent weight without sin(pi/N)/pi": Planted(
        step="S3", make=lambda: dict(weight=lambda s, N: s ** sp.Rational(1, N))),
    "library: x1.01": Planted(
        step="T1", make=lambda: dict(library=lambda W, Z, N: 1.01 * dynamics.end_to_end_operator_inverse(W, Z, N))),
    "library: depth off by one": Planted(
        step="T1", make=lambda: dict(
            library=lambda W, Z, N: dynamics.end_to_end_operator_inverse(W, Z, N if N == 1 else N + 1))),
}


def worked_example():
    """W = diag(2, 1), N = 2: a_2(sigma_i, sigma_j) = sigma_i + sigma_j, so A^{-1}(Z) divides entry (i, j) by it."""
    W = np.diag([2.0, 1.0])
    Z = np.array([[1.0, 1.0], [1.0, 1.0]])
    Y = dynamics.end_to_end_operator_inverse(W, Z, 2)
    print("W = diag(2, 1), Z = ones, N = 2")
    print("a_2(sigma_i, sigma_j) = sigma_i + sigma_j:", [[4.0, 3.0], [3.0, 2.0]])
    print("A^{-1}(Z) =", Y.tolist(), " (entries 1/4, 1/3, 1/3, 1/2)")
    print("A(A^{-1}(Z)) =", dynamics.end_to_end_operator(W, Y, 2).tolist())


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
