r"""E3 — balanced factors move the end-to-end matrix by -A_{N,W}(G).

Statement (THEORY.md E3)
------------------------
If ``D_j = 0`` for all ``j`` then under the factor flow ``dW/dt = -A_{N,W}(G)`` with

    A_{N,W}(Z) = sum_{j=1}^{N} (W W^T)^{(N-j)/N} Z (W^T W)^{(j-1)/N} .

Construction
------------
Fractional powers are made explicit by an SVD parametrisation of balanced factors:
``W_j = Q_j S Q_{j-1}^T`` with ``S = diag(s1, s2) = Sigma^{1/N}`` and rotations
``Q_j = R(t_j)`` in the half-angle (Cayley) form, whose entries are rational in ``t_j``.
Then ``W = Q_N S^N Q_0^T``, ``(W W^T)^{k/N} = Q_N S^{2k} Q_N^T`` and
``(W^T W)^{k/N} = Q_0 S^{2k} Q_0^T``.  All matrices live in ``DomainMatrix`` over the field
``QQ(t_0..t_N, s1, s2, g11..g22)``: exact rational-function arithmetic with a canonical
form, so a zero matrix is recognised without any heuristic simplification.

Check
-----
For N = 2, 3, 4 (2x2): (i) the parametrisation is balanced, ``D_j = 0``; (ii) ``W W^T =
Q_N S^{2N} Q_N^T`` (the powers are the PSD powers); (iii) the pushforward of the E1 flow,
``-sum_j W_{N:j+1} (dphi/dW_j) W_{j-1:1}``, plus ``A_{N,W}(G)`` is the zero matrix.
Tie-in: ``dmf_edu.dynamics.end_to_end_operator(W, G, N)`` at a random rational point
against the exact ``A`` (relative 1e-10).

Commentary
----------
Proved for 2x2 matrices, free ``G``, every singular value (``s`` enters polynomially, so
zero and repeated values are included) and all ``Q_j`` in SO(2) except the half-turn (by
continuity, all of SO(2)).  Factors ``Q_j`` with determinant -1 (reflections) and
rectangular shapes (THEORY.md: hidden widths >= min(m, n)) are not machine-checked here.
Planted variants (exponent ``(N-j+1)/N``, the two Gram matrices swapped, a factor ``1/N``,
a library depth off by one) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """The rational rotation and the N = 2 pushforward, entry (0, 0), for t_0 = t_2 = 0."""
    t = sp.Symbol("t", real=True)
    R = S.rotation(t)
    print("R(t) =", R.tolist())
    print("R^T R =", (R.T * R).applyfunc(sp.cancel).tolist())
    s1, s2 = sp.symbols("s1 s2", positive=True)
    G = S.symbol_matrix("g", 2, 2)
    Q = [sp.eye(2), R, sp.eye(2)]
    root = sp.diag(s1, s2)
    W1, W2 = Q[1] * root * Q[0].T, Q[2] * root * Q[1].T
    g1, g2 = S.layer_gradient_formula([W1, W2], G)
    W_dot = -(W2 * g1 + g2 * W1)
    A = S.end_to_end_operator_formula(Q[2], Q[0], root, 2, G)
    print("pushforward + A, simplified:", (W_dot + A).applyfunc(sp.cancel).tolist())


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E3"))
