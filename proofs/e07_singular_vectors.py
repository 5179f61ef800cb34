r"""E7 — the singular vectors under the end-to-end dynamics, square and rectangular.

Statement (THEORY.md E7)
------------------------
Under ``dW/dt = -A_{N,W}(G)`` (E3), for ``W`` (``m x n``) with distinct nonzero singular values,
thin SVD ``W = U S V^T`` (``S = diag(sigma)``), ``G~ = U^T G V`` and
``F_{rr'} = 1/((sigma_{r'}^2)^{1/N} - (sigma_r^2)^{1/N})`` (``r != r'``), ``F_rr = 0``:

    dU/dt = -U (F o [G~ S + S G~^T]) - (I - U U^T) G V (S^2)^{1/2 - 1/N},
    dV/dt = -V (F o [S G~ + G~^T S]) - (I - V V^T) G^T U (S^2)^{1/2 - 1/N}.

The complement terms vanish for square ``W`` (``U U^T = I``) and carry the motion out of the
current column (row) space when ``m > n`` (``n > m``).

Construction: as on the E6 page (``svd_case``): ``W = Q_out diag(s^N) Q_in^T`` with Cayley
rotations, ``U, V`` their first ``k = min(m, n)`` columns, ``sigma = s^N`` so every power is
explicit (``(S^2)^{1/2 - 1/N} = diag(s^{N-2})``), ``G`` free, ``A`` the E3 sum.  A candidate
velocity is *the* velocity of the SVD when it keeps the columns orthonormal and reproduces
``dW``: the E6 page (step S2) proves that this linear system has a unique solution for distinct
nonzero singular values, at the same sizes.

Scope: 2x2 with symbolic rotations (N = 2; full run also 3), 3x2 with symbolic rotations
(N = 2, full run), and 3x2, 2x3, 3x3 (N = 2), 2x3 (N = 4; full run also 3x2 N = 3, 5 and 3x3
N = 4) with exact rotations at a random rational point (S1, S2 exact in ``s`` and ``G``; fully
symbolic 3x3 is over the time budget).  The 3x2 and 2x3 cases
are where the complement terms are nonzero.  Finite N >= 2; infinite depth is not proved here.

Steps
-----
S1  The candidate keeps the columns orthonormal: ``U^T dU + dU^T U = 0`` and ``V^T dV + dV^T V = 0``.
S2  With E6's ``d sigma``: ``dU S V^T + U dS V^T + U S dV^T + A_{N,W}(G) = 0`` (rectangular
    cases included: the complement terms are needed here).
T1  Library: ``dynamics.singular_vector_velocity(W, G, N)`` equals the exact ``(dU, dV)`` at
    rational points of every case, the rectangular ones included (columns sign-aligned with
    the library's SVD; relative 1e-9).  A 1% error in the complement term fails it.
"""

import numpy as np
import sympy as sp

from dmf_edu import dynamics
from dmf_edu.proofs.e06_singular_values import singular_value_velocity_formula, svd_case
from dmf_edu.proofs.symbolic import (Page, Planted, at_point, field_matrix, hadamard, identity_like, random_rational_point)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E7", title="singular-vector ODE under E3 (with complement terms)",
    statement="dU/dt = -U (F o [G~S + SG~^T]) - (I - UU^T) G V (S^2)^{1/2-1/N}, dV/dt = -V (F o [SG~ + G~^T S]) "
              "- (I - VV^T) G^T U (S^2)^{1/2-1/N}, F_rr' = 1/((sigma_r'^2)^{1/N} - (sigma_r^2)^{1/N})",
    method="exact (rational-function field)",
    steps={"S1": "the candidate (dU, dV) keeps U, V orthonormal (U^T dU, V^T dV skew)",
           "S2": "dU S V^T + U dS V^T + U S dV^T = -A_{N,W}(G) (with E6's dS; complement terms needed)",
           "T1": "library: dynamics.singular_vector_velocity equals the exact (dU, dV), rectangular included"})

# (m, n, N, frames): cheap rational-frame cases first, so a wrong variant is rejected fast
# (2, 3, 4): wide W at N >= 3, where (S^2)^{1/2-1/N} != I -- a wrong exponent on V's complement
# term is invisible at N = 2 and on square or tall W (V V^T = I there)
QUICK = [(3, 2, 2, "rational"), (2, 3, 2, "rational"), (3, 3, 2, "rational"), (2, 3, 4, "rational"),
         (2, 2, 2, "symbolic")]
FULL = QUICK + [(3, 2, 3, "rational"), (3, 2, 5, "rational"), (3, 3, 4, "rational"), (2, 2, 3, "symbolic"),
                (3, 2, 2, "symbolic")]


def _F(s, K, sign=-1):
    """``F_rr' = 1/(s_r'^2 - s_r^2)`` (``sign=+1``: the planted ``1/(s_r'^2 + s_r^2)``)."""
    k = len(s)
    return field_matrix(sp.Matrix(k, k, lambda r, q: 0 if r == q else 1 / (s[q] ** 2 + sign * s[r] ** 2)), K)


def singular_vector_velocity_formula(c, complement_scale=1, F_sign=-1, vector_sign=1, U_bracket_sides=True,
                                     V_exponent_sign=1):
    """E7 on an ``svd_case`` ``c``: ``(dU, dV)`` as DomainMatrices (the keywords plant wrong variants;
    ``V_exponent_sign=-1``: ``(S^2)^{1/N - 1/2}`` on V's complement term)."""
    U, V, S, G, K, s, N = c["U"], c["V"], c["S"], c["G"], c["K"], c["s"], c["N"]
    m, n = G.shape
    F, Gt = _F(s, K, F_sign), U.transpose() * G * V
    C = field_matrix(sp.diag(*[x ** (N - 2) for x in s]), K)              # (S^2)^{1/2 - 1/N}
    C_V = C if V_exponent_sign == 1 else field_matrix(sp.diag(*[x ** (2 - N) for x in s]), K)
    scale = lambda M, c_: M.scalarmul(K.convert(c_))  # noqa: E731
    bracket_U = Gt * S + S * Gt.transpose() if U_bracket_sides else S * Gt + Gt.transpose() * S
    dU = scale(U * hadamard(F, bracket_U), -vector_sign) - scale(
        (identity_like(G, m) - U * U.transpose()) * G * V * C, complement_scale)
    dV = scale(V * hadamard(F, S * Gt + Gt.transpose() * S), -vector_sign) - scale(
        (identity_like(G, n) - V * V.transpose()) * G.transpose() * U * C_V, complement_scale)
    return dU, dV


def prove(proof, quick=False, formula=singular_vector_velocity_formula, library=dynamics.singular_vector_velocity):
    """For each case of :data:`QUICK` / :data:`FULL`: S1, S2 exactly, then T1 at a rational point."""
    cases = QUICK if quick else FULL
    proof.sizes("; ".join(f"{m}x{n} N={N}" + (" (rational rotations)" if f == "rational" else "")
                          for m, n, N, f in cases))
    for m, n, N, frames in cases:
        c = svd_case(m, n, N, frames, int(proof.rng.integers(2 ** 31)) if frames == "rational" else 0)
        U, V, S, K = c["U"], c["V"], c["S"], c["K"]
        dU, dV = formula(c)
        proof.zero("S1", U.transpose() * dU + dU.transpose() * U, f"{c['label']}: U^T dU skew")
        proof.zero("S1", V.transpose() * dV + dV.transpose() * V, f"{c['label']}: V^T dV skew")
        Gt = (U.transpose() * c["G"] * V).to_Matrix()
        dS = field_matrix(sp.diag(*singular_value_velocity_formula(N, c["s"], Gt)), K)       # E6
        proof.zero("S2", dU * S * V.transpose() + U * dS * V.transpose() + U * S * dV.transpose() + c["A"],
                   f"{c['label']}: dW from (dU, dS, dV) + A_(N,W)(G)")
        point = random_rational_point(c["symbols"], proof.rng)
        N, s = c["N"], c["s"]
        order = np.argsort(-np.array([at_point(x ** N, point) for x in s]), kind="stable")
        U_exact = at_point(c["U"], point)[:, order]
        U_dot, V_dot, (U_num, _, _) = library(at_point(c["W"], point), at_point(c["G"], point), N, return_svd=True)
        flip = np.sign(np.sum(U_num * U_exact, axis=0))    # the SVD's sign of each pair (u_r, v_r)
        proof.close("T1", U_dot * flip, at_point(dU, point)[:, order], rtol=1e-9,
                    what=f"singular_vector_velocity dU {c['label']}")
        proof.close("T1", V_dot * flip, at_point(dV, point)[:, order], rtol=1e-9,
                    what=f"singular_vector_velocity dV {c['label']}")


def _library_complement_off(scale):
    """``singular_vector_velocity`` with its complement terms multiplied by ``scale`` (a planted bug)."""
    def buggy(W, G, N, return_svd=False):
        U_dot, V_dot, (U, s, V) = dynamics.singular_vector_velocity(W, G, N, return_svd=True)
        c = s ** (1.0 - 2.0 / N)
        U_dot = U_dot - (scale - 1) * (G @ V - U @ (U.T @ G @ V)) * c
        V_dot = V_dot - (scale - 1) * (G.T @ U - V @ (V.T @ G.T @ U)) * c
        return (U_dot, V_dot, (U, s, V)) if return_svd else (U_dot, V_dot)
    return buggy


def _library_V_exponent(W, G, N, return_svd=False):
    """``singular_vector_velocity`` with ``(S^2)^{1/N - 1/2}`` on V's complement term (a planted bug;
    the same as the truth at N = 2 and on square or tall W)."""
    U_dot, V_dot, (U, s, V) = dynamics.singular_vector_velocity(W, G, N, return_svd=True)
    comp = G.T @ U - V @ (V.T @ G.T @ U)
    V_dot = V_dot + comp * s ** (1.0 - 2.0 / N) - comp * s ** (2.0 / N - 1.0)
    return (U_dot, V_dot, (U, s, V)) if return_svd else (U_dot, V_dot)


def _library_F_sign(W, G, N, return_svd=False):
    """``singular_vector_velocity`` with the in-span part's sign flipped (a planted bug)."""
    U_dot, V_dot, (U, s, V) = dynamics.singular_vector_velocity(W, G, N, return_svd=True)
    U_dot, V_dot = U_dot - 2 * U @ (U.T @ U_dot), V_dot - 2 * V @ (V.T @ V_dot)
    return (U_dot, V_dot, (U, s, V)) if return_svd else (U_dot, V_dot)


PLANTED = {
    "F_rr' = 1/(sigma_r'^{2/N} + sigma_r^{2/N}) (symmetric F)": Planted(
        "S1", lambda: dict(formula=lambda c: singular_vector_velocity_formula(c, F_sign=1))),
    "F with the wrong sign": Planted(
        "S2", lambda: dict(formula=lambda c: singular_vector_velocity_formula(c, vector_sign=-1))),
    "S on the wrong side in dU's bracket": Planted(
        "S2", lambda: dict(formula=lambda c: singular_vector_velocity_formula(c, U_bracket_sides=False))),
    "complement terms x1.01": Planted(
        "S2", lambda: dict(formula=lambda c: singular_vector_velocity_formula(
            c, complement_scale=sp.Rational(101, 100)))),
    "complement terms dropped (the square-matrix formula)": Planted(
        "S2", lambda: dict(formula=lambda c: singular_vector_velocity_formula(c, complement_scale=0))),
    "V's complement term with (S^2)^{1/N-1/2} (hidden at N = 2)": Planted(
        "S2", lambda: dict(formula=lambda c: singular_vector_velocity_formula(c, V_exponent_sign=-1))),
    "library: V's complement term with (S^2)^{1/N-1/2}": Planted("T1", lambda: dict(library=_library_V_exponent)),
    "library: complement term x1.01": Planted("T1", lambda: dict(library=_library_complement_off(1.01))),
    "library: in-span part with the wrong sign": Planted("T1", lambda: dict(library=_library_F_sign)),
}


def worked_example():
    """3x2 W = [[2,0],[0,1],[0,0]] (N = 2), G = e_3 e_1^T: only the complement term moves U."""
    W = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    G = np.zeros((3, 2))
    G[2, 0] = 1.0
    U_dot, V_dot = dynamics.singular_vector_velocity(W, G, 2)
    print("W = [[2,0],[0,1],[0,0]], G = e3 e1^T, N = 2")
    print("dU/dt =", U_dot.round(12).tolist(), " (complement: -(I - UU^T) G V (S^2)^0 = -e3 e1^T)")
    print("dV/dt =", V_dot.round(12).tolist())


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
