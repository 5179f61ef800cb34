r"""E7 — the singular vectors under the end-to-end dynamics (square, full rank).

Statement (THEORY.md E7)
------------------------
With ``G~ = U^T G V``, ``S = diag(sigma)``, ``F_{rr'} = 1/((sigma_{r'}^2)^{1/N} - (sigma_r^2)^{1/N})``
for ``r != r'`` and ``F_rr = 0``:

    dU/dt = -U (F o [G~ S + S G~^T]),     dV/dt = -V (F o [S G~ + G~^T S])

(the complement terms ``(I - UU^T) ...`` of THEORY.md vanish for a square full-rank ``W``).

Construction
------------
The same exact linear solve as E6 (``e06_singular_values.py``): ``W = U(a) diag(s^N) V(b)^T``
with rotations, velocities ``dU/dt = U'(a) da`` and ``dV/dt = V'(b) db``.

Check
-----
For N = 2, 3 (2x2) both velocities minus the formula are zero matrices over
``QQ(a, b, s, g)``.  Tie-in: ``dmf_edu.dynamics.singular_vector_velocity(W, G, N)`` at rational
points, with the library's column signs aligned to the rotations' (a simultaneous sign flip
of ``u_r, v_r`` flips column ``r`` of both velocities).

Commentary
----------
2x2 square, distinct nonzero singular values; the complement terms (rectangular W) are not
machine-checked here.  Planted variants (``F`` with the wrong sign, the ``V`` bracket used
for ``U``) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """N = 2: the solved angular velocity of U and the E7 prediction (entry (1, 0))."""
    c = S._svd_flow(2)
    dU, _ = S.singular_vector_velocity_formula(2, c["U"], c["V"], c["s"], c["G"])
    print("U'(a) da, entry (1,0):", sp.factor((c["U"].diff(c["a"]) * c["da"])[1, 0]))
    print("E7,       entry (1,0):", sp.factor(dU[1, 0]))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E7"))
