r"""E4 — the operator A_{N,W} in the singular basis: the depth multipliers a_N.

Statement (THEORY.md E4)
------------------------
With ``W = U Sigma V^T``, ``U^T A_{N,W}(Z) V = a_N o (U^T Z V)`` entrywise, where

    a_N(x, y) = sum_{p=1}^{N} x^{2(N-p)/N} y^{2(p-1)/N}
              = (x^2 - y^2) / (x^{2/N} - y^{2/N})   (x != y),      a_N(x, x) = N x^{2(N-1)/N}.

Construction
------------
In the variables ``u = x^{1/N}``, ``v = y^{1/N}`` every power is an integer power:
``a_N = sum_p u^{2(N-p)} v^{2(p-1)}`` and the closed form is ``(u^{2N} - v^{2N})/(u^2 - v^2)``.
For the matrix statement, ``W = U diag(s1^N, s2^N) V^T`` with rational rotations ``U = R(a)``,
``V = R(b)`` and the E3 operator (``e03_end_to_end_dynamics.py``).

Check
-----
(i) For each N = 1..8: sum minus closed form is the zero rational function, and the limit
``v -> u`` of the closed form is ``N u^{2(N-1)}``.  (ii) For a *symbolic* N, ``sympy.summation``
sums the geometric series; its generic branch minus the closed form simplifies to 0.
(iii) For N = 2, 3 (2x2): ``U^T A(Z) V - a_N o (U^T Z V)`` is the zero matrix over
``QQ(a, b, s, z)``.  Tie-in: ``dmf_edu.linalg.depth_multiplier(x, y, N)`` for N = 1..6 at
rational points with ``x != y``, ``x = y`` and ``y = 0`` (the ``0^0 = 1`` convention).

Commentary
----------
(i) and (ii) are exact for all ``x, y > 0`` (``u, v`` enter polynomially; ``y = 0`` is the
p = 1 term).  (iii) is the 2x2 square case with rotations.  Planted variants (exponent
``2(N-p+1)``, denominator ``x^{1/N} - y^{1/N}``, a 1e-3 library error) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """N = 3: the finite sum times (u^2 - v^2) telescopes."""
    u, v = sp.symbols("u v", positive=True)
    total = sum(S.multiplier_summand(u, v, 3, p) for p in range(1, 4))
    print("a_3 in u, v          :", total)
    print("(u^2 - v^2) a_3      :", sp.expand((u ** 2 - v ** 2) * total))
    print("closed form, v -> u  :", sp.limit(S.multiplier_closed_form(u, v, 3), v, u))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E4"))
