r"""E9 — commuting measurements: one E10 mode per eigenvector, and the alpha -> 0 limit.

Statement (THEORY.md E9)
------------------------
Let ``A_k = Q diag(a_k) Q^T`` (symmetric, commuting; ``M`` the ``K x d`` matrix of rows ``a_k``),
``l(W) = 1/2 sum_k (<A_k, W> - y_k)^2``, balanced start ``W_j(0) = alpha I``, depth ``N >= 2``.

(a) Reduction.  Under E3 the end-to-end matrix stays ``W = Q diag(x) Q^T``, ``x >= 0``, with
    ``dx_i/dt = -N x_i^{2-2/N} g_i``, ``g = M^T r``, ``r_k = a_k . x - y_k``; with one measurement
    per eigenvector (``A_i = q_i q_i^T``, ``y_i = s_i``) this is E10's one-mode flow
    ``dx_i/dt = N x_i^{2-2/N}(s_i - x_i)``, ``x_i(0) = alpha^N``, mode by mode.
(b) Integral form.  With ``nu(t) = -int_0^t r`` and ``z = M^T nu``:
    ``x_i = alpha^2 e^{2 z_i}`` (N = 2) and ``x_i = (alpha^{2-N} - (N-2) z_i)^{-N/(N-2)}`` (N >= 3).
(c) The alpha -> 0 limit.  ``mu = (N-2) alpha^{N-2} nu`` (N >= 3) satisfies, exactly,
    ``1 - (M^T mu)_i = alpha^{N-2} x_i^{-(N-2)/N} > 0`` -- so ``S = sum_k mu_k A_k <= I`` -- and
    ``1^T x - (M x)^T mu = alpha^{N-2} sum_i x_i^{2/N}``.  At a global minimum (``M x = y``) this is
    the duality gap of ``min tr X`` over PSD ``X`` with ``A(X) = y``: weak duality
    (``tr X' - y^T mu = <X', I - S> >= 0``) puts ``tr W`` within ``alpha^{N-2} sum x_i^{2/N}`` of the
    minimum trace, which tends to 0 when ``x`` stays bounded as ``alpha -> 0``.  N = 2:
    ``mu = 2 nu / log(1/alpha^2)`` gives ``1 - (M^T mu)_i = -log(x_i)/log(1/alpha^2)`` and gap
    ``-sum x_i log x_i / log(1/alpha^2)``: violation and gap are ``O(1/log(1/alpha))``.
So the limit (when the flow converges to a global minimum with bounded ``x``) is a
minimum-trace PSD solution -- the minimum nuclear norm among PSD matrices, as ``W`` stays PSD.

Scope.  (a) exactly at 2x2 with a symbolic rotation ``Q = R(t)``, symbolic ``s, g`` and N = 2, 3, 4
(full run also 5); the per-mode law for symbolic N.  (b), (c) for symbolic ``N = 2 + q > 2``,
``alpha``, ``z`` (a symbolic function of t) and for N = 2.  Assumed, not proved: that the flow
converges to a global minimum and that ``x`` stays bounded as ``alpha -> 0`` (the hypotheses of
THEORY E9).  Not covered: the minimum nuclear norm over non-PSD matrices (it needs
``|M^T mu| <= 1``, which this certificate does not give), non-commuting measurements (X4's foil).

Steps
-----
S1  At ``W = Q diag(s^N) Q^T``, ``G = Q diag(g) Q^T``: ``A_{N,W}(G) = Q diag(N s^{2N-2} g) Q^T`` (E3's
    sum), so the flow stays diagonal in ``Q`` with ``dx_i/dt = -N x_i^{2-2/N} g_i``.
S2  One measurement per eigenvector: ``g_i = x_i - s_i`` and the mode law is E10's, for symbolic N;
    rescaled by ``1/N``, it tends to ``x^2 (s - x)`` as ``N -> oo`` (E10's N = inf flow).
S3  The integral form (b) solves ``dx_i/dt = N x_i^{2-2/N} z_i'(t)`` with ``x_i(0) = alpha^N``.
S4  The certificate identities of (c) (N > 2 symbolic, and N = 2), and the gap bound tends to 0.
S5  Weak duality over PSD matrices: ``<L L^T, Q diag(d) Q^T> = sum_i d_i ||L^T q_i||^2 >= 0`` for ``d >= 0``.
T1  library: ``dynamics.scalar_velocity(x, s, N)`` equals the mode velocities of the matrix flow
    ``-A_{N,W}(G)`` at a rational point (N = 1, 2, 3, 4 and the rescaled N = inf).
T2  library: ``baselines.nuclear_norm_minimization(psd=True)`` (the minimum-trace baseline of X4)
    returns the exact LP optimum on a commuting sensing instance and a 2x2 completion.
"""

import functools

import numpy as np
import sympy as sp

from dmf_edu import dynamics
from dmf_edu.baselines import nuclear_norm as nn
from dmf_edu.problems import MatrixCompletion, MatrixSensing
from dmf_edu.proofs.e03_end_to_end_dynamics import end_to_end_operator_formula
from dmf_edu.proofs.symbolic import (Page, Planted, field_matrix, function_field, power_simplify, rotation,
                                     to_float_array)
from dmf_edu.proofs.runner import run_page

_limit = functools.lru_cache(maxsize=64)(sp.limit)

PAGE = Page(
    label="E9", title="commuting measurements: E10 per mode, alpha -> 0 = min trace",
    statement="A_k = Q diag(a_k) Q^T, W_j(0) = alpha I: W = Q diag(x) Q^T with dx_i/dt = -N x_i^{2-2/N} (M^T r)_i "
              "(E10 per mode); x = h_alpha(M^T nu) and mu = (N-2) alpha^{N-2} nu certifies tr W - min tr "
              "<= alpha^{N-2} sum x^{2/N} -> 0",
    method="exact (sympy identities, assumptions, limits) + exact LP optimum",
    steps={
        "S1": "A_{N,W}(Q diag(g) Q^T) = Q diag(N s^{2N-2} g) Q^T at W = Q diag(s^N) Q^T: the flow stays diagonal",
        "S2": "one measurement per eigenvector: E10's mode law (symbolic N), N = inf rescaled x^2 (s - x)",
        "S3": "x = alpha^2 e^{2z} (N = 2), (alpha^{2-N} - (N-2) z)^{-N/(N-2)} (N > 2) solve the mode flow",
        "S4": "1 - M^T mu = alpha^{N-2} x^{-(N-2)/N}, gap = alpha^{N-2} sum x^{2/N} -> 0 (N = 2: O(1/log))",
        "S5": "<L L^T, Q diag(d) Q^T> = sum d_i ||L^T q_i||^2 (weak duality over PSD matrices)",
        "T1": "library: dynamics.scalar_velocity = the matrix flow's mode velocities (N = 1, 2, 3, 4, inf)",
        "T2": "library: nuclear_norm_minimization(psd=True) = the exact minimum-trace (LP) optimum",
    })


# --------------------------------------------------------------------------- the claims

def mode_law(x, g, N):
    """(a): ``dx/dt = -N x^{2-2/N} g`` (``x = s^N``: ``-N s^{2N-2} g``)."""
    return -N * x ** (2 - sp.Rational(2, 1) / N) * g


def integral_form(z, alpha, N):
    """(b): ``x`` as a function of ``z = M^T nu``."""
    if N == 2:
        return alpha ** 2 * sp.exp(2 * z)
    return (alpha ** (2 - N) - (N - 2) * z) ** (-sp.S(N) / (N - 2))


def infinite_law(x, y):
    """The rescaled ``N = inf`` mode law of E10: ``x^2 (y - x)``."""
    return x ** 2 * (y - x)


def psd_pairing(L, Q, d):
    """S5: ``<L L^T, Q diag(d) Q^T> = sum_i d_i ||L^T q_i||^2``."""
    return sum(d[i] * ((L.T * Q[:, i]).T * (L.T * Q[:, i]))[0] for i in range(len(d)))


def dual_scale(alpha, N):
    """(c): ``mu = scale * nu``: ``(N-2) alpha^{N-2}`` (N > 2), ``2/log(1/alpha^2)`` (N = 2)."""
    return 2 / sp.log(1 / alpha ** 2) if N == 2 else (N - 2) * alpha ** (N - 2)


# --------------------------------------------------------------------------- the proof

@functools.lru_cache(maxsize=8)
def diagonal_operator(N, t, s, g):
    """E3's sum at ``W = Q diag(s^N) Q^T``, ``G = Q diag(g) Q^T``, ``Q = R(t)``, exact in ``QQ(t, s, g)``
    (memoised: the planted variants reuse it); returns ``(A, Q, K)``."""
    K = function_field([t, *s, *g])
    Q, D = field_matrix(rotation(t), K), field_matrix(sp.diag(*[x ** 2 for x in s]), K)
    return end_to_end_operator_formula(Q, D, Q, D, N, Q * field_matrix(sp.diag(*g), K) * Q.transpose()), Q, K


def prove(proof, quick=False, law=mode_law, form=integral_form, scale=dual_scale, infinite=infinite_law,
          pairing=psd_pairing,
          velocity=dynamics.scalar_velocity, trace_min=nn.nuclear_norm_minimization):
    t = sp.Symbol("t", real=True)
    s, g = sp.symbols("s1 s2", positive=True), sp.symbols("g1 g2", real=True)
    for N in (2, 3, 4) if quick else (2, 3, 4, 5):
        A, Q, K = diagonal_operator(N, t, s, g)
        claim = Q * field_matrix(sp.diag(*[-law(x ** N, gi, N) for x, gi in zip(s, g)]), K) * Q.transpose()
        proof.zero("S1", A - claim, f"2x2 symbolic rotation N={N}: A_(N,W)(G)")
    Q = rotation(t)
    x, y, alpha, q = sp.symbols("x y alpha q", positive=True)
    N = 2 + q                                                          # symbolic N > 2
    proof.zero("S2", power_simplify(law(x, x - y, N) - N * x ** (2 - 2 / N) * (y - x)),
               "symbolic N: -N x^(2-2/N) (x - s) = E10's N x^(2-2/N) (s - x)")
    M = sp.Symbol("M", positive=True)
    proof.zero("S2", _limit(law(x, x - y, M) / M, M, sp.oo) - infinite(x, y), "N -> oo, rescaled: x^2 (s - x)")
    w = sp.Function("w", positive=True)(t)        # N > 2: z = (alpha^(2-N) - w)/(N-2), w > 0 on the flow
    for n, z, label in ((2, sp.Function("z", real=True)(t), "N=2"), (N, (alpha ** (2 - N) - w) / (N - 2), "N > 2")):
        xs = form(z, alpha, n)
        proof.zero("S3", power_simplify(sp.diff(xs, t) - n * xs ** (2 - 2 / sp.S(n)) * sp.diff(z, t)),
                   f"{label} (symbolic): dx/dt = N x^(2-2/N) z'(t)")
        zero_at = {z: 0} if n == 2 else {w: alpha ** (2 - N)}
        proof.zero("S3", power_simplify(xs.subs(zero_at) - alpha ** n), f"{label}: x = alpha^N at z = 0")
    _certificate(proof, form, scale, alpha, N)
    L, d = sp.Matrix(2, 2, sp.symbols("l1:5", real=True)), sp.symbols("d1 d2", nonnegative=True)
    lhs = sum(a * b for a, b in zip(L * L.T, Q * sp.diag(*d) * Q.T))
    proof.zero("S5", sp.simplify(lhs - pairing(L, Q, d)), "<L L^T, Q diag(d) Q^T> = sum d_i ||L^T q_i||^2")
    proof.sizes("S1 2x2 symbolic rotation N=" + ("2,3,4" if quick else "2,3,4,5") + "; S2-S4 symbolic N; S5 2x2")
    _tie_velocity(proof, law, infinite, velocity)
    _tie_trace(proof, trace_min)


def _certificate(proof, form, scale, alpha, N):
    """S4: the certificate identities in ``z`` (a free real number) and the vanishing gap bounds."""
    w, B = sp.Symbol("w", positive=True), sp.Symbol("B", positive=True)
    zz = (alpha ** (2 - N) - w) / (N - 2)               # every z with alpha^(2-N) - (N-2) z = w > 0
    xs = form(zz, alpha, N)
    proof.zero("S4", power_simplify((1 - scale(alpha, N) * zz) - alpha ** (N - 2) * xs ** (-(N - 2) / N)),
               "N > 2: 1 - (M^T mu)_i = alpha^(N-2) x_i^(-(N-2)/N)")
    proof.zero("S4", power_simplify(xs * (1 - scale(alpha, N) * zz) - alpha ** (N - 2) * xs ** (2 / N)),
               "N > 2: x_i (1 - (M^T mu)_i) = alpha^(N-2) x_i^(2/N) (the gap, term by term)")
    a = sp.Symbol("a", positive=True)                  # 0 < alpha < 1 as alpha = 1/(1 + a)
    zz = sp.Symbol("z", real=True)
    x2 = form(zz, 1 / (1 + a), 2)
    proof.zero("S4", sp.simplify(sp.expand_log((1 - scale(1 / (1 + a), 2) * zz) + sp.log(x2) / sp.log((1 + a) ** 2),
                                               force=True)), "N = 2: 1 - (M^T mu)_i = -log(x_i)/log(1/alpha^2)")
    proof.zero("S4", _limit(alpha ** (N - 2) * B ** (2 / N), alpha, 0, "+"), "alpha^(N-2) B^(2/N) -> 0 (x_i <= B)")
    proof.zero("S4", _limit(1 / sp.log(1 / alpha ** 2), alpha, 0, "+"), "N = 2: 1/log(1/alpha^2) -> 0")


def _tie_velocity(proof, law, infinite, velocity):
    """T1: the library's per-mode velocity against the 2x2 matrix flow, exact rationals."""
    rng = proof.rng
    Q = rotation(sp.Rational(int(rng.integers(1, 6)), int(rng.integers(2, 7))))
    s = [sp.Rational(int(rng.integers(2, 9)), 4), sp.Rational(int(rng.integers(1, 4)), 5)]
    y = [sp.Rational(int(rng.integers(1, 9)), 3) for _ in s]
    for N in (1, 2, 3, 4, sp.oo):
        if N == sp.oo:                                  # rescaled: x^2 (y - x), x = s
            xs, exact = s, [infinite(xi, yi) for xi, yi in zip(s, y)]
        else:
            xs = [si ** N for si in s]
            W, Y = Q * sp.diag(*xs) * Q.T, Q * sp.diag(*y) * Q.T
            D = sp.diag(*[si ** 2 for si in s])
            dW = -end_to_end_operator_formula(Q, D, Q, D, N, W - Y)          # G = W - Y: one measurement per mode
            exact = list((Q.T * dW * Q).diagonal())
            proof.zero("S1", sp.Matrix(exact) - sp.Matrix([law(xi, xi - yi, N) for xi, yi in zip(xs, y)]),
                       f"N={N}: the matrix flow's mode velocities are the mode law")
        got = velocity(np.array([float(v) for v in xs]), np.array([float(v) for v in y]),
                       np.inf if N == sp.oo else N)
        proof.close("T1", got, exact, rtol=1e-12, what=f"scalar_velocity N={N}")
    proof.sizes("T1 2x2 rational rotation, N = 1, 2, 3, 4, inf")


def _tie_trace(proof, trace_min):
    """T2: minimum trace over PSD X on two instances with an exact (LP) optimum."""
    Q = rotation(sp.Rational(1, 2))
    As = [Q * sp.diag(1, 2) * Q.T, Q * sp.diag(2, 1) * Q.T]          # commuting, symmetric
    # min x1 + x2 s.t. x1 + 2 x2 = 2, 2 x1 + x2 = 4 has the unique solution (2, 0)
    sensing = MatrixSensing(np.array([to_float_array(A) for A in As]), np.array([2.0, 4.0]), reduction="mean")
    completion = MatrixCompletion((2, 2), np.array([0]), np.array([1]), np.array([1.0]), reduction="sum")
    cases = [("commuting sensing (mean)", sensing, Q * sp.diag(2, 0) * Q.T),
             ("2x2 completion of X_01 = 1 (sum)", completion, sp.Matrix([[1, 1], [1, 1]]))]
    for label, problem, exact in cases:
        result = trace_min(problem, 0.0, psd=True, tol=1e-9)
        proof.close("T2", result.X, exact, rtol=1e-6, what=f"nuclear_norm_minimization psd=True, {label}")
        proof.close("T2", result.objective, exact.trace(), rtol=1e-6, what=f"minimum trace, {label}")
    proof.note("T2: the LP optimum x = (2, 0) (sensing) is unique: the constraints fix x; the completion "
               "[[a, 1], [1, b]] PSD needs ab >= 1, so a + b >= 2 with equality only at a = b = 1")


# --------------------------------------------------------------------------- planted wrong variants

PLANTED = {
    "S1: mode law N x^{2-1/N} g": Planted("S1", lambda: dict(
        law=lambda x, g, N: -N * x ** (2 - sp.Rational(1, 1) / N) * g)),
    "S2: rescaled N = inf law x (s - x)": Planted("S2", lambda: dict(infinite=lambda x, y: x * (y - x))),
    "S3: exponent -N/(N-1)": Planted("S3", lambda: dict(
        form=lambda z, alpha, N: integral_form(z, alpha, N) if N == 2 else (alpha ** (2 - N) - (N - 2) * z) ** (
            -N / (N - 1)))),
    "S4: dual scale alpha^{N-1}": Planted("S4", lambda: dict(
        scale=lambda alpha, N: dual_scale(alpha, N) * (1 if N == 2 else alpha))),
    "S5: pairing with ||L q_i||^2 (L on the wrong side)": Planted("S5", lambda: dict(
        pairing=lambda L, Q, d: sum(d[i] * ((L * Q[:, i]).T * (L * Q[:, i]))[0] for i in range(len(d))))),
    "library: scalar_velocity x1.01": Planted("T1", lambda: dict(
        velocity=lambda a, s, N: 1.01 * dynamics.scalar_velocity(a, s, N))),
    "library: minimum trace without the PSD constraint": Planted("T2", lambda: dict(
        trace_min=lambda p, eps, psd=False, **k: nn.nuclear_norm_minimization(p, eps, **k))),
}


def worked_example():
    """One mode per eigenvector, N = 3, alpha = 1/10: x = (alpha^{-1} - z)^{-3}; mu certifies the trace."""
    alpha, N = sp.Rational(1, 10), 3
    for z in (0, 5, 9):
        x = integral_form(sp.S(z), alpha, N)
        gap = alpha ** (N - 2) * x ** sp.Rational(2, N)
        print(f"z = {z}: x = {x} (exact), 1 - (M^T mu) = {sp.nsimplify(1 - dual_scale(alpha, N) * z)}, "
              f"gap term alpha^(N-2) x^(2/N) = {sp.nsimplify(gap)}")
    print("library scalar_velocity(x=[1/8], s=[1], N=3) =", dynamics.scalar_velocity(np.array([0.125]),
                                                                                    np.array([1.0]), 3))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
