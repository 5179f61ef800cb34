r"""E5 — infinite depth: a_N / N tends to the logarithmic mean.

Statement (THEORY.md E5)
------------------------
In the rescaled time ``tau = N t``, ``(1/N) a_N(x, y) -> L(x^2, y^2) = (x^2 - y^2)/(log x^2 - log y^2)``
as ``N -> oo``, with ``L(x^2, x^2) = x^2`` and ``L(x^2, 0) = 0``; the error is O(1/N).

Construction
------------
``x, y`` positive symbols, ``N`` a positive real symbol, ``a_N`` in closed form (E4).

Check
-----
``sympy.limit`` as ``N -> oo`` of ``a_N/N`` (compared with ``L`` after ``expand_log``), of the
diagonal value ``N x^{2(N-1)/N} / N`` (-> ``x^2``), of ``L`` as ``y -> 0+`` and ``y -> x``, and of
the first-order term ``N (a_N/N - L)``, which is ``-L(x^2, y^2) log(xy)``: the convergence is
exactly first order unless ``xy = 1``.  Tie-in: ``dmf_edu.linalg.log_mean`` and
``depth_multiplier(x, y, numpy.inf)`` at rational points against ``L`` (30-digit evaluation).

Commentary
----------
Limits computed by sympy's Gruntz algorithm for symbolic ``x != y > 0`` (not a numerical
extrapolation).  The O(1/N) rate of THEORY.md (relative error 2e-1, 2e-2, 2.5e-3 at
N = 10, 100, 1000 for some x, y) is here made precise: the relative error is
``|log(xy)|/N + O(1/N^2)``.  Planted variants (``log x - log y``, the wrong sign of the 1/N
term, a library log mean of ``x, y`` instead of ``x^2, y^2``) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """The limit and the 1/N term, printed."""
    x, y = sp.symbols("x y", positive=True)
    N = sp.Symbol("N", positive=True)
    a_over_N = (x ** 2 - y ** 2) / (x ** (2 / N) - y ** (2 / N)) / N
    print("lim a_N/N        :", sp.limit(a_over_N, N, sp.oo))
    L = S.log_mean_form(x, y)
    first = sp.limit(N * (a_over_N - L), N, sp.oo)
    print("lim N(a_N/N - L) + L log(xy), simplified:",
          sp.simplify(sp.expand_log(first + L * sp.log(x * y), force=True)))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E5"))
