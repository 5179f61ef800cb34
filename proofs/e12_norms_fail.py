r"""E12 — a 2x2 completion where every Schatten (quasi-)norm points the wrong way.

Statement (THEORY.md E12)
-------------------------
Observed ``W_12 = W_21 = 1``, ``W_22 = 0``; every zero-loss solution is ``W(w) = [[w, 1], [1, 0]]``.
Then ``det W = -1``, ``sigma_max sigma_min = 1``, ``||W||_* = sqrt(w^2 + 4)``,
``||W||_F^2 = w^2 + 2``, and for every ``p > 0`` (and ``p = oo``) ``sum_i sigma_i^p`` is strictly
increasing in ``|w|``: the unique Schatten-p minimiser is ``w = 0``.

Construction.  ``w`` a real symbol.  The characteristic polynomial of ``W^T W`` is ``l^2 - (w^2 + 2) l + 1``;
it depends on ``w^2`` only (even in ``w``), so take ``w > 0``: ``sigma_max = (sqrt(w^2+4) + w)/2``,
``sigma_min = (sqrt(w^2+4) - w)/2``.

Scope: a complete proof for all real ``w`` and all ``p in (0, oo]``.  It is the static half of
the counterexample: the dynamic half (gradient flow with N >= 3 from a balanced init with
``det > 0`` drives ``|w| -> oo``) is a numerical experiment (X5), not proved here.

Steps
-----
S1  ``det W = -1``; the characteristic polynomial of ``W^T W`` is ``l^2 - (w^2 + 2) l + 1``, even in ``w``.
S2  For ``w > 0``: ``sigma_max, sigma_min = (sqrt(w^2+4) +- w)/2`` are its roots' square roots,
    ``sigma_max sigma_min = 1``, ``||W||_* = sqrt(w^2 + 4)``, ``||W||_F^2 = w^2 + 2``.
S3  With ``S = sigma_max`` (so ``sum sigma^p = S^p + S^{-p}``):
    ``d/dw (S^p + S^{-p}) = p S' S^{-p-1} (S^{2p} - 1)``.
S4  Each factor is positive for ``w > 0``, ``p > 0`` (sympy's assumptions): ``S' > 0``;
    ``S - 1 = (w + w^2/(sqrt(w^2+4) + 2))/2 > 0`` (an identity, then a sum of positive terms);
    ``2p log S > 0``, i.e. ``S^{2p} > 1``.  So the unique Schatten-p minimiser is ``w = 0``
    (``p = oo``: ``S' > 0``).
T1  Library: ``metrics.schatten_norm`` (p = 1/2, 2/3, 1, 2, 3, oo) at a rational ``w``.
T2  Library: ``metrics.nuclear_norm`` at a rational ``w`` equals ``sqrt(w^2 + 4)``; T1, T2 also at
    exact rational matrices 2x2, 3x2, 2x3 (full: 5x2, 2x4 too), non-symmetric and non-normal,
    each also of rank one (a zero singular value).
T3  Library: ``metrics.singular_values`` at the same matrices equals the exact singular values
    (square roots of the roots of the Gram matrix's characteristic polynomial).
"""

import numpy as np
import sympy as sp

from dmf_edu import metrics
from dmf_edu.proofs.symbolic import (Page, Planted, exact_singular_values, matrix_grid, power_simplify,
                                     random_rational_point, rational_matrix, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E12", title="2x2 completion where every norm fails",
    statement="on [[w,1],[1,0]]: det = -1, sigma_max sigma_min = 1, ||.||_* = sqrt(w^2+4), ||.||_F^2 = w^2+2, "
              "and d/dw sum sigma^p > 0 for w > 0, every p > 0 (also p = oo): the Schatten-p minimiser is w = 0",
    method="exact + sign analysis",
    steps={"S1": "det W = -1, charpoly of W^T W = l^2 - (w^2+2) l + 1, even in w",
           "S2": "sigma = (sqrt(w^2+4) +- w)/2: product 1, sum sqrt(w^2+4), squares w^2+2",
           "S3": "d/dw (S^p + S^-p) = p S' S^(-p-1) (S^(2p) - 1)",
           "S4": "every factor of the derivative is positive for w > 0, p > 0",
           "T1": "library: metrics.schatten_norm at a rational w (p = 1/2 ... oo)",
           "T2": "library: metrics.nuclear_norm at a rational w and at rational matrices of every shape",
           "T3": "library: metrics.singular_values at non-symmetric, non-normal rational matrices (square, "
                 "tall, wide, with and without a zero singular value)"})


def singular_values(w):
    """Singular values of ``[[w, 1], [1, 0]]`` for ``w >= 0``: ``((sqrt(w^2+4) +- w)/2)``."""
    r = sp.sqrt(w ** 2 + 4)
    return (r + w) / 2, (r - w) / 2


def derivative_form(p, S, dS):
    """The claimed factorisation of ``d/dw (S^p + S^{-p})``."""
    return p * dS * S ** (-p - 1) * (S ** (2 * p) - 1)


def prove(proof, quick=False, charpoly=lambda lam, w: lam ** 2 - (w ** 2 + 2) * lam + 1,
          nuclear=lambda w: sp.sqrt(w ** 2 + 4), product=1, derivative=derivative_form,
          excess=lambda w: (w + w ** 2 / (sp.sqrt(w ** 2 + 4) + 2)) / 2,
          library=metrics.schatten_norm, nuclear_library=metrics.nuclear_norm, sv_library=metrics.singular_values):
    """S1-S4 exactly for symbolic w, p; T1, T2 at a rational w."""
    w, lam, p = sp.Symbol("w", real=True), sp.Symbol("lambda"), sp.Symbol("p", positive=True)
    W = sp.Matrix([[w, 1], [1, 0]])
    proof.zero("S1", W.det() + 1, "det W = -1")
    char = (W.T * W).charpoly(lam).as_expr()
    proof.zero("S1", char - charpoly(lam, w), "charpoly of W^T W")
    proof.zero("S1", char - char.subs(w, -w), "singular values depend on w^2 only (even in w)")
    wp = sp.Symbol("w", positive=True)               # w > 0 (w = 0 by continuity, w < 0 by evenness)
    s1, s2 = singular_values(wp)
    for sig in (s1, s2):
        proof.zero("S2", char.subs(w, wp).subs(lam, sig ** 2), "sigma^2 is an eigenvalue of W^T W",
                   simplifier=sp.simplify)
    proof.zero("S2", sp.expand(s1 * s2) - product, "sigma_max sigma_min = 1")
    proof.zero("S2", s1 + s2 - nuclear(wp), "nuclear norm = sqrt(w^2 + 4)", simplifier=sp.simplify)
    proof.zero("S2", sp.expand(s1 ** 2 + s2 ** 2) - (wp ** 2 + 2), "||W||_F^2 = w^2 + 2")
    S = sp.Function("S")(wp)
    proof.zero("S3", sp.diff(S ** p + S ** (-p), wp) - derivative(p, S, sp.diff(S, wp)), "d/dw (S^p + S^-p)",
               simplifier=power_simplify)
    delta = excess(wp)
    proof.zero("S4", s1 - 1 - delta, "sigma_max - 1 = (w + w^2/(sqrt(w^2+4)+2))/2", simplifier=sp.simplify)
    d = sp.Symbol("delta", positive=True)
    proof.holds("S4", sp.diff(s1, wp).is_positive, "dS/dw > 0")
    proof.holds("S4", delta.is_positive, "sigma_max - 1 > 0")
    proof.holds("S4", (2 * p * sp.log(1 + d)).is_positive, "log sigma_max^(2p) > 0, so S^(2p) > 1")
    proof.sizes("symbolic w, p > 0")
    pt = random_rational_point([wp], proof.rng)
    Wn = np.array([[float(pt[wp]), 1.0], [1.0, 0.0]])
    x1, x2 = (e.xreplace(pt) for e in (s1, s2))
    for pp in (sp.Rational(1, 2), sp.Rational(2, 3), 1, 2, 3):
        proof.close("T1", library(Wn, float(pp)), (x1 ** pp + x2 ** pp) ** (1 / sp.S(pp)), rtol=1e-12,
                    what=f"schatten_norm p={pp}")
    proof.close("T1", library(Wn, np.inf), x1, rtol=1e-12, what="schatten_norm p=inf")
    proof.close("T2", nuclear_library(Wn), sp.sqrt(pt[wp] ** 2 + 4), rtol=1e-12, what="nuclear_norm")
    tie_norms(proof, quick, library, nuclear_library, sv_library)


def tie_norms(proof, quick, schatten, nuclear, values):
    """T1-T3 at exact rational matrices of every shape (square, tall, wide; non-symmetric and
    non-normal), each also with a zero singular value (rank one)."""
    cases = [(m, n, rank) for m, n in matrix_grid(quick) for rank in (None, 1)]
    proof.sizes("tie-in " + ", ".join(f"{m}x{n}{' rank 1' if r else ''}" for m, n, r in cases))
    for m, n, rank in cases:
        M = rational_matrix(m, n, proof.rng, rank=rank)
        sig = exact_singular_values(M)
        Mf, what = to_float_array(M), f"{m}x{n}{' rank 1' if rank else ''}"
        top = float(sp.N(sig[0], 30))
        proof.close("T3", values(Mf), np.array([float(sp.N(x, 30)) for x in sig]),
                    rtol=1e-12, what=f"singular_values {what}")
        proof.close("T2", nuclear(Mf), sum(sig), rtol=1e-12, what=f"nuclear_norm {what}")
        for pp in ((1, 2, 3) if rank else (sp.Rational(1, 2), 1, 2, 3)):   # p < 1 amplifies a rounding-level sigma
            exact = sum(x ** pp for x in sig if x != 0) ** (1 / sp.S(pp))
            proof.close("T1", schatten(Mf, float(pp)), exact, rtol=1e-12, what=f"schatten_norm p={pp} {what}")
        proof.close("T1", schatten(Mf, np.inf), top, rtol=1e-12, what=f"schatten_norm p=inf {what}")


def _abs_eigenvalues(W):
    if W.shape[-1] == W.shape[-2]:
        return np.sort(np.abs(np.linalg.eigvals(W)))[::-1]
    return metrics.singular_values(W)


PLANTED = {
    "charpoly with constant term -1 (det instead of det^2)": Planted(
        "S1", lambda: dict(charpoly=lambda lam, w: lam ** 2 - (w ** 2 + 2) * lam - 1)),
    "nuclear norm sqrt(w^2+2)": Planted("S2", lambda: dict(nuclear=lambda w: sp.sqrt(w ** 2 + 2))),
    "sigma_max sigma_min = det": Planted("S2", lambda: dict(product=-1)),
    "derivative factor sigma^(-p) (wrong exponent)": Planted(
        "S3", lambda: dict(derivative=lambda p, S, dS: p * dS * S ** (-p) * (S ** (2 * p) - 1))),
    "sigma_max - 1 = (w - w^2/(sqrt(w^2+4)+2))/2": Planted(
        "S4", lambda: dict(excess=lambda w: (w - w ** 2 / (sp.sqrt(w ** 2 + 4) + 2)) / 2)),
    "library: Schatten-p without the 1/p power": Planted(
        "T1", lambda: dict(library=lambda W, p: metrics.schatten_norm(W, p) ** (p if np.isfinite(p) else 1))),
    "library: singular values as |eigenvalues| for square W": Planted(
        "T3", lambda: dict(sv_library=_abs_eigenvalues)),
    "library: nuclear_norm x1.01": Planted(
        "T2", lambda: dict(nuclear_library=lambda W: 1.01 * metrics.nuclear_norm(W))),
}


def worked_example():
    """The singular values of [[w, 1], [1, 0]] and sum sigma^p at p = 1/2 for a few w."""
    w = sp.Symbol("w", positive=True)
    s1, s2 = singular_values(w)
    print("sigma_max, sigma_min:", s1, ",", s2, "  product:", sp.expand(s1 * s2))
    for value in (0, 1, 2, 4):
        f = (s1 ** sp.Rational(1, 2) + s2 ** sp.Rational(1, 2)).subs(w, value)
        print(f"w = {value}: sum sigma^(1/2) = {float(f):.6f}")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
