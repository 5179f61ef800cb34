r"""E10 — one mode: closed-form trajectories and escape times.

Statement (THEORY.md E10)
-------------------------
One mode with target ``s > 0``, ``da/dt = N a^{2-2/N} (s - a)``, ``a(0) = a0 = alpha^N < s``:

* N = 2:  ``a(t) = s e^{2st} / (e^{2st} - 1 + s/a0)``;
* N >= 3: ``t(a) = T(a) - T(a0)``, ``T(a) = a^b 2F1(1, b; b+1; a/s) / (N s b)``, ``b = 2/N - 1``;
* the time to reach ``s/2`` is ``~ log(1/alpha)/s`` (N = 2) and ``~ 1/((N-2) s alpha^{N-2})`` (N >= 3).

Construction and Check
----------------------
N = 2: differentiate the closed form; ``da/dt - 2a(s - a)`` simplifies to 0 and ``a(0) = a0``.

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

Tie-ins: ``dmf_edu.dynamics.time_to_reach`` (N = 2, 3, 4) against the exact ``T(a) - T(a0)``
(30-digit hypergeometric evaluation), ``scalar_trajectory`` (N = 2) and
``escape_time_asymptotic`` (N = 2, 3, 4) at rational points.

Commentary
----------
The N >= 3 primitive is proved for every real N > 2 on ``0 < a < s`` (the series converges
there; term-wise differentiation of a power series inside its radius is the one analytic
fact used without machine check).  Planted variants (``e^{st}``, ``a^{b-1}``, a law
``alpha^{-(N-1)}``, a library time off by 1%) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """N = 2 residual of the ODE, and N = 3 dT/da after hyperexpand."""
    t, s, a0, a = sp.symbols("t s a0 a", positive=True)
    x = S.trajectory_depth2(t, s, a0)
    print("N=2: da/dt - 2a(s-a) =", sp.simplify(sp.diff(x, t) - 2 * x * (s - x)))
    print("N=3: dT/da =", sp.simplify(sp.hyperexpand(sp.diff(S.primitive_formula(a, s, 3), a))))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E10"))
