r"""E16 — the volume of the fibre of balanced factorizations over ``W``, and its entropy.

Statement (THEORY.md E16)
-------------------------
Square ``d x d`` full-rank ``W`` with singular values ``sigma``, depth ``N``, hidden widths ``d``.  The
balanced factorizations of ``W`` form the orbit of the hidden rotations
``W_j -> R_j W_j R_{j-1}^T`` (``R_1 ... R_{N-1}`` orthogonal, ``R_0 = R_N = I``).  With the
Euclidean metric ``sum_j ||dW_j||_F^2`` of the factor space, the volume density of this orbit
(w.r.t. the measure of the skew generators of ``R_1 ... R_{N-1}``) is

    vol_N(W) = 2^{(N-1) d(d-1)/4}  prod_{i<j} sqrt(a_N(sigma_i, sigma_j)),

so the Boltzmann entropy is ``S_N(W) = const + 1/2 sum_{i<j} log a_N(sigma_i, sigma_j)``.

Scope.  S1 with symbolic rotations (``d = 2``, ``N = 3``; quick ``N = 2``) and symbolic factors; S2 exactly at ``d = 2``
(``N = 2, 3, 4``) and ``d = 3`` (``N = 2, 3``) (quick: ``d = 2``, ``N = 2, 3``; S1's tangent
also at ``d = 3``, ``N = 2`` in the full run); S3 for symbolic ``N``
(the tridiagonal recurrence).  The Gram matrix is computed at the factorization ``W_j = diag(s)``
(``sigma = s^N``): at ``W_j = Q_j diag(s) Q_{j-1}^T`` the substitution ``K_j -> Q_j K_j Q_j^T`` maps
the orbit tangents onto these, isometrically.  Singular values may coincide (the formula
stays finite: ``a_N(x, x) = N x^{2(N-1)/N}``); a pair of zero singular values makes the fibre
collapse (``a_N(0, 0) = 0``).  Not covered: rectangular ``W``, hidden widths above ``d``.

Steps
-----
S1  the orbit lies in the fibre: ``W_N ... W_1`` and each ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T``
    transform as ``W`` and ``R_j D_j R_j^T``, so balancedness is kept; its tangent at ``R = I`` along
    generators ``K_j`` is ``dW_j = K_j W_j - W_j K_{j-1}`` (``sympy.diff`` of Cayley curves).
S2  at ``W_j = diag(s)`` the Gram matrix of the orbit tangents has
    ``det = 2^{(N-1)P} prod_{i<j} a_N(sigma_i, sigma_j)`` (``P = d(d-1)/2`` pairs), and per pair it is
    tridiagonal with diagonal ``2(s_i^2 + s_j^2)`` and off-diagonal ``-2 s_i s_j``.
S3  for symbolic ``n = N - 1`` the tridiagonal determinant is ``D_n = 2^n (x^{n+1} - y^{n+1})/(x - y)``
    (``x = s_i^2``, ``y = s_j^2``): ``D_0 = 1``, ``D_1 = 2(x + y)``, ``D_n = 2(x + y) D_{n-1} - 4xy D_{n-2}``;
    and ``(x^N - y^N)/(x - y) = a_N(sigma_i, sigma_j)`` (E4), so ``vol = prod_pairs sqrt(2^{N-1} a_N)``.
T1  library: ``geometry.fibre_entropy(sigma, N) - fibre_entropy(sigma', N) = 1/2 log(det Gram(sigma)/det Gram(sigma'))``
    (the definition, no constant) at rational points, ``N = 2, 3, 4``.
T2  library: ``fibre_entropy`` is ``1/2 sum_{i<j} log(a_N/N)`` (the documented constant), ``N = 1, 2, 3, 5``,
    and ``1/2 sum log L(sigma_i^2, sigma_j^2)`` at ``N = inf``.
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu.dynamics import geometry
from dmf_edu.proofs.e04_depth_multipliers import multiplier
from dmf_edu.proofs.symbolic import (Page, Planted, cayley, chain_product, field_matrix, function_field, power_simplify, random_rational_point, rotation, symbol_matrix)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E16", title="fibre volume prod sqrt(a_N), entropy",
    statement="the orbit of hidden rotations over W (balanced fibre) has volume 2^{(N-1)d(d-1)/4} "
              "prod_{i<j} sqrt(a_N(s_i, s_j)); S_N = const + 1/2 sum_{i<j} log a_N",
    method="exact (sympy.diff, determinants) + symbolic-N recurrence",
    steps={
        "S1": "the orbit keeps W and balancedness; its tangent is K_j W_j - W_j K_{j-1}",
        "S2": "det Gram = 2^{(N-1)P} prod a_N(sigma_i, sigma_j); per pair tridiagonal (2(x+y), -2 s_i s_j)",
        "S3": "symbolic N: D_n = 2^n (x^{n+1} - y^{n+1})/(x - y) solves the recurrence; = 2^{N-1} a_N",
        "T1": "library: differences of geometry.fibre_entropy = 1/2 log det Gram ratios (the definition)",
        "T2": "library: fibre_entropy = 1/2 sum log(a_N/N) (N = inf: log L)",
    })


# --------------------------------------------------------------------------- construction

def generators(d):
    """The skew generators ``E_ji - E_ij`` (``i < j``): derivatives of :func:`cayley` curves ``C(eps k / 2)`` at 0."""
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    return [sp.Matrix(d, d, lambda a, b: int(a == j and b == i) - int(a == i and b == j)) for i, j in pairs]


def orbit_tangent(K, weights):
    """Claimed S1: ``dW_j = K_j W_j - W_j K_{j-1}`` with ``K = [K_0 = 0, K_1, ..., K_{N-1}, K_N = 0]``."""
    return [K[j + 1] * weights[j] - weights[j] * K[j] for j in range(len(weights))]


def volume_squared(s, N):
    """Claimed S2: ``det Gram = 2^{(N-1)P} prod_{i<j} a_N(sigma_i, sigma_j)`` (``a_N`` in ``s = sigma^{1/N}``,
    page E4)."""
    d = len(s)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    return 2 ** ((N - 1) * len(pairs)) * sp.Mul(*(multiplier(s[i], s[j], N) for i, j in pairs))


def orbit_gram(s, N):
    """Gram matrix of the orbit tangents at ``W_j = diag(s)``, coordinates ``(layer j = 1..N-1, pair)``."""
    d = len(s)
    basis = generators(d)
    S = sp.diag(*s)
    coords = [(j, p) for j in range(1, N) for p in range(len(basis))]

    def tangent(j, p):
        K = [sp.zeros(d, d)] * (N + 1)
        K = K[:j] + [basis[p]] + K[j + 1:]
        return orbit_tangent(K, [S] * N)

    T = [tangent(j, p) for j, p in coords]
    return sp.Matrix(len(T), len(T), lambda a, b: sp.expand(sum(
        (sum(x * y for x, y in zip(A, B)) for A, B in zip(T[a], T[b])), sp.Integer(0)))), coords


def tridiagonal_determinant(n, x, y):
    """Claimed S3: ``D_n = 2^n (x^{n+1} - y^{n+1})/(x - y)``."""
    return 2 ** n * (x ** (n + 1) - y ** (n + 1)) / (x - y)


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, tangent=orbit_tangent, volume=volume_squared, recurrence=tridiagonal_determinant,
          entropy=geometry.fibre_entropy):
    # S1: d = 2, symbolic rotations R_1 .. R_{N-1} and symbolic factors (N = 3; quick: N = 2)
    M = 2 if quick else 3
    t = sp.symbols(f"t1:{M}", real=True)
    weights = [symbol_matrix(f"w{j}", 2, 2) for j in range(1, M + 1)]
    K = function_field([*t, *set().union(*(w.free_symbols for w in weights))])
    R = [sp.eye(2)] + [rotation(x) for x in t] + [sp.eye(2)]
    moved = [R[j + 1] * weights[j] * R[j].T for j in range(M)]
    fm = lambda X: field_matrix(X, K)  # noqa: E731
    proof.zero("S1", fm(chain_product(moved)) - fm(chain_product(weights)), f"d=2 N={M}: W_N ... W_1 is invariant")
    for j in range(M - 1):
        D = lambda ws: ws[j + 1].T * ws[j + 1] - ws[j] * ws[j].T  # noqa: E731
        proof.zero("S1", fm(D(moved)) - fm(R[j + 1]) * fm(D(weights)) * fm(R[j + 1].T),
                   f"d=2 N={M}: D_{j + 1} -> R D R^T")
    for d, N in ((2, 3),) if quick else ((2, 3), (3, 2)):   # tangent along Cayley curves R_j = C(eps k_j / 2)
        eps = sp.Symbol("eps", real=True)
        ks = [sp.symbols(f"k{j}_1:{d * (d - 1) // 2 + 1}", real=True) for j in range(1, N)]
        ws = [symbol_matrix(f"w{j}", d, d) for j in range(1, N + 1)]
        Rs = [sp.eye(d)] + [cayley([eps * k / 2 for k in kj], d) for kj in ks] + [sp.eye(d)]
        curve = [Rs[j + 1] * ws[j] * Rs[j].T for j in range(N)]
        gens = [sp.zeros(d, d)] + [sum((k * B for k, B in zip(kj, generators(d))), sp.zeros(d, d)) for kj in ks] \
            + [sp.zeros(d, d)]
        for j, (c, claim) in enumerate(zip(curve, tangent(gens, ws))):
            proof.zero("S1", c.diff(eps).xreplace({eps: 0}).applyfunc(sp.cancel) - claim,
                       f"d={d} N={N}: tangent of W_{j + 1}")
    proof.sizes(f"S1 at d=2 N={M} (rotations), tangents d=2 N=3" + ("" if quick else ", d=3 N=2"))
    # S2: the Gram determinant at W_j = diag(s), explicit N
    cases = ((2, 2), (2, 3)) if quick else ((2, 2), (2, 3), (2, 4), (3, 2), (3, 3))
    for d, N in cases:
        s = sp.symbols(f"s1:{d + 1}", positive=True)
        G, coords = orbit_gram(s, N)
        det = DomainMatrix.from_Matrix(G).convert_to(function_field(s)).det()
        proof.zero("S2", sp.expand(function_field(s).to_sympy(det) - volume(s, N)), f"d={d} N={N}: det Gram")
        for a, (ja, pa) in enumerate(coords):           # per pair tridiagonal in the layer index
            for b, (jb, pb) in enumerate(coords):
                i, k = [(i, k) for i in range(d) for k in range(i + 1, d)][pa]
                want = 0
                if pa == pb and ja == jb:
                    want = 2 * (s[i] ** 2 + s[k] ** 2)
                elif pa == pb and abs(ja - jb) == 1:
                    want = -2 * s[i] * s[k]
                proof.zero("S2", G[a, b] - want, f"d={d} N={N}: Gram entry {(a, b)}")
        proof.sizes(f"d={d} N={N}")
    # S3: symbolic N through the recurrence of the tridiagonal determinant
    n = sp.Symbol("n", integer=True, positive=True)
    x, y = sp.symbols("x y", positive=True)
    D = lambda k: recurrence(k, x, y)  # noqa: E731
    proof.zero("S3", sp.cancel(D(0) - 1), "D_0 = 1")
    proof.zero("S3", sp.cancel(D(1) - 2 * (x + y)), "D_1 = 2(x + y)")
    proof.zero("S3", power_simplify(D(n + 1) - 2 * (x + y) * D(n) + 4 * x * y * D(n - 1)),
               "D_{n+1} = 2(x+y) D_n - 4xy D_{n-1} (symbolic n)")
    for N in range(2, 7):                              # x = s_i^2 = sigma_i^{2/N}: D_{N-1} = 2^{N-1} a_N
        u, v = sp.symbols("u v", positive=True)
        proof.zero("S3", sp.cancel(D(N - 1).subs({x: u ** 2, y: v ** 2}) - 2 ** (N - 1) * multiplier(u, v, N)),
                   f"N={N}: D_(N-1) = 2^(N-1) a_N")
    proof.sizes("symbolic N (recurrence)")
    _tie_in(proof, entropy)


def _tie_in(proof, entropy):
    for d in (2, 3):
        pts = [sorted(random_rational_point(sp.symbols(f"r1:{d + 1}", positive=True), proof.rng).values(), reverse=True)
               for _ in range(2)]
        for N in (2, 3, 4):
            dets = [orbit_gram(r, N)[0].det() for r in pts]
            exact = sp.log(dets[0] / dets[1]) / 2
            sig = [np.array([float(x) ** N for x in r]) for r in pts]
            proof.close("T1", entropy(sig[0], N) - entropy(sig[1], N), exact, rtol=1e-10,
                        what=f"fibre_entropy difference d={d} N={N}")
        r = pts[0]
        for N in (1, 2, 3, 5):
            exact = sum(sp.log(multiplier(r[i], r[j], N) / N) for i in range(d) for j in range(i + 1, d)) / 2
            proof.close("T2", entropy(np.array([float(x) ** N for x in r]), N), exact, rtol=1e-10, scale=1,
                        what=f"fibre_entropy d={d} N={N}")
        L = lambda a, b: (a ** 2 - b ** 2) / (sp.log(a ** 2) - sp.log(b ** 2))  # noqa: E731
        exact = sum(sp.log(L(r[i], r[j])) for i in range(d) for j in range(i + 1, d)) / 2
        proof.close("T2", entropy(np.array([float(x) for x in r]), np.inf), exact, rtol=1e-10, scale=1,
                    what=f"fibre_entropy d={d} N=inf")
    proof.note("T1 compares differences with the Gram determinants of the definition (no constant); "
               "T2 the documented constant (m_N = a_N/N); absolute errors in T2 (entropies can be ~0)")


PLANTED = {
    "S1: tangent K_j W_j + W_j K_{j-1}": Planted("S1", lambda: dict(
        tangent=lambda K, ws: [K[j + 1] * ws[j] + ws[j] * K[j] for j in range(len(ws))])),
    "S2: det without the 2^{(N-1)P}": Planted("S2", lambda: dict(
        volume=lambda s, N: volume_squared(s, N) / 2 ** ((N - 1) * len(s) * (len(s) - 1) // 2))),
    "S3: D_n = 2^n (x^n - y^n)/(x - y)": Planted("S3", lambda: dict(
        recurrence=lambda n, x, y: 2 ** n * (x ** n - y ** n) / (x - y))),
    "library: entropy x1.01": Planted("T1", lambda: dict(entropy=lambda s, N: 1.01 * geometry.fibre_entropy(s, N))),
    "library: entropy of depth N + 1": Planted("T1", lambda: dict(
        entropy=lambda s, N: geometry.fibre_entropy(s, N + 1))),
    "library: constant log N dropped": Planted("T2", lambda: dict(
        entropy=lambda s, N: geometry.fibre_entropy(s, N) + (0.0 if N == np.inf else
                                                             np.shape(s)[-1] * (np.shape(s)[-1] - 1) / 4 * np.log(N)))),
}


def worked_example():
    """d = 2, N = 3 at W_j = diag(s1, s2): the 2x2 Gram of (k_1, k_2) and its determinant."""
    s = sp.symbols("s1 s2", positive=True)
    G, _ = orbit_gram(s, 3)
    print("Gram (coordinates k_1, k_2 of the rotations R_1, R_2):", G.tolist())
    print("det =", sp.factor(G.det()), " = 2^2 a_3(sigma_1, sigma_2) with sigma = s^3:",
          sp.factor(4 * multiplier(s[0], s[1], 3)))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
