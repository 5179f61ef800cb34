r"""E1 — the layer gradients of a deep matrix factorization.

Statement (THEORY.md E1)
------------------------
For ``phi(W_1, ..., W_N) = l(W_N ... W_1)`` and ``G = grad l(W)`` at ``W = W_N ... W_1``,

    d phi / d W_j  =  W_{N:j+1}^T  G  W_{j-1:1}^T ,        W_{j:i} = W_j ... W_i  (empty = I).

Construction
------------
Explicit ``sympy.Matrix`` factors of free real symbols, depths 1 to 4, with hidden widths
different from the outer dimensions (``d = (3,4,2)``, ``(3,1,4,2)``, ``(2,3,4,1,3)``) plus
one square case ``d = (2,2,2)`` (where a dropped transpose is shape-compatible and must be
caught by value).  Two losses:

(a) the linear functional ``<G, W>`` with ``G`` a matrix of *free* symbols held fixed.
    By the chain rule, ``d phi/d(W_j)_ab = sum_ik G_ik dW_ik/d(W_j)_ab`` with ``G = grad l``
    frozen at the point, so this single identity is E1 for every differentiable loss;
(b) the masked quadratic loss ``1/2 sum_ik m_ik (W_ik - y_ik)^2`` (mask and targets free
    symbols; matrix completion is the 0/1 mask), whose ``G = m o (W - Y)`` depends on the
    weights — the case a numerical code actually meets.

Check
-----
Every entry of ``sympy.diff(loss, (W_j)_ab)`` minus the formula is expanded and must be the
zero polynomial (after a pre-check at a random rational point, which also yields a witness
when a variant is wrong).  Tie-in: ``dmf_edu.layer_gradients`` at a random rational point
of every size against the exact derivative (relative error <= 1e-12).

Commentary
----------
Proved exactly as polynomial identities at the listed sizes, for free (generic) weights,
so no special structure (balanced, square, commuting) is assumed; the argument is the same
at every size but only these sizes are machine-checked.  Planted variants — a dropped
transpose, the product taken in the wrong order, a factor 2, and a library bug that halves
the last layer's gradient — are all rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))   # run from a checkout

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """Depth 2, d = (1, 2, 1): W = W_2 W_1 is 1x1; print both sides of E1."""
    W1, W2 = S.symbolic_weights([1, 2, 1])
    G = S.symbol_matrix("g", 1, 1)
    phi = sp.expand((G.T * S.chain_product([W1, W2]))[0, 0])
    print("phi = <G, W_2 W_1> =", phi)
    for j, (Wj, formula) in enumerate(zip([W1, W2], S.layer_gradient_formula([W1, W2], G)), start=1):
        exact = sp.Matrix(Wj.shape[0], Wj.shape[1], lambda a, b: sp.diff(phi, Wj[a, b]))
        print(f"dphi/dW_{j}: sympy.diff = {list(exact)}   E1 = {list(formula)}")


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E1"))
