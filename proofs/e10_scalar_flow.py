r"""E10 — one mode: closed-form trajectories and escape times.

Statement (THEORY.md E10)
-------------------------
One mode with target ``s > 0``, ``da/dt = N a^{2-2/N} (s - a)``, ``a(0) = a0 = alpha^N < s``:

* N = 2:  ``a(t) = s e^{2st} / (e^{2st} - 1 + s/a0)``;
* N >= 3: ``t(a) = T(a) - T(a0)``, ``T(a) = a^b 2F1(1, b; b+1; a/s) / (N s b)``, ``b = 2/N - 1``;
* the time to reach ``s/2`` is ``~ log(1/alpha)/s`` (N = 2) and ``~ 1/((N-2) s alpha^{N-2})`` (N >= 3).

The library also accepts N = 1 (plain gradient flow, ``da/dt = s - a``: ``a = s + (a0 - s) e^{-t}``,
``T = -log(s - a)``, escape from ``alpha`` to ``s/2`` ``-> log 2``) and N = inf in rescaled time
(``da/dtau = a^2 (s - a)``, the limit of E4's ``a_N(a, a)``: ``T = -1/(s a) + log(a/(s - a))/s^2``).

Construction.  N = 2: differentiate the closed form; ``da/dt - 2a(s - a)`` simplifies to 0 and ``a(0) = a0``.

N >= 3, for a *symbolic* N (so ``b`` in (-1, 0)): write ``F(z) = 2F1(1, b; b+1; z) = sum c_k z^k``.
(1) ``c_k = (1)_k (b)_k / ((b+1)_k k!) = b/(b+k)`` (gamma-function simplification, symbolic k);
(2) so ``y(z) = z^b F(z) = sum b z^{b+k}/(b+k)`` and term-wise ``y'(z) = sum b z^{b+k-1}``;
(3) the geometric sum gives ``y'(z) = b z^{b-1}/(1 - z)`` for ``|z| < 1``.
With these, ``T`` is differentiated by the chain rule with ``F`` kept as an opaque symbol ``Y``:
``dT/da - 1/(N a^{2-2/N}(s - a))`` must vanish *and* contain no ``Y``.  So ``t(a)`` is the
inverse of the solution on ``0 < a < s``.  Cross-check: ``hyperexpand`` of ``dT/da`` for
N = 3, 4, 5 (independent elementary closed forms).

Escape: N = 2, solve ``a(t) = s/2`` and take ``lim_{alpha->0}`` of the ratio to ``log(1/alpha)/s``
(it is 1).  N >= 3: ``t_esc = T(s/2) - T(alpha^N)``; ``T(s/2)`` is a finite constant and the
law ``1/((N-2) s alpha^{N-2}) -> oo``, while ``-T(alpha^N) / law = F(alpha^N/s)`` exactly,
which tends to ``F(0) = c_0 = 1``.

Scope: the N >= 3 primitive is proved for every real N > 2 on ``0 < a < s`` (the series
converges there; term-wise differentiation of a power series inside its radius is the one
analytic fact used without machine check); the hyperexpand cross-check is at N = 3 (full
run also 4, 5).  The escape laws are the leading terms as ``alpha -> 0``, not bounds.  N = 1 and
N = inf (S6) exactly, symbolic ``t, s, a0, a``.  Tie-ins at a rational point: ``t(a)`` is explicit, so
``scalar_trajectory`` (N = 1, 2 at a rational time; N = 3, 4, inf -- full run also 5, 7 -- at
the exact times ``t* = T(a*) - T(a0)`` of two rational states ``a* = s/3, 3s/4``, to 40 digits) is
compared with ``a*``; ``time_to_reach`` at N = 1, 2, 3, 4, inf; ``escape_time_asymptotic`` at N = 1..4.

Steps
-----
S1  N = 2: the closed form solves ``da/dt = 2a(s - a)`` and starts at ``a0``.
S2  ``2F1(1, b; b+1; z) = sum_k b/(b+k) z^k``, so ``y(z) = z^b F(z)`` has ``y'(z) = b z^{b-1}/(1 - z)``.
S3  Symbolic N: ``dT/da = 1/(N a^{2-2/N} (s - a))`` with no ``F`` left (and hyperexpand agrees).
S4  N = 2: the time to reach ``s/2`` from ``alpha^2``, divided by ``log(1/alpha)/s``, tends to 1.
S5  N > 2: ``T(s/2)`` is negligible against the law and ``-T(alpha^N)/law = F(alpha^N/s) -> F(0) = 1``.
S6  N = 1: ``s + (a0 - s) e^{-t}`` solves ``da/dt = s - a`` from ``a0``, ``T = -log(s - a)`` has
    ``dT/da = 1/(s - a)`` and the escape time from ``alpha`` to ``s/2`` tends to ``log 2``; N = inf
    (rescaled): ``dT/da = 1/(a^2 (s - a))`` for ``T = -1/(s a) + log(a/(s - a))/s^2``.
T1  Library: ``dynamics.time_to_reach`` (N = 1, 2, 3, 4, inf) equals the exact ``T(a) - T(a0)`` (30 digits).
T2  Library: ``dynamics.scalar_trajectory`` equals the closed form (N = 1, 2) and, at N = 3, 4, inf,
    the state ``a*`` at the exact time ``T(a*) - T(a0)`` (the implicit closed form).
T3  Library: ``dynamics.escape_time_asymptotic`` (N = 1, 2, 3, 4) equals the law at a rational point.
"""

import functools

import numpy as np
import sympy as sp

from dmf_edu import dynamics
from dmf_edu.proofs.symbolic import Page, Planted, power_simplify, random_rational_point
from dmf_edu.proofs.runner import run_page

# sympy's limit/summation/... are deterministic and not cached by sympy: memoised here, so a
# planted variant reuses the claim's work for the parts it does not change
_limit = functools.lru_cache(maxsize=256)(sp.limit)
_summation = functools.lru_cache(maxsize=256)(sp.summation)
_solve = functools.lru_cache(maxsize=256)(sp.solve)
_hyperexpand = functools.lru_cache(maxsize=256)(sp.hyperexpand)
_simplify = functools.lru_cache(maxsize=256)(sp.simplify)

PAGE = Page(
    label="E10", title="one-mode closed forms and escape times",
    statement="da/dt = N a^{2-2/N}(s-a): N=2 a(t) = s e^{2st}/(e^{2st}-1+s/a0); N>=3 t(a) = T(a)-T(a0), "
              "T = a^b 2F1(1,b;b+1;a/s)/(N s b), b = 2/N-1; escape ~ 1/((N-2) s alpha^{N-2}), ~ log(1/alpha)/s at N=2",
    method="exact + series (symbolic k, N) + limit",
    steps={"S1": "N=2: the closed form solves the ODE, a(0) = a0",
           "S2": "2F1(1,b;b+1;z) = sum b/(b+k) z^k, so (z^b F)' = b z^{b-1}/(1-z)",
           "S3": "symbolic N: dT/da = 1/(N a^{2-2/N}(s-a)) (hyperexpand cross-check)",
           "S4": "N=2 escape time ~ log(1/alpha)/s",
           "S5": "N>2 escape time ~ 1/((N-2) s alpha^{N-2})",
           "S6": "N=1: a = s + (a0-s)e^{-t}, T = -log(s-a), escape -> log 2; N=inf: T = -1/(sa) + log(a/(s-a))/s^2",
           "T1": "library: dynamics.time_to_reach equals T(a) - T(a0) (N = 1, 2, 3, 4, inf)",
           "T2": "library: dynamics.scalar_trajectory equals the closed forms (N = 1, 2) and a* at t = T(a*) - T(a0)",
           "T3": "library: dynamics.escape_time_asymptotic equals the law"})


def trajectory_depth2(t, s, a0):
    r"""E10, ``N = 2``: :math:`a(t) = s e^{2st} / (e^{2st} - 1 + s/a_0)`."""
    return s * sp.exp(2 * s * t) / (sp.exp(2 * s * t) - 1 + s / a0)


def hyper_b(N):
    """``b = 2/N - 1``."""
    return 2 / sp.S(N) - 1


def primitive_formula(a, s, N):
    r"""E10, ``N >= 3``, ``a < s``: :math:`T(a) = a^{b} {}_2F_1(1, b; b+1; a/s) / (N s b)`."""
    b = hyper_b(N)
    return a ** b * sp.hyper([1, b], [b + 1], a / s) / (N * s * b)


def trajectory_depth1(t, s, a0):
    """E10 at ``N = 1`` (plain gradient flow): ``a(t) = s + (a0 - s) e^{-t}``."""
    return s + (a0 - s) * sp.exp(-t)


def primitive_depth1(a, s):
    """``N = 1``: ``T(a) = -log(s - a)`` (``a < s``)."""
    return -sp.log(s - a)


def primitive_infinite(a, s):
    """``N = inf``, rescaled time: ``T(a) = -1/(s a) + log(a/(s - a))/s^2`` (``a < s``)."""
    return -1 / (s * a) + sp.log(a / (s - a)) / s ** 2


def exact_time(a, s, a0, N, primitive=primitive_formula, primitive_inf=primitive_infinite):
    """``t(a) = T(a) - T(a0)`` at depth ``N`` (1, 2, >= 3 or ``sp.oo``), exact expression."""
    if N == 1:
        return primitive_depth1(a, s) - primitive_depth1(a0, s)
    if N == 2:
        return (sp.log(a / (s - a)) - sp.log(a0 / (s - a0))) / (2 * s)
    if N == sp.oo:
        return primitive_inf(a, s) - primitive_inf(a0, s)
    return primitive(a, s, N) - primitive(a0, s, N)


def escape_law(s, alpha, N):
    r"""Escape time as ``alpha -> 0``: ``1/((N-2) s alpha^{N-2})`` (``N >= 3``), ``log(1/alpha)/s`` (``N = 2``)."""
    if N == 1:
        return sp.log(2) + 0 * s
    if N == 2:
        return sp.log(1 / alpha) / s
    return 1 / ((N - 2) * s * alpha ** (N - 2))


def series_coefficient(b, k):
    """The claimed ``k``-th coefficient of ``2F1(1, b; b+1; z)``: ``b/(b+k)``."""
    return b / (b + k)


def primitive_derivative(T, a, N):
    r"""``dT/da`` for ``T`` built from ``F = 2F1(1, b; b+1; z)``: ``F(z)`` is replaced by ``Y / z^b``
    (fresh symbol ``Y``) and the chain rule uses S2's ``y'(z) = b z^{b-1}/(1 - z)``.  The result
    contains ``Y`` unless the dependence on ``F`` cancels.  Returns None if ``T`` has another form."""
    b = hyper_b(N)
    Y = sp.Symbol("Y", positive=True)
    hypers = T.atoms(sp.hyper)
    if len(hypers) != 1:
        return None
    h = hypers.pop()
    if tuple(h.ap) != (1, b) or tuple(h.bq) != (b + 1,):
        return None
    z = h.argument
    TY = T.xreplace({h: Y / z ** b})
    return sp.diff(TY, a) + sp.diff(TY, Y) * b * z ** (b - 1) / (1 - z) * sp.diff(z, a)


def prove(proof, quick=False, trajectory=trajectory_depth2, coefficient=series_coefficient,
          primitive=primitive_formula, escape=escape_law, library=dynamics.time_to_reach,
          scalar_trajectory=dynamics.scalar_trajectory, asymptotic=dynamics.escape_time_asymptotic,
          primitive_inf=primitive_infinite):
    """S1-S6 exactly (symbolic t, s, a0, alpha, N, k); T1-T3 at rational points."""
    t, s, a0, a, alpha, z = sp.symbols("t s a0 a alpha z", positive=True)
    N = sp.Symbol("N", positive=True)
    x = trajectory(t, s, a0)
    proof.zero("S1", sp.diff(x, t) - 2 * x * (s - x), "da/dt = 2 a (s - a)", simplifier=sp.simplify)
    proof.zero("S1", x.subs(t, 0) - a0, "a(0) = a0", simplifier=sp.simplify)
    b, k = sp.Symbol("b", negative=True), sp.Symbol("k", integer=True, nonnegative=True)
    c_k = sp.rf(1, k) * sp.rf(b, k) / (sp.rf(b + 1, k) * sp.factorial(k))      # 2F1(1, b; b+1; z), k-th
    proof.zero("S2", sp.gammasimp(c_k.rewrite(sp.gamma)) - coefficient(b, k), "c_k = b/(b+k)",
               simplifier=sp.simplify)
    proof.zero("S2", sp.diff(coefficient(b, k) * z ** (b + k), z) - b * z ** (b + k - 1), "term-wise derivative",
               simplifier=sp.simplify)
    series = sp.piecewise_fold(_summation(b * z ** (b + k - 1), (k, 0, sp.oo)))     # branch |z| < 1
    generic = [e for e, cond in series.args if cond != sp.true] if isinstance(series, sp.Piecewise) else [series]
    proof.zero("S2", generic[0] - b * z ** (b - 1) / (1 - z), "geometric sum of y'", simplifier=sp.simplify)
    target = 1 / (N * a ** (2 - 2 / N) * (s - a))
    dT = primitive_derivative(primitive(a, s, N), a, N)
    if dT is None:
        proof.fail("S3", "the primitive is not built from 2F1(1, b; b+1; a/s), b = 2/N - 1")
    proof.zero("S3", dT - target, "symbolic N: dT/da = 1/(N a^(2-2/N) (s-a))", simplifier=power_simplify)
    for n in ((3,) if quick else (3, 4, 5)):                       # independent cross-check
        proof.zero("S3", _hyperexpand(sp.diff(primitive(a, s, n), a)) - target.subs(N, n),
                   f"N={n}: hyperexpand of dT/da", simplifier=sp.simplify)
    t_half = _solve(sp.Eq(trajectory(t, s, a0), s / 2), t)
    if len(t_half) != 1:
        proof.fail("S4", f"expected one time to reach s/2, got {t_half}")
    proof.zero("S4", _limit(t_half[0].subs(a0, alpha ** 2) / escape(s, alpha, 2), alpha, 0, "+") - 1,
               "escape time / (log(1/alpha)/s) -> 1")
    q = sp.Symbol("q", positive=True)                              # N = 2 + q > 2
    law = escape(s, alpha, N)
    proof.zero("S5", _limit((1 / law).subs(N, 2 + q), alpha, 0, "+"), "1/law -> 0 (T(s/2) negligible)")
    piece = -primitive(alpha ** N, s, N) / law
    h = piece.atoms(sp.hyper).pop()
    Y = sp.Symbol("Y", positive=True)
    proof.zero("S5", piece.xreplace({h: Y}) - Y, "-T(alpha^N) / law = 2F1(1,b;b+1;alpha^N/s)",
               simplifier=power_simplify)
    proof.zero("S5", c_k.subs(k, 0) - 1, "2F1(...; 0) = 1")
    proof.sizes("N=2 exact; symbolic N (series); hyperexpand N=" + ("3" if quick else "3,4,5")
                + "; escape limits N=2 and symbolic N>2")
    _limit_depths(proof, t, s, a0, a, alpha, escape, primitive_inf)
    _tie_in(proof, quick, random_rational_point([s, t, alpha], proof.rng), (s, t, alpha), trajectory, primitive,
            primitive_inf, escape, library, scalar_trajectory, asymptotic)


def _limit_depths(proof, t, s, a0, a, alpha, escape, primitive_inf):
    """S6: N = 1 and N = inf (rescaled), exactly."""
    x = trajectory_depth1(t, s, a0)
    proof.zero("S6", sp.diff(x, t) - (s - x), "N=1: da/dt = s - a", simplifier=sp.simplify)
    proof.zero("S6", x.subs(t, 0) - a0, "N=1: a(0) = a0", simplifier=sp.simplify)
    proof.zero("S6", sp.diff(primitive_depth1(a, s), a) - 1 / (s - a), "N=1: dT/da = 1/(s - a)",
               simplifier=sp.simplify)
    t_half = primitive_depth1(s / 2, s) - primitive_depth1(alpha, s)
    proof.zero("S6", _limit(t_half - escape(s, alpha, 1), alpha, 0, "+"), "N=1: escape time -> log 2")
    proof.zero("S6", sp.diff(primitive_inf(a, s), a) - 1 / (a ** 2 * (s - a)), "N=inf: dT/da = 1/(a^2 (s - a))",
               simplifier=sp.simplify)
    proof.sizes("S6 N=1 and N=inf symbolic")


def _tie_in(proof, quick, pt, syms, trajectory, primitive, primitive_inf, escape, library, scalar_trajectory,
            asymptotic):
    s, t, alpha = (pt[x] for x in syms)
    depths = (1, 2, 3, 4, sp.oo)
    number = lambda N: np.inf if N == sp.oo else N  # noqa: E731
    for n in depths:
        x0, x1 = s / 50, s * sp.Rational(3, 4)
        proof.close("T1", library(float(x1), float(s), float(x0), number(n)),
                    exact_time(x1, s, x0, n, primitive, primitive_inf), rtol=1e-10, what=f"time_to_reach N={n}")
    x0 = s / 40
    proof.close("T2", scalar_trajectory(float(t), float(s), float(x0), 1), trajectory_depth1(t, s, x0),
                rtol=1e-12, what="scalar_trajectory N=1")
    proof.close("T2", scalar_trajectory(float(t), float(s), float(x0), 2), trajectory(t, s, x0),
                rtol=1e-12, what="scalar_trajectory N=2")
    states = [s / 3, s * sp.Rational(3, 4)]
    for n in (3, 4, sp.oo) if quick else (3, 4, 5, 7, sp.oo):
        times = np.array([float(sp.N(exact_time(x, s, x0, n, primitive, primitive_inf), 40)) for x in states])
        proof.close("T2", scalar_trajectory(times, float(s), float(x0), number(n)), states, rtol=1e-10,
                    what=f"scalar_trajectory N={n} at t = T(a*) - T(a0)")
    for n in (1, 2, 3, 4):
        proof.close("T3", asymptotic(float(s), float(alpha), n), escape(s, alpha, n), rtol=1e-12,
                    what=f"escape_time_asymptotic N={n}")


PLANTED = {
    "N=2: e^{st} instead of e^{2st}": Planted(
        "S1", lambda: dict(trajectory=lambda t, s, a0: s * sp.exp(s * t) / (sp.exp(s * t) - 1 + s / a0))),
    "series coefficient b/(b+k+1)": Planted("S2", lambda: dict(coefficient=lambda b, k: b / (b + k + 1))),
    "N>=3: wrong exponent a^{b-1}": Planted(
        "S3", lambda: dict(primitive=lambda a, s, N: primitive_formula(a, s, N) / a)),
    "N=2 escape law log(1/alpha)/(2s)": Planted(
        "S4", lambda: dict(escape=lambda s, alpha, N: escape_law(s, alpha, N) / (2 if N == 2 else 1))),
    "N>2 escape law alpha^{-(N-1)}": Planted(
        "S5", lambda: dict(escape=lambda s, alpha, N: escape_law(s, alpha, N) / (alpha if N != 2 else 1))),
    "N=inf primitive without the 1/s^2 on the log": Planted(
        "S6", lambda: dict(primitive_inf=lambda a, s: -1 / (s * a) + sp.log(a / (s - a)) / s)),
    "library: time_to_reach x1.01": Planted(
        "T1", lambda: dict(library=lambda a, s, a0, N: 1.01 * dynamics.time_to_reach(a, s, a0, N))),
    "library: scalar_trajectory at time t/2": Planted(
        "T2", lambda: dict(scalar_trajectory=lambda t, s, a0, N: dynamics.scalar_trajectory(t / 2, s, a0, N))),
    "library: escape_time_asymptotic x1.01": Planted(
        "T3", lambda: dict(asymptotic=lambda s, alpha, N: 1.01 * dynamics.escape_time_asymptotic(s, alpha, N))),
}


def worked_example():
    """N = 2 residual of the ODE, and N = 3 dT/da after hyperexpand."""
    t, s, a0, a = sp.symbols("t s a0 a", positive=True)
    x = trajectory_depth2(t, s, a0)
    print("N=2: da/dt - 2a(s-a) =", _simplify(sp.diff(x, t) - 2 * x * (s - x)))
    print("N=3: dT/da =", _simplify(_hyperexpand(sp.diff(primitive_formula(a, s, 3), a))))


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
