r"""Checkable exercises of lessons 3 and 4: ``singular_value_velocity`` (E6), ``depth_multiplier``
(E4) and ``effective_rank`` (THEORY.md §0).

Each checker mixes random cases (drawn from the grading seed) with fixed adversarial ones:
tall and wide shapes, depth >= 4, a non-normal square matrix (its eigenvalues' moduli are not
its singular values) and near-low-rank matrices whose small singular values are nonzero.
"""

from __future__ import annotations

import numpy as np

from ..dynamics import check_svd_velocities, singular_value_velocity
from ..linalg import depth_multiplier
from ..metrics import effective_rank
from .checking import Fail, as_array, call, diagnose, exercise

__all__ = ["solution_singular_value_velocity", "solution_depth_multiplier", "solution_effective_rank"]


# --------------------------------------------------------------------------- E6 singular value velocity

def solution_singular_value_velocity(W, G, depth):
    """E6: d sigma_r/dt = -N (sigma_r^2)^{1 - 1/N} <G, u_r v_r^T>, sigma in descending order."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    projection = np.array([U[:, r] @ G @ Vt[r] for r in range(s.size)])    # <G, u_r v_r^T>
    return -depth * (s ** 2) ** (1 - 1 / depth) * projection


_SIGMA_CASES = (("depth 1", (4, 3), 1), ("depth 2", (4, 3), 2), ("depth 3", (3, 5), 3),
                ("depth 6", (4, 4), 6), ("depth 4, tall", (6, 2), 4))


@exercise("singular_value_velocity", 3, "E6", "fn(W, G, depth) -> array",
           "W (m, n) with distinct nonzero singular values, G (m, n) the loss gradient at W, depth N >= 1. "
           "Return d sigma_r/dt under dW/dt = -A_{N,W}(G), shape (min(m, n),), singular values in "
           "descending order (as numpy.linalg.svd).", solution_singular_value_velocity)
def _check_singular_value_velocity(fn, rng, details):
    """E6: finite differences of the SVD along the E3 flow, depths 1-6."""
    for case, shape, N in _SIGMA_CASES:
        k = min(shape)
        U, _ = np.linalg.qr(rng.standard_normal((shape[0], k)))
        V, _ = np.linalg.qr(rng.standard_normal((shape[1], k)))
        s = np.sort(rng.uniform(0.5, 2.0, k))[::-1] + np.arange(k)[::-1] * 0.3   # well separated
        W = (U * s) @ V.T
        G = rng.standard_normal(shape)
        case = f"{case}, W of shape {shape[0]}x{shape[1]}"
        box = {}

        def wrapped(W_, G_, depth_):
            box["got"] = as_array(call(fn, (W_.copy(), G_.copy(), depth_), case),
                                   "the velocity vector", case, (k,))
            return box["got"]
        err = check_svd_velocities(W, G, N, sigma_fn=wrapped)["sigma"]
        details[case] = dict(finite_difference=err)
        if err > 1e-6:
            want = singular_value_velocity(W, G, N)
            s_true = np.linalg.svd(W, compute_uv=False)
            U_, _, Vt_ = np.linalg.svd(W, full_matrices=False)
            proj = np.einsum("ir,ij,rj->r", U_, G, Vt_)
            variants = [("the right velocities in ascending order: return them in the descending "
                         "order of the singular values", want[::-1]),
                        ("-N sigma^{1-1/N} <G, u v^T>: the factor is (sigma^2)^{1-1/N}",
                         -N * s_true ** (1 - 1 / N) * proj),
                        ("-N (sigma^2)^{1/N} <G, u v^T>: the exponent is 1 - 1/N",
                         -N * (s_true ** 2) ** (1 / N) * proj)]
            note = diagnose(box["got"], want, variants, depth=N)
            raise Fail(f"{case}: your velocities miss finite differences of the singular values "
                        f"along dW/dt = -A_{{N,W}}(G) by {err:.2e} (relative; correct ~1e-10)"
                        + (f"; {note}" if note else ""))
    return (f"velocities agree with finite differences of the SVD along the E3 flow (< 1e-6) in "
            f"{len(_SIGMA_CASES)} cases, depths 1-6")


# --------------------------------------------------------------------------- effective rank

def solution_effective_rank(W):
    """Roy & Vetterli: exp(-sum_i p_i log p_i), p_i = sigma_i / sum(sigma), with 0 log 0 = 0."""
    s = np.linalg.svd(W, compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]                             # 0 log 0 = 0
    return float(np.exp(-np.sum(p * np.log(p))))


def _with_singular_values(rng, m, n, s):
    """An ``m x n`` matrix with singular values ``s`` and random singular vectors."""
    U = np.linalg.qr(rng.standard_normal((m, len(s))))[0]
    V = np.linalg.qr(rng.standard_normal((n, len(s))))[0]
    return (U * np.asarray(s, dtype=float)) @ V.T


def _erank_cases(rng):
    u, v = rng.standard_normal(5), rng.standard_normal(7)
    return (("a Gaussian 6x4 matrix", rng.standard_normal((6, 4))),
            ("the 5x5 identity (answer 5)", np.eye(5)),
            ("a rank-one 5x7 matrix (answer 1)", np.outer(u, v)),
            ("diag(3, 1, 0, 0) (exact zero singular values)", np.diag([3.0, 1.0, 0.0, 0.0])),
            ("a wide 3x8 matrix with singular values 4, 2, 1", _with_singular_values(rng, 3, 8, [4, 2, 1])),
            ("a near-low-rank 7x5 matrix, singular values 1, 0.3, 0.01, 0.004, 0.001 (small p_i count)",
             _with_singular_values(rng, 7, 5, [1.0, 0.3, 0.01, 0.004, 0.001])),
            ("a 6x4 matrix with singular values 1, 0.5, 0.1, 0.08 (p_i from 0.59 down to 0.048)",
             _with_singular_values(rng, 6, 4, [1.0, 0.5, 0.1, 0.08])),
            ("the non-normal square matrix [[1, 4, 0], [0, 1, 4], [0, 0, 1]] (eigenvalues 1, 1, 1; "
             "singular values are not |eigenvalues|)", np.array([[1.0, 4, 0], [0, 1, 4], [0, 0, 1]])),
            ("a random non-normal 4x4 matrix", rng.standard_normal((4, 4)) + np.diag([3.0, 0, 0], 1)))


@exercise("effective_rank", 4, "THEORY §0", "fn(W) -> float",
           "W (m, n), not zero. Return the effective rank exp(-sum_i p_i log p_i) with "
           "p_i = sigma_i / sum_k sigma_k (Roy & Vetterli 2007; 0 log 0 = 0).", solution_effective_rank)
def _check_effective_rank(fn, rng, details):
    """Effective rank on five matrices, with hints for the usual look-alikes."""
    for case, W in _erank_cases(rng):
        got = as_array(call(fn, (W.copy(),), case), "the effective rank", case, ())
        want = float(effective_rank(W))
        details[case] = dict(got=float(got), want=want)
        if abs(got - want) > 1e-8 * want:
            s = np.linalg.svd(W, compute_uv=False)

            def entropy(p):
                p = p[p > 0]
                return float(-np.sum(p * np.log(p)))
            variants = [("the Shannon entropy of p; the effective rank is its exponential",
                         entropy(s / s.sum())),
                        ("the stable rank ||W||_F^2 / ||W||_2^2, not the effective rank",
                         float(np.sum(s ** 2) / s[0] ** 2)),
                        ("exp(entropy) with p_i = sigma_i^2 / sum sigma^2: normalise the singular "
                         "values, not their squares", float(np.exp(entropy(s ** 2 / np.sum(s ** 2))))),
                        ("exp of the entropy in bits (log2); use the natural logarithm",
                         float(np.exp(entropy(s / s.sum()) / np.log(2)))),
                        ("the numerical rank (a count of nonzero singular values)",
                         float(np.sum(s > 1e-10 * s[0])))]
            if W.shape[0] == W.shape[1]:
                lam = np.abs(np.linalg.eigvals(W))
                variants.insert(0, ("exp(entropy) of |eigenvalues|: for a non-normal square matrix these are "
                                 "not the singular values; use numpy.linalg.svd",
                                 float(np.exp(entropy(lam / lam.sum())))))
            note = next((f"hint: your result equals {t}" for t, v in variants
                         if abs(float(got) - v) <= 1e-8 * max(abs(v), 1e-300)), "")
            raise Fail(f"{case}: you return {float(got):.10g}, the effective rank is {want:.10g}"
                        + (f"; {note}" if note else ""))
    return ("right on 9 matrices (Gaussian, identity, rank one, exact zeros, wide, near-low-rank, "
            "non-normal square)")


# --------------------------------------------------------------------------- E4/E5 multiplier

def solution_depth_multiplier(x, y, depth):
    """E4: a_N(x, y) = sum_{p=1}^N x^{2(N-p)/N} y^{2(p-1)/N} (the finite sum: no 0/0 when x = y)."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    N = depth
    return sum(x ** (2 * (N - p) / N) * y ** (2 * (p - 1) / N) for p in range(1, N + 1))


@exercise("depth_multiplier", 3, "E4", "fn(x, y, depth) -> array",
           "x, y arrays of singular values >= 0 (same shape), depth N >= 1. Return a_N(x, y) = "
           "sum_{p=1}^N x^{2(N-p)/N} y^{2(p-1)/N} elementwise; it must stay finite and exact when "
           "x = y and when x or y is 0 (0^0 = 1).", solution_depth_multiplier)
def _check_depth_multiplier(fn, rng, details):
    """E4: a_N at generic, equal, nearly equal and zero arguments, depths 1, 2, 3, 7."""
    x = np.concatenate([rng.uniform(0.1, 3.0, 6), [1.5, 2.0, 0.7, 0.0, 0.0, 1.0]])
    y = np.concatenate([rng.uniform(0.1, 3.0, 6), [1.5, 2.0 * (1 + 1e-9), 0.0, 0.9, 0.0, 1.0]])
    kinds = ["x != y"] * 6 + ["x = y", "x ~ y (relative gap 1e-9)", "y = 0", "x = 0", "x = y = 0", "x = y = 1"]
    for N in (1, 2, 3, 7):
        case = f"depth {N}"
        got = call(fn, (x.copy(), y.copy(), N), case)
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise Fail(f"{case}: return an array of numbers, got {type(got).__name__}") from None
        if got.shape != x.shape:
            raise Fail(f"{case}: result has shape {got.shape} for inputs of shape {x.shape}; work elementwise")
        want = depth_multiplier(x, y, N)
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
        err = np.where(np.isnan(got), np.inf, err)
        details[case] = dict(max_relative_error=float(np.max(err)))
        worst = int(np.argmax(err))
        if err[worst] > 1e-9:
            what = ("NaN" if np.isnan(got[worst]) else f"{got[worst]:.12g}")
            note = ""
            if kinds[worst] in ("x = y", "x ~ y (relative gap 1e-9)", "x = y = 1"):
                note = ("; the closed form (x^2 - y^2)/(x^{2/N} - y^{2/N}) is 0/0 or loses all digits "
                        "there: use the finite sum (or N x^{2(N-1)/N} at x = y)")
            elif "0" in kinds[worst]:
                note = "; remember 0^0 = 1 (a_N(x, 0) = x^{2(N-1)/N}, a_N(0, 0) = 0 for N >= 2, a_1 = 1)"
            raise Fail(f"{case}, {kinds[worst]} (x = {x[worst]:.12g}, y = {y[worst]:.12g}): you return "
                        f"{what}, a_N is {want[worst]:.12g} (relative error {err[worst]:.1e})" + note)
    return "a_N is right to 1e-9 for depths 1, 2, 3, 7 at generic, equal, nearly equal and zero arguments"
