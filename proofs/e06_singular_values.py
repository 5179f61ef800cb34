r"""E6 — the singular values under the end-to-end dynamics.

Statement (THEORY.md E6)
------------------------
Under ``dW/dt = -A_{N,W}(G)`` (E3), for distinct nonzero singular values ``sigma_r`` of ``W``
(``m x n``, thin SVD ``W = U diag(sigma) V^T``, ``k = min(m, n)``):

    d sigma_r / dt = -N (sigma_r^2)^{1 - 1/N} <G, u_r v_r^T> ;

at infinite depth, rescaled (``tau = N t``): ``d sigma_r/d tau = -sigma_r^2 <G, u_r v_r^T>``.

Construction.  ``W = Q_out Sigma Q_in^T`` with rational Cayley rotations ``Q_out`` (``m x m``),
``Q_in`` (``n x n``), ``U, V`` their first ``k`` columns and ``sigma_r = s_r^N`` (``s_r > 0``), so
that ``(W W^T)^{1/N} = Q_out diag(s^2, 0) Q_out^T`` and the E3 operator (proved on the E3 page)
is explicit.  A velocity of the thin SVD is ``dU = U Om_U + U_perp X_U``, ``dV = V Om_V + V_perp X_V``
(``Om`` skew: the columns stay orthonormal) and ``dSigma`` diagonal; it produces
``dW = dU S V^T + U dS V^T + U S dV^T``.  In the frame ``Q_out^T (.) Q_in`` this is a linear map of
the ``m n`` unknowns ``(Om_U, dS, Om_V, X_U, X_V)``.

Scope: S1, S2 for symbolic ``Om, X, s`` at each size.  S3 exactly over ``QQ(rotations, s, g)``
at 2x2 (N = 2; full run also 3) and 3x2 (N = 2, full run); at 3x3 (N = 2), 3x2 (N = 2; full
run also 3), 2x3 (N = 4; full run also N = 2) the rotations are exact rational rotations at a random
point and S3 is exact in ``s`` and ``G`` only (fully symbolic 3x3 is over the time budget).  Repeated or zero singular values are
not covered (the velocity is not unique there: S2).

Steps
-----
S1  For every admissible velocity, ``diag(U^T dW V) = dSigma`` (skew ``Om`` have zero diagonal;
    ``U^T U_perp = 0``).
S2  Uniqueness: the determinant of the map ``(Om_U, dS, Om_V, X_U, X_V) -> dW`` is, up to sign,
    ``prod_{r<r'} (sigma_r^2 - sigma_r'^2) prod_r sigma_r^{|m-n|}``: nonzero iff the singular
    values are distinct (and nonzero when ``m != n``).
S3  With ``dW = -A_{N,W}(G)``: ``diag(U^T dW V)_r = -N s_r^{2(N-1)} (U^T G V)_rr``, i.e. E6.
S4  Rescaled infinite depth: ``(1/N) N (sigma^2)^{1-1/N} -> sigma^2`` as ``N -> oo``.
T1  Library: ``dynamics.singular_value_velocity(W, G, N)`` equals the exact velocities at
    rational points (2x2, 3x2, 3x3, 2x3; N = 2, 3, 4 and ``numpy.inf``), relative 1e-10.
"""

import functools

import numpy as np
import sympy as sp

from dmf_edu import dynamics
from dmf_edu.proofs.e03_end_to_end_dynamics import end_to_end_operator_formula, singular_frames
from dmf_edu.proofs.symbolic import Page, Planted, at_point, field_matrix, random_rational_point
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E6", title="singular-value ODE under E3",
    statement="for distinct sigma_r: d sigma_r/dt = -N (sigma_r^2)^{1-1/N} <G, u_r v_r^T>; "
              "N = oo (rescaled): -sigma_r^2 <G, u_r v_r^T>",
    method="exact (rational-function field) + limit",
    steps={"S1": "diag(U^T dW V) = dSigma for every admissible SVD velocity",
           "S2": "the SVD velocity is unique: det = prod (sigma_r^2 - sigma_r'^2) prod sigma^{|m-n|}",
           "S3": "dW = -A_{N,W}(G) gives d sigma_r/dt = -N (sigma_r^2)^{1-1/N} (U^T G V)_rr",
           "S4": "rescaled N -> oo: -sigma^2 <G, u v^T>",
           "T1": "library: dynamics.singular_value_velocity equals the exact velocity at rational points"})

# (m, n, N, frames): cheap rational-frame cases first, so a wrong variant is rejected fast
QUICK = [(3, 2, 2, "rational"), (3, 3, 2, "rational"), (2, 3, 4, "rational"), (2, 2, 2, "symbolic")]
FULL = [(3, 2, 2, "rational"), (3, 3, 2, "rational"), (3, 2, 3, "rational"), (2, 3, 2, "rational"), (2, 3, 4, "rational"),
        (2, 2, 2, "symbolic"), (2, 2, 3, "symbolic"), (3, 2, 2, "symbolic")]


# --------------------------------------------------------------------------- construction

@functools.lru_cache(maxsize=32)
def svd_case(m, n, N, frames="symbolic", seed=0):
    """``W = Q_out diag(s^N) Q_in^T`` over ``QQ(params, s, g)`` with ``G`` free and ``A = A_{N,W}(G)`` (E3).

    ``frames="rational"``: exact rotations drawn with ``numpy.random.default_rng(seed)``.  Memoised
    (the planted variants meet the same cases); treat the result as read-only.

    Returns a dict: ``U`` (m x k), ``V`` (n x k), ``Q_out``, ``Q_in``, ``S = diag(s^N)``, ``s``,
    ``G``, ``A``, ``W``, ``K``, ``symbols``, ``label``.
    """
    f = singular_frames(m, n, frames, seed)
    Q_out, Q_in, s, G, K, k = f["Q_out"], f["Q_in"], f["s"], f["Z"], f["K"], min(m, n)
    D_out, D_in, symbols = f["D_out"], f["D_in"], f["symbols"]
    S = field_matrix(sp.diag(*[x ** N for x in s]), K)
    U, V = Q_out[:, :k], Q_in[:, :k]
    return dict(U=U, V=V, Q_out=Q_out, Q_in=Q_in, S=S, s=s, G=G, K=K, symbols=symbols, N=N,
                A=end_to_end_operator_formula(Q_out, D_out, Q_in, D_in, N, G), W=U * S * V.transpose(),
                label=f"{m}x{n} N={N}" + (" (rational rotations)" if frames == "rational" else ""))


def frame_velocity(m, n, skew=True):
    """``Q_out^T dW Q_in`` for a general SVD velocity in the singular frame, and its unknowns.

    ``dU = U Om_U + U_perp X_U`` etc. with ``U = [I_k; 0]``, ``U_perp = [0; I]``; ``Om`` skew
    (``skew=False``: symmetric, a planted wrong tangent model).  Returns ``(dW, unknowns, sigma, dS)``.
    """
    k = min(m, n)
    sig = sp.symbols(f"sigma1:{k + 1}", positive=True)
    dS = sp.symbols(f"dsigma1:{k + 1}", real=True)

    def tangent(name, size):
        om = sp.Matrix(k, k, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}") * (
            (1 if i < j else -1) if skew else 1) if (i != j or not skew) else 0)
        X = sp.Matrix(size - k, k, lambda i, j: sp.Symbol(f"x{name}_{i}{j}"))
        return sp.eye(size)[:, :k] * om + sp.eye(size)[:, k:] * X, list(om.free_symbols | X.free_symbols)

    dU, uu = tangent("u", m)
    dV, vv = tangent("v", n)
    S = sp.diag(*sig)
    Uf, Vf = sp.eye(m)[:, :k], sp.eye(n)[:, :k]
    dW = dU * S * Vf.T + Uf * sp.diag(*dS) * Vf.T + Uf * S * dV.T
    return dW, sorted(uu, key=str) + list(dS) + sorted(vv, key=str), sig, dS


def uniqueness_determinant(sig, m, n):
    """The claimed determinant (up to sign) of the SVD-velocity map."""
    k = len(sig)
    pairs = sp.Mul(*[sig[r] ** 2 - sig[q] ** 2 for r in range(k) for q in range(r + 1, k)])
    return pairs * sp.Mul(*[x ** abs(m - n) for x in sig])


def singular_value_velocity_formula(N, s, Gt):
    r"""E6 with ``sigma_r = s_r^N``: ``[-N s_r^{2(N-1)} Gt_rr]``, ``Gt = U^T G V`` (a list of field elements)."""
    return [-N * s[r] ** (2 * (N - 1)) * Gt[r, r] for r in range(len(s))]


def _descending(values):
    return np.argsort(-np.asarray(values, dtype=float), kind="stable")


# --------------------------------------------------------------------------- the proof

def infinite_depth_velocity(sigma, Gt_rr):
    """Rescaled infinite depth: ``d sigma/d tau = -sigma^2 (U^T G V)_rr``."""
    return -sigma ** 2 * Gt_rr


def prove(proof, quick=False, velocity=singular_value_velocity_formula, infinite=infinite_depth_velocity, skew=True,
          determinant=uniqueness_determinant, library=dynamics.singular_value_velocity):
    """S1, S2 per size; S3 for each case of :data:`QUICK` / :data:`FULL`; S4; T1 at a rational point per case."""
    cases = QUICK if quick else FULL
    for m, n in sorted({(m, n) for m, n, _, _ in cases}):
        dW, unknowns, sig, dS = frame_velocity(m, n, skew)
        k = len(sig)
        proof.zero("S1", sp.Matrix([dW[r, r] - dS[r] for r in range(k)]), f"{m}x{n}: diag(U^T dW V) = dSigma")
        M, _ = sp.linear_eq_to_matrix(list(dW), unknowns)
        proof.zero("S2", sp.factor(M.det()) ** 2 - determinant(sig, m, n) ** 2,
                   f"{m}x{n}: determinant of the SVD-velocity map")
    built = []
    for m, n, N, frames in cases:
        c = svd_case(m, n, N, frames, int(proof.rng.integers(2 ** 31)) if frames == "rational" else 0)
        Gt = (c["U"].transpose() * c["G"] * c["V"]).to_Matrix()
        dW = -(c["U"].transpose() * c["A"] * c["V"]).to_Matrix()
        claimed = velocity(N, c["s"], Gt)
        proof.zero("S3", field_matrix([dW[r, r] - claimed[r] for r in range(len(c["s"]))], c["K"]),
                   f"{c['label']}: d sigma_r/dt")
        built.append((c, Gt, claimed))
    sigma, M = sp.symbols("sigma M", positive=True)
    proof.zero("S4", sp.limit(velocity(M, [sigma ** (1 / M)], sp.Matrix([[1]]))[0] / M, M, sp.oo)
               - infinite(sigma, 1), "(1/N) N (sigma^2)^(1-1/N) -> sigma^2")
    for c, Gt, claimed in built:
        N, s = c["N"], c["s"]
        point = random_rational_point(c["symbols"], proof.rng)
        order = _descending([at_point(x ** N, point) for x in s])
        Wn, Gn = at_point(c["W"], point), at_point(c["G"], point)
        exact = np.array([at_point(e, point) for e in claimed])[order]
        proof.close("T1", library(Wn, Gn, N), exact, rtol=1e-10, what=f"singular_value_velocity {c['label']}")
        if N == 2:                                    # infinite depth, rescaled
            inf = np.array([at_point(infinite(x ** N, Gt[r, r]), point) for r, x in enumerate(s)])[order]
            proof.close("T1", library(Wn, Gn, np.inf), inf, rtol=1e-10,
                        what=f"singular_value_velocity N=inf {c['label']}")
    proof.sizes("; ".join(f"{m}x{n} N={N}" + (" (rational rotations)" if f == "rational" else "")
                          for m, n, N, f in cases) + "; N -> oo")


# --------------------------------------------------------------------------- planted wrong variants

PLANTED = {
    "tangent model with symmetric Om (columns not kept orthonormal)": Planted("S1", lambda: dict(skew=False)),
    "uniqueness claimed without the sigma^{|m-n|} factor": Planted(
        "S2", lambda: dict(determinant=lambda sig, m, n: uniqueness_determinant(sig, m, m))),
    "wrong exponent 1 - 2/N": Planted(
        "S3", lambda: dict(velocity=lambda N, s, Gt: [-N * s[r] ** (2 * (N - 2)) * Gt[r, r] for r in range(len(s))])),
    "missing factor N": Planted(
        "S3", lambda: dict(velocity=lambda N, s, Gt: [-s[r] ** (2 * (N - 1)) * Gt[r, r] for r in range(len(s))])),
    "infinite depth law -sigma <G, u v^T> (exponent 1)": Planted(
        "S4", lambda: dict(infinite=lambda sigma, Gt_rr: -sigma * Gt_rr)),
    "library: depth off by one": Planted(
        "T1", lambda: dict(library=lambda W, G, N: dynamics.singular_value_velocity(W, G, N + 1))),
    "library: G transposed on square W": Planted(
        "T1", lambda: dict(library=lambda W, G, N: dynamics.singular_value_velocity(
            W, G.T if G.shape[0] == G.shape[1] else G, N))),
}


def worked_example():
    """W = diag(4, 1) (s = 2, 1 at N = 2), G = [[1, 2], [3, 4]]: d sigma/dt = -2 sigma (U^T G V)_rr."""
    W, G = np.diag([4.0, 1.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    print("formula: ", [-2 * 4.0 * 1.0, -2 * 1.0 * 4.0])
    print("library: ", dynamics.singular_value_velocity(W, G, 2).tolist())


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
