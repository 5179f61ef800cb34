r"""E15 — the Riemannian volume density of the end-to-end metric in SVD coordinates.

Statement (THEORY.md E15)
-------------------------
Square ``d x d`` full-rank ``W = U diag(sigma) V^T`` with distinct singular values, coordinates
``(sigma, omega_U, omega_V)``: ``sigma`` and the skew-symmetric generators of the rotations ``U, V``
(``omega`` = the entries above the diagonal).  The volume density ``sqrt(det g)`` of the metric
``g(X, X) = sum_ij (U^T X V)_ij^2 / m(sigma_i, sigma_j)`` in these coordinates is

    rho = prod_i m(sigma_i, sigma_i)^{-1/2}  prod_{i<j} |sigma_i^2 - sigma_j^2| / m(sigma_i, sigma_j),

and for the rescaled metric ``N g^N`` (``m_N = a_N / N``; ``m_inf = L(sigma_i^2, sigma_j^2)``)

    rho_N = prod_i sigma_i^{-(N-1)/N} prod_{i<j} N |sigma_i^{2/N} - sigma_j^{2/N}|,
    rho_inf = prod_i sigma_i^{-1} prod_{i<j} |ln sigma_i^2 - ln sigma_j^2| .

Scope.  ``d = 2`` and ``d = 3`` (``d = 2`` in quick mode).  S1, S2: exact, with the multipliers
``m_ij`` free symbols (``m_ij = m_ji``): the density formula holds for *every* metric diagonal in
the singular basis.  S3: symbolic ``N`` (and ``N = inf``) for ``sigma_i > sigma_j > 0``.  The
coordinates are taken at ``U = V = I``: the metric is defined through ``U^T X V``, so the Gram
matrix at any ``(U, V)`` is the same.  The density is with respect to ``d sigma`` times the
measure ``d omega_U d omega_V`` of the rotation generators (Haar measure up to a constant).
Not covered: the volume of ``g^N`` itself (``N^{-d^2/2} rho_N``), rectangular ``W``, repeated or
zero singular values (coordinates singular there), the integrability remark of THEORY E15.

Steps
-----
S1  tangent vectors (``sympy.diff`` of ``W = C(omega_U) diag(sigma) C(omega_V)^T`` at ``omega = 0``,
    ``C`` the Cayley rotation with ``C'(0) = K``): ``dW/dsigma_i = E_ii``, ``dW/domega_U = K Sigma``,
    ``dW/domega_V = -Sigma K``.
S2  the Gram matrix of these tangents under ``g`` has
    ``det = prod_i m_ii^{-1} prod_{i<j} (sigma_i^2 - sigma_j^2)^2 / m_ij^2`` (free ``m``).
S3  with ``m_N = a_N/N``: ``m_N(x, x)^{-1/2} = x^{-(N-1)/N}`` and ``(x^2 - y^2)/m_N(x, y) = N (x^{2/N} - y^{2/N})``
    (symbolic ``N``); with ``L``: ``x^{-1}`` and ``ln x^2 - ln y^2``.
T1  library: ``geometry.volume_density(sigma, N)`` (the density itself, not its log) equals
    ``sqrt(det Gram)`` computed from the definition at rational points, ``N = 1, 2, 3, 5, inf``.
T2  library: ``volume_density(..., log=True)`` equals the log of the same exact value.
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu.dynamics import geometry
from dmf_edu.proofs.symbolic import (Page, Planted, cayley, function_field, power_simplify, random_rational_point)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E15", title="volume density of N g^N in SVD coordinates",
    statement="sqrt det g = prod m_ii^{-1/2} prod_{i<j} |s_i^2 - s_j^2|/m_ij; for m_N = a_N/N: "
              "prod s_i^{-(N-1)/N} prod N|s_i^{2/N} - s_j^{2/N}|, N = inf: prod s_i^{-1} prod |ln s_i^2 - ln s_j^2|",
    method="exact (sympy.diff, determinant over QQ(s, m)) + symbolic N",
    steps={
        "S1": "tangent vectors of the SVD coordinates: E_ii, K Sigma, -Sigma K",
        "S2": "det Gram = prod m_ii^{-1} prod_{i<j} (s_i^2 - s_j^2)^2 / m_ij^2 (free multipliers)",
        "S3": "m_N = a_N/N (symbolic N) and m = L give the factors of rho_N and rho_inf",
        "T1": "library: geometry.volume_density (non-log) = sqrt(det Gram) at rational points",
        "T2": "library: volume_density(log=True) = log of the same exact value",
    })


# --------------------------------------------------------------------------- construction

def skew_basis(d):
    """The generators ``K_k = E_ij - E_ji`` (``i < j``), in the order of :func:`dmf_edu.proofs.symbolic.cayley`'s params."""
    out = []
    for i in range(d):
        for j in range(i + 1, d):
            K = sp.zeros(d, d)
            K[i, j], K[j, i] = -1, 1
            out.append(K)
    return out


def coordinates(d):
    """Symbols ``sigma``, ``omega_U``, ``omega_V`` and ``W(sigma, omega) = C(omega_U) diag(sigma) C(omega_V)^T``.

    ``cayley(params)`` is ``(I - K)(I + K)^{-1}`` with ``K`` holding ``params`` above the
    diagonal, so its derivative at 0 is ``-2 K(params)``; ``params = omega/2`` makes the derivative
    along ``omega_k`` equal to :func:`skew_basis` ``[k]``.
    """
    k = d * (d - 1) // 2
    sigma = sp.symbols(f"sigma1:{d + 1}", positive=True)
    wu, wv = sp.symbols(f"u1:{k + 1}", real=True), sp.symbols(f"v1:{k + 1}", real=True)
    W = cayley([w / 2 for w in wu], d) * sp.diag(*sigma) * cayley([w / 2 for w in wv], d).T
    return sigma, wu, wv, W


def claimed_tangents(sigma):
    """S1: ``[E_ii ...] + [K_k Sigma ...] + [-Sigma K_k ...]``."""
    d = len(sigma)
    S = sp.diag(*sigma)
    E = [sp.Matrix(d, d, lambda a, b: 1 if a == b == i else 0) for i in range(d)]
    return E + [K * S for K in skew_basis(d)] + [-S * K for K in skew_basis(d)]


def multiplier_symbols(d):
    """Free symmetric multipliers ``m_ij = m_ji > 0``."""
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"m{min(i, j) + 1}{max(i, j) + 1}", positive=True))


def gram(tangents, m):
    """``Gram_ab = g(T_a, T_b) = sum_ij T_a[i,j] T_b[i,j] / m_ij``."""
    return sp.Matrix(len(tangents), len(tangents), lambda a, b: sp.Add(
        *(x * y / mm for x, y, mm in zip(tangents[a], tangents[b], m) if x != 0 and y != 0)))


def gram_determinant(sigma, m):
    """Claimed S2: ``prod_i m_ii^{-1} prod_{i<j} (sigma_i^2 - sigma_j^2)^2 / m_ij^2``."""
    d = len(sigma)
    out = sp.Mul(*(1 / m[i, i] for i in range(d)))
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    return out * sp.Mul(*((sigma[i] ** 2 - sigma[j] ** 2) ** 2 / m[i, j] ** 2 for i, j in pairs))


def rescaled_multiplier(x, y, N):
    """``m_N(x, y) = a_N(x, y)/N = (x^2 - y^2)/(N (x^{2/N} - y^{2/N}))`` (E4), ``x != y``."""
    return (x ** 2 - y ** 2) / (N * (x ** (2 / N) - y ** (2 / N)))


def density_factors(x, y, N):
    """Claimed S3 factors of ``rho_N``: ``(x^{-(N-1)/N}, N (x^{2/N} - y^{2/N}))`` for ``x > y > 0``."""
    return x ** (-(N - 1) / N), N * (x ** (2 / N) - y ** (2 / N))


def det_exact(M):
    """Determinant of a ``sympy.Matrix`` of rational functions, exactly (``DomainMatrix`` over a field)."""
    syms = sorted(M.free_symbols, key=str)
    K = function_field(syms) if syms else sp.QQ
    return K.to_sympy(DomainMatrix.from_Matrix(M).convert_to(K).det())


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, tangents=claimed_tangents, det_formula=gram_determinant, factors=density_factors,
          density=geometry.volume_density):
    dims = (2,) if quick else (2, 3)
    for d in dims:
        sigma, wu, wv, W = coordinates(d)
        at0 = {w: 0 for w in (*wu, *wv)}
        exact = [W.diff(x).xreplace(at0) for x in (*sigma, *wu, *wv)]
        for k, (e, c) in enumerate(zip(exact, tangents(sigma))):
            proof.zero("S1", e.applyfunc(sp.cancel) - c, f"d={d}: tangent {k} at omega = 0")
        m = multiplier_symbols(d)
        proof.zero("S2", sp.cancel(det_exact(gram(exact, m)) - det_formula(sigma, m)), f"d={d}: det Gram - claimed")
        proof.sizes(f"d={d} (coordinates: {d} + {d * (d - 1)})")
    x, y = sp.symbols("x y", positive=True)
    N = sp.Symbol("N", positive=True)
    diag_f, pair_f = factors(x, y, N)
    proof.zero("S3", power_simplify(sp.sqrt(1 / (x ** 2) ** ((N - 1) / N)) - diag_f),
               "m_N(x, x)^(-1/2) = x^(-(N-1)/N), m_N(x, x) = a_N(x, x)/N = x^(2(N-1)/N) (E4)")
    proof.zero("S3", power_simplify((x ** 2 - y ** 2) / rescaled_multiplier(x, y, N) - pair_f),
               "(x^2 - y^2)/m_N(x, y) = N (x^(2/N) - y^(2/N))")
    L = (x ** 2 - y ** 2) / (sp.log(x ** 2) - sp.log(y ** 2))
    proof.zero("S3", sp.simplify((x ** 2 - y ** 2) / L - (sp.log(x ** 2) - sp.log(y ** 2))), "N = inf: (x^2 - y^2)/L")
    proof.zero("S3", sp.simplify(sp.sqrt(1 / x ** 2) - 1 / x), "N = inf: L(x^2, x^2)^(-1/2) = 1/x")
    proof.sizes("symbolic N > 0 and N = inf")
    _tie_in(proof, dims, density)


def _tie_in(proof, dims, density):
    """T1, T2: the Gram determinant at rational singular values ``sigma = r^N`` (exact over QQ;
    ``sigma^{2/N} = r^2``), its square root, and the library."""
    for d in dims:
        r = sorted(random_rational_point(sp.symbols(f"r1:{d + 1}", positive=True), proof.rng).values(), reverse=True)
        for N in (1, 2, 3, 5, np.inf):
            if N == np.inf:
                sigma = r
                m = sp.Matrix(d, d, lambda i, j: sigma[i] ** 2 if i == j else
                              (sigma[i] ** 2 - sigma[j] ** 2) / (sp.log(sigma[i] ** 2) - sp.log(sigma[j] ** 2)))
            else:
                sigma = [x ** N for x in r]
                m = sp.Matrix(d, d, lambda i, j: sp.Add(*(r[i] ** (2 * (N - p)) * r[j] ** (2 * (p - 1))
                                                          for p in range(1, N + 1))) / N)
            G = gram(claimed_tangents(sigma), m)
            value = sp.sqrt(det_exact(G) if N != np.inf else G.det())
            numeric = density(np.array([float(x) for x in sigma]), N)
            proof.close("T1", numeric, value, rtol=1e-10, what=f"volume_density d={d} N={N}")
            proof.close("T2", density(np.array([float(x) for x in sigma]), N, log=True), sp.log(value), rtol=1e-10,
                        what=f"volume_density(log=True) d={d} N={N}")
    proof.note("T1/T2 at d = " + ", ".join(map(str, dims)) + ", N = 1, 2, 3, 5, inf; the exact value is "
               "sqrt(det Gram) from the definition, not the closed form of S3")


PLANTED = {
    "S1: V-tangent +Sigma K": Planted("S1", lambda: dict(
        tangents=lambda s: claimed_tangents(s)[:len(s) + len(skew_basis(len(s)))]
        + [sp.diag(*s) * K for K in skew_basis(len(s))])),
    "S2: pair factor (sigma_i - sigma_j)^2": Planted("S2", lambda: dict(
        det_formula=lambda s, m: gram_determinant(s, m) / sp.Mul(*((s[i] + s[j]) ** 2 for i in range(len(s))
                                                                    for j in range(i + 1, len(s)))))),
    "S3: diagonal exponent -(N-1)/(2N)": Planted("S3", lambda: dict(
        factors=lambda x, y, N: (x ** (-(N - 1) / (2 * N)), density_factors(x, y, N)[1]))),
    "S3: pair factor without N": Planted("S3", lambda: dict(
        factors=lambda x, y, N: (density_factors(x, y, N)[0], x ** (2 / N) - y ** (2 / N)))),
    "library: density x1.01 (non-log output)": Planted("T1", lambda: dict(
        density=lambda s, N, log=False: geometry.volume_density(s, N, log=log) * (1.0 if log else 1.01))),
    "library: density of depth N + 1": Planted("T1", lambda: dict(
        density=lambda s, N, log=False: geometry.volume_density(s, N + 1, log=log))),
    "library: log output + 0.01": Planted("T2", lambda: dict(
        density=lambda s, N, log=False: geometry.volume_density(s, N, log=log) + (0.01 if log else 0.0))),
}


def worked_example():
    """d = 2, sigma = (4, 1), N = 2: rho_2 = (4 * 1)^{-1/2} * 2 (4 - 1) = 3."""
    print("sigma = (4, 1), N = 2: rho_2 = 4^(-1/2) 1^(-1/2) * 2 |4^(2/2) - 1^(2/2)| = 0.5 * 6 = 3")
    print("geometry.volume_density([4, 1], 2) =", float(geometry.volume_density(np.array([4.0, 1.0]), 2)))
    print("N = inf: rho = (4 * 1)^(-1) |ln 16 - ln 1| = ln(16)/4 =", np.log(16) / 4,
          " library:", float(geometry.volume_density(np.array([4.0, 1.0]), np.inf)))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
