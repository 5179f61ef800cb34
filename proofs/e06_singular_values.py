r"""E6 — the singular values under the end-to-end dynamics.

Statement (THEORY.md E6)
------------------------
Under ``dW/dt = -A_{N,W}(G)`` (E3) and for distinct singular values,

    d sigma_r / dt = -N (sigma_r^2)^{1 - 1/N} <G, u_r v_r^T> ;

at infinite depth, in the rescaled time, ``d sigma_r/d tau = -sigma_r^2 <G, u_r v_r^T>``.

Construction
------------
A 2x2 curve ``W = U(a) diag(sigma_1, sigma_2) V(b)^T`` with rational rotations and
``sigma_r = s_r^N`` (so ``(sigma_r^2)^{1-1/N} = s_r^{2(N-1)}``).  Its velocity is linear in the
unknowns ``(da, db, dsigma_1, dsigma_2)``; setting it equal to ``-A_{N,W}(G)`` (E3, with free
``G``) gives a 4x4 linear system over the field ``QQ(a, b, s1, s2, g)``, solved exactly.

Check
-----
For N = 2, 3: the determinant of the system is printed factored and vanishes when
``sigma_1 = sigma_2`` (the statement's hypothesis); the solved ``dsigma_r`` minus the formula is
zero in the field.  The N -> oo statement is the limit of ``(1/N) N (sigma^2)^{1-1/N}``.
Tie-in: ``dmf_edu.dynamics.singular_value_velocity(W, G, N)`` for N = 2, 3 and ``numpy.inf``
at rational points (descending order) against the exact solution (relative 1e-10).

Commentary
----------
This proves more than the diagonal of E4: it shows that the SVD of the moving ``W`` is
differentiable with these velocities.  ``U, V`` are rotations; this loses nothing: flipping
the sign of a pair ``(u_r, v_r)`` makes ``det U = 1``, and if then ``det V = -1``, the map
``W -> W D``, ``G -> G D`` with ``D = diag(1,-1)`` turns ``V`` into the rotation ``D V`` and
leaves ``sigma``, ``<G, u_r v_r^T>`` and the flow unchanged.  2x2 only.  Planted variants (exponent ``1 - 2/N``, no factor ``N``, ``G`` transposed, a library
depth off by one) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """N = 2: determinant of the SVD-velocity system and the solved d sigma_1/dt."""
    c = S._svd_flow(2)
    print("determinant     :", c["det"])
    print("d sigma_1/dt    :", sp.factor(c["dsigma"][0]))
    print("E6 formula      :", sp.factor(S.singular_value_velocity_formula(2, c["s"][0], c["U"][:, 0],
                                                                          c["V"][:, 0], c["G"])))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E6"))
