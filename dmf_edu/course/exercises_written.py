r"""Exercises that were written-only and are now checkable: 1.2 ``two_layer_gradients``, 2.2
``decayed_balancedness``, 6.1 ``log_mean_limit`` and 7.3 ``origin_hessian_eigenvalues``.

Each keeps its written part (a derivation, asked for in the lesson and answered in the worked
solution); the function is the number or array the derivation ends with, so the checker can
judge the result.  Every checker compares with an independent computation (quadrature,
an explicit Hessian matrix, the general E1 formula), not with the reference solution.
"""

from __future__ import annotations

import numpy as np

from ..factorization import layer_gradients
from .checking import Fail, as_array, call, diagnose, exercise, rel

__all__ = ["solution_two_layer_gradients", "solution_decayed_balancedness", "solution_log_mean_limit",
           "solution_origin_hessian_eigenvalues"]


def solution_two_layer_gradients(W1, W2, G):
    """1.2: for W = W_2 W_1, dphi/dW_1 = W_2^T G and dphi/dW_2 = G W_1^T."""
    return [W2.T @ G, G @ W1.T]


@exercise("two_layer_gradients", 1, "E1, N = 2", "fn(W1, W2, G) -> [array, array]",
          "W1 (k, n), W2 (m, k), G (m, n) the gradient of ell at W = W2 W1. Return "
          "[dphi/dW1, dphi/dW2] for phi = ell(W2 W1), of the shapes of W1 and W2.",
          solution_two_layer_gradients)
def _check_two_layer_gradients(fn, rng, details):
    """Against E1 at tall, wide, equal-width and square shapes."""
    for m, k, n in ((4, 3, 5), (5, 2, 3), (3, 3, 3), (2, 6, 4)):
        case = f"W1 of shape {k}x{n}, W2 of shape {m}x{k}"
        W1, W2, G = rng.standard_normal((k, n)), rng.standard_normal((m, k)), rng.standard_normal((m, n))
        got = call(fn, (W1.copy(), W2.copy(), G.copy()), case)
        if isinstance(got, np.ndarray) or not hasattr(got, "__len__") or len(got) != 2:
            raise Fail(f"{case}: return a list [dphi/dW1, dphi/dW2] of two arrays")
        want = layer_gradients([W1, W2], G)
        for j, (g, w, W) in enumerate(zip(got, want, (W1, W2))):
            g = as_array(g, f"dphi/dW{j + 1}", case, W.shape)
            err = rel(g, w)
            details[f"{case}, W{j + 1}"] = err
            if err > 1e-10:
                other = want[1 - j] if want[1 - j].shape == g.shape else None
                note = diagnose(g, w, [("the other layer's gradient: return [dphi/dW1, dphi/dW2]", other),
                                       ("the transpose of the right gradient", w.T if w.T.shape == g.shape else None)])
                raise Fail(f"{case}: dphi/dW{j + 1} is off by {err:.1e} (relative); E1 with N = 2 gives "
                           "W2^T G for W1 and G W1^T for W2" + (f"; {note}" if note else ""))
    return "both gradients right at tall, wide, equal-width and square shapes"


def solution_decayed_balancedness(D0, lam, t):
    """2.2: D_j(t) = exp(-2 lam t) D_j(0) under dW_j/dt = -dphi/dW_j - lam W_j."""
    return np.exp(-2.0 * lam * t) * np.asarray(D0, dtype=float)


@exercise("decayed_balancedness", 2, "E2 + weight decay", "fn(D0, lam, t) -> array",
          "D0 (d, d) the balancedness residual D_j = W_{j+1}^T W_{j+1} - W_j W_j^T at time 0, lam >= 0 the "
          "weight decay, t >= 0. Return D_j(t) under dW_j/dt = -dphi/dW_j - lam W_j (solve the ODE you derive).",
          solution_decayed_balancedness)
def _check_decayed_balancedness(fn, rng, details):
    """Against the ODE dD/dt = -2 lam D integrated by small Euler steps (independent of the closed form)."""
    for lam, t, d in ((0.3, 2.0, 3), (0.0, 1.5, 2), (1.2, 0.7, 4)):
        case = f"lam = {lam:g}, t = {t:g}, D0 of shape {d}x{d}"
        A = rng.standard_normal((d, d))
        D0 = A + A.T
        got = as_array(call(fn, (D0.copy(), lam, t), case), "D(t)", case, (d, d))
        steps = 20000
        want = D0 * (1 - 2 * lam * t / steps) ** steps          # Euler: error O(1/steps)
        err = rel(got, want)
        details[case] = err
        if err > 1e-3:
            note = diagnose(got, want, [("exp(-lam t) D0: the decay rate of D is 2 lam (one lam from each "
                                         "side of W^T W)", np.exp(-lam * t) * D0),
                                        ("exp(+2 lam t) D0: weight decay shrinks D", np.exp(2 * lam * t) * D0)])
            raise Fail(f"{case}: D(t) is off by {err:.1e} (relative)" + (f"; {note}" if note else ""))
    return "right for three decays, zero decay included"


def solution_log_mean_limit(x, y):
    """6.1: int_0^1 (x^2)^(1-s) (y^2)^s ds = (x^2 - y^2) / (ln x^2 - ln y^2), x^2 on x = y, 0 if x or y is 0."""
    a, b = np.broadcast_arrays(np.asarray(x, float) ** 2, np.asarray(y, float) ** 2)
    out = np.zeros(a.shape)
    both = (a > 0) & (b > 0)
    same = both & np.isclose(a, b, rtol=1e-12, atol=0)
    diff = both & ~same
    out[same] = a[same]
    out[diff] = (a[diff] - b[diff]) / np.log(a[diff] / b[diff])
    return out


@exercise("log_mean_limit", 6, "E5", "fn(x, y) -> array",
          "x, y arrays of singular values >= 0 (same shape). Return lim (1/N) a_N(x, y) = "
          "int_0^1 (x^2)^(1-s) (y^2)^s ds elementwise: finite on x = y and at zeros.",
          solution_log_mean_limit)
def _check_log_mean_limit(fn, rng, details):
    """Against Gauss-Legendre quadrature of the integral, at generic, equal, near-equal and zero arguments."""
    x = np.concatenate([rng.uniform(0.1, 3, 5), [1.5, 2.0, 0.0, 0.7, 0.0]])
    y = np.concatenate([rng.uniform(0.1, 3, 5), [1.5, 2.0 * (1 + 1e-10), 0.8, 0.0, 0.0]])
    kinds = ["x != y"] * 5 + ["x = y", "x ~ y", "x = 0", "y = 0", "x = y = 0"]
    got = call(fn, (x.copy(), y.copy()), "10 pairs (x, y)")
    got = as_array(got, "the limits", "10 pairs (x, y)", x.shape) if not np.isnan(
        np.asarray(got, dtype=float)).any() else np.asarray(got, dtype=float)
    nodes, weights = np.polynomial.legendre.leggauss(80)
    s = (nodes + 1) / 2
    want = np.array([np.sum(weights / 2 * (a * a) ** (1 - s) * (b * b) ** s) for a, b in zip(x, y)])
    err = np.where(np.isnan(got), np.inf, np.abs(got - want) / np.maximum(want, 1e-300))
    details["max_relative_error"] = float(np.max(err))
    worst = int(np.argmax(err))
    if err[worst] > 1e-8:
        note = ""
        if kinds[worst] in ("x = y", "x ~ y"):
            note = "; (x^2 - y^2)/ln(x^2/y^2) is 0/0 there: its limit is x^2"
        elif "0" in kinds[worst]:
            note = "; the integrand vanishes for all s in (0, 1) when x or y is 0"
        elif abs(got[worst] - (x[worst] - y[worst]) / np.log(x[worst] / y[worst])) < 1e-9:
            note = "; hint: that is the logarithmic mean of x and y, not of x^2 and y^2"
        raise Fail(f"{kinds[worst]} (x = {x[worst]:.12g}, y = {y[worst]:.12g}): you return {got[worst]:.12g}, "
                   f"the integral is {want[worst]:.12g}" + note)
    return "right to 1e-8 at generic, equal, nearly equal and zero arguments"


def solution_origin_hessian_eigenvalues(G, width):
    """7.3: at W_1 = 0, W_2 = 0 the Hessian's quadratic form is 2 <G, V_2 V_1>: eigenvalues +-sigma_i(G),
    each `width` times, the rest 0; ascending."""
    s = np.linalg.svd(G, compute_uv=False)
    m, n = G.shape
    vals = np.concatenate([np.repeat(s, width), -np.repeat(s, width), np.zeros(width * (m + n - 2 * s.size))])
    return np.sort(vals)


@exercise("origin_hessian_eigenvalues", 7, "E17 at 0", "fn(G, width) -> array",
          "G (m, n) the gradient of ell at W = 0, width k the hidden width of a depth-2 factorization "
          "W = W_2 W_1 (W_1 (k, n), W_2 (m, k)). Return all k (m + n) eigenvalues of the Hessian of "
          "phi = ell(W_2 W_1) at W_1 = 0, W_2 = 0, in ascending order.", solution_origin_hessian_eigenvalues)
def _check_origin_hessian_eigenvalues(fn, rng, details):
    """Against the eigenvalues of the explicit Hessian matrix of (W_1, W_2) -> <G, W_2 W_1>."""
    for (m, n), k in (((3, 2), 2), ((2, 4), 3), ((3, 3), 1)):
        case = f"G of shape {m}x{n}, hidden width {k}"
        G = rng.standard_normal((m, n))
        got = as_array(call(fn, (G.copy(), k), case), "the eigenvalues", case, (k * (m + n),))
        B = np.einsum("ij,lq->iljq", G, np.eye(k)).reshape(m * k, k * n)   # d^2/dW2 dW1 of <G, W2 W1>
        H = np.block([[np.zeros((k * n, k * n)), B.T], [B, np.zeros((m * k, m * k))]])
        want = np.linalg.eigvalsh(H)
        err = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
        details[case] = err
        if err > 1e-9:
            note = ""
            if np.allclose(np.sort(got)[::-1], got) and not np.allclose(got, np.sort(got)):
                note = "; hint: return them in ascending order"
            elif abs(np.sum(np.abs(got)) - 2 * np.sum(np.abs(want))) < 1e-9 * np.sum(np.abs(want)):
                note = "; hint: your eigenvalues are twice the right ones: the Hessian, not the second-order term"
            raise Fail(f"{case}: your eigenvalues are off by {err:.1e} (relative to the largest)" + note)
    return "right for three shapes and hidden widths (eigenvalues +-sigma_i(G), each width times, and zeros)"
