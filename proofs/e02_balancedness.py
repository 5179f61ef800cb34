r"""E2 — gradient flow conserves the balancedness matrices.

Statement (THEORY.md E2)
------------------------
Under ``dW_j/dt = -d phi/d W_j`` every ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (j = 1..N-1)
is constant.  With weight decay, ``dW_j/dt = -d phi/d W_j - lambda W_j``, it decays:
``dD_j/dt = -2 lambda D_j``.

Construction
------------
Free symbolic factors (depths 2 to 4, rectangular with hidden widths unlike the outer ones,
and the square ``d = (2,2,2)``), a free symbolic ``G`` and a free ``lambda``.  The velocities
are the E1 formula (proved in ``e01_layer_gradients.py``) minus ``lambda W_j``, and

    dD_j/dt = Wdot_{j+1}^T W_{j+1} + W_{j+1}^T Wdot_{j+1} - Wdot_j W_j^T - W_j Wdot_j^T .

Check
-----
``dD_j/dt + 2 lambda D_j`` is expanded and must be the zero polynomial.  Tie-in: the same
rate computed from ``dmf_edu.layer_gradients`` at rational points is zero to rounding
(relative 1e-12).

Commentary
----------
Because ``G`` is a free symbol, the identity holds pointwise for *any* loss and any state,
not only along a particular trajectory: the two terms ``W_{j+1}^T (W_{N:j+2}^T G W_{j:1}^T)``
and ``(W_{N:j+1}^T G W_{j-1:1}^T) W_j^T`` are the same matrix.  Gradient *descent* does not
conserve ``D_j`` exactly (the drift is O(step), THEORY.md E2); that is tested numerically
elsewhere, not here.  Planted variants (a dropped transpose, one layer's gradient doubled,
a decay rate of ``-lambda D`` instead of ``-2 lambda D``, a library bug) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """Depth 2, d = (1, 2, 1): the two terms of dD_1/dt cancel."""
    W1, W2 = S.symbolic_weights([1, 2, 1])
    G = S.symbol_matrix("g", 1, 1)
    g1, g2 = S.layer_gradient_formula([W1, W2], G)
    print("W_2^T (dphi/dW_2) =", list(W2.T * g2))
    print("(dphi/dW_1) W_1^T =", list(g1 * W1.T))
    rate = (-g2).T * W2 + W2.T * (-g2) - (-g1) * W1.T - W1 * (-g1).T
    print("dD_1/dt expanded  =", list(rate.applyfunc(sp.expand)))


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E2"))
