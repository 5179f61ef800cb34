r"""E5 — infinite depth: a_N / N tends to the logarithmic mean.

Statement (THEORY.md E5)
------------------------
In the rescaled time ``tau = N t``, ``(1/N) a_N(x, y) -> L(x^2, y^2) = (x^2 - y^2)/(log x^2 - log y^2)``
as ``N -> oo``, with ``L(x^2, x^2) = x^2`` and ``L(x^2, 0) = 0``; the error is O(1/N), precisely
``N (a_N/N - L) -> -L(x^2, y^2) log(xy)``.

Construction: ``x, y`` positive symbols, ``N`` a positive real symbol, ``a_N`` in the closed form
of E4 (proved on the E4 page), ``(x^2 - y^2)/(x^{2/N} - y^{2/N})``.

Scope: limits by sympy's Gruntz algorithm for symbolic ``x != y > 0`` (not a numerical
extrapolation).  The convergence is exactly first order unless ``xy = 1``.  The inverse
operator and the integral forms of E5 are on the E5inv page and in the tests, not here.

Steps
-----
S1  ``lim_{N -> oo} a_N(x, y)/N = L(x^2, y^2)`` for ``x != y``.
S2  The diagonal: ``a_N(x, x)/N = x^{2(N-1)/N} -> x^2``, and ``L(x^2, y^2) -> x^2`` as ``y -> x``.
S3  ``L(x^2, y^2) -> 0`` as ``y -> 0+`` (directions outside the row/column space are not recruited).
S4  The rate: ``N (a_N/N - L) -> -L(x^2, y^2) log(xy)``.
T1  Library: ``linalg.log_mean(x^2, y^2)`` equals ``L`` at rational points (``x != y`` and ``x = y``).
T2  Library: ``linalg.depth_multiplier(x, y, numpy.inf)`` equals ``L(x^2, y^2)`` there, at ``x ~ y``
    (``y = x (1 + 10^-9)``, exact log mean, relative 1e-8) and at ``y = 0`` (S3: ``L(x^2, 0) = 0``);
    at finite ``N = 4, 16, 256`` it equals ``a_N = (x^2 - y^2)/(x^{2/N} - y^{2/N})`` (exact).
"""

import numpy as np
import functools

import sympy as sp

from dmf_edu import linalg
from dmf_edu.proofs.symbolic import Page, Planted, random_rational_point
from dmf_edu.proofs.runner import run_page

# sympy's limit/summation/... are deterministic and not cached by sympy: memoised here, so a
# planted variant reuses the claim's work for the parts it does not change
_limit = functools.lru_cache(maxsize=256)(sp.limit)

PAGE = Page(
    label="E5", title="a_N/N -> logarithmic mean as N -> oo",
    statement="lim_{N->oo} a_N(x,y)/N = L(x^2,y^2) = (x^2-y^2)/(log x^2 - log y^2), L(x^2,x^2) = x^2, "
              "L(x^2,0) = 0, and N (a_N/N - L) -> -L log(xy)  (rate O(1/N))",
    method="limit (sympy)",
    steps={"S1": "lim a_N/N = L(x^2, y^2) for x != y",
           "S2": "diagonal: a_N(x,x)/N -> x^2 = lim_{y->x} L(x^2, y^2)",
           "S3": "L(x^2, 0) = 0",
           "S4": "N (a_N/N - L) -> -L log(xy): first-order convergence",
           "T1": "library: linalg.log_mean equals L at rational points",
           "T2": "library: linalg.depth_multiplier(x, y, inf) equals L at rational points (x ~ y, y = 0 "
                 "included), and a_N exactly at N = 4, 16, 256"})


def log_mean_form(x, y):
    r"""``L(x^2, y^2) = (x^2 - y^2)/(log x^2 - log y^2)``."""
    return (x ** 2 - y ** 2) / (sp.log(x ** 2) - sp.log(y ** 2))


def first_order_term(x, y, L):
    """The claimed limit of ``N (a_N/N - L)``: ``-L log(xy)``."""
    return -L * sp.log(x * y)


def _log_simplify(e):
    return sp.simplify(sp.expand_log(sp.together(e), force=True))


def prove(proof, quick=False, limit_form=log_mean_form, rate=first_order_term, diagonal=lambda x: x ** 2,
          at_zero=lambda x: 0,
          library=linalg.log_mean, multiplier=linalg.depth_multiplier):
    """S1-S4 by sympy limits (symbolic x, y); T1, T2 at a rational point."""
    x, y = sp.symbols("x y", positive=True)
    N = sp.Symbol("N", positive=True)
    a_over_N = (x ** 2 - y ** 2) / (x ** (2 / N) - y ** (2 / N)) / N
    L = limit_form(x, y)
    proof.zero("S1", _limit(a_over_N, N, sp.oo) - L, "lim a_N/N = L(x^2, y^2)", simplifier=_log_simplify)
    proof.zero("S2", _limit(x ** (2 * (N - 1) / N), N, sp.oo) - diagonal(x), "a_N(x,x)/N -> x^2")
    proof.zero("S2", _limit(L, y, x) - diagonal(x), "L(x^2, y^2) -> x^2 as y -> x")
    proof.zero("S3", _limit(L, y, 0, "+") - at_zero(x), "L(x^2, y^2) -> 0 as y -> 0+")
    proof.zero("S4", _limit(N * (a_over_N - L), N, sp.oo) - rate(x, y, L), "N (a_N/N - L) -> -L log(xy)",
               simplifier=_log_simplify)
    proof.sizes("symbolic x, y > 0, N -> oo")
    pt = random_rational_point([x, y], proof.rng)
    for xx, yy in ((pt[x], pt[y]), (pt[x], pt[x])):
        exact = L.subs({x: xx, y: yy}) if xx != yy else xx ** 2
        proof.close("T1", library(float(xx) ** 2, float(yy) ** 2), exact, rtol=1e-12, what="log_mean")
        proof.close("T2", multiplier(float(xx), float(yy), np.inf), exact, rtol=1e-12,
                    what="depth_multiplier(., ., inf)")
    near = pt[x] * (1 + sp.Rational(1, 10 ** 9))
    for yy, exact, rtol in ((near, L.subs({x: pt[x], y: near}), 1e-8), (sp.Integer(0), at_zero(pt[x]), 1e-12)):
        proof.close("T2", multiplier(float(pt[x]), float(yy), np.inf), exact, rtol=rtol, scale=float(pt[x]) ** 2,
                    what=f"depth_multiplier(x, {float(yy)}, inf): x ~ y and L(x^2, 0)")
    for n in (4, 16, 256):                        # finite N >= 4: a_N = (x^2 - y^2)/(x^{2/N} - y^{2/N}) exactly
        for yy in (pt[y], near):
            exact = (pt[x] ** 2 - yy ** 2) / (pt[x] ** sp.Rational(2, n) - yy ** sp.Rational(2, n))
            proof.close("T2", multiplier(float(pt[x]), float(yy), n), exact, rtol=1e-12 if yy != near else 1e-8,
                        what=f"depth_multiplier(x, y, {n}) (N >= 4, x {'~' if yy == near else '!='} y)")


PLANTED = {
    "missing factor 2 in the log (log x - log y)": Planted(
        "S1", lambda: dict(limit_form=lambda x, y: (x ** 2 - y ** 2) / (sp.log(x) - sp.log(y)))),
    "diagonal value x instead of x^2": Planted("S2", lambda: dict(diagonal=lambda x: x)),
    "L(x^2, 0) = x^2/2 (arithmetic mean)": Planted("S3", lambda: dict(at_zero=lambda x: x ** 2 / 2)),
    "wrong sign of the 1/N term": Planted("S4", lambda: dict(rate=lambda x, y, L: L * sp.log(x * y))),
    "library: log mean of x, y instead of x^2, y^2": Planted(
        "T1", lambda: dict(library=lambda a, b: linalg.log_mean(np.sqrt(a), np.sqrt(b)))),
    "library: depth_multiplier(inf) x1.01": Planted(
        "T2", lambda: dict(multiplier=lambda a, b, N: 1.01 * linalg.depth_multiplier(a, b, N))),
}


def worked_example():
    """a_N(2, 1)/N for N = 10, 100, 1000 against L(4, 1) and the predicted first-order error."""
    L = float(log_mean_form(sp.Integer(2), sp.Integer(1)))
    for n in (10, 100, 1000):
        a = (4 - 1) / (2 ** (2 / n) - 1) / n
        print(f"N = {n:4d}: a_N/N = {a:.6f}, L(4, 1) = {L:.6f}, N (a_N/N - L) = {n * (a - L):+.4f} "
              f"(limit -L log 2 = {-L * np.log(2):+.4f})")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
