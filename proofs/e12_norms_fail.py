r"""E12 — a 2x2 completion where every Schatten (quasi-)norm points the wrong way.

Statement (THEORY.md E12)
-------------------------
Observed ``W_12 = W_21 = 1``, ``W_22 = 0``; every zero-loss solution is ``W(w) = [[w, 1], [1, 0]]``.
Then ``det W = -1``, ``sigma_max sigma_min = 1``, ``||W||_* = sqrt(w^2 + 4)``,
``||W||_F^2 = w^2 + 2``, and for every ``p > 0`` (and ``p = oo``) ``sum_i sigma_i^p`` is strictly
increasing in ``|w|``: the unique Schatten-p minimiser is ``w = 0``.

Construction
------------
``w`` a real symbol.  The characteristic polynomial of ``W^T W`` is ``l^2 - (w^2 + 2) l + 1``;
it depends on ``w^2`` only (even in ``w``), so take ``w > 0``: ``sigma_max = (sqrt(w^2+4) + w)/2``,
``sigma_min = (sqrt(w^2+4) - w)/2``.

Check
-----
Exact: det, characteristic polynomial, both roots, the product (= 1), the sum (= the
nuclear norm), the sum of squares.  Since ``sigma_min = 1/sigma_max =: 1/S``,
``sum sigma^p = S^p + S^{-p}`` and (with ``S`` an abstract function of ``w``)
``d/dw (S^p + S^{-p}) = p S' S^{-p-1} (S^{2p} - 1)``.  Signs, decided by sympy's assumptions:
``S' > 0``; ``S - 1 = (w + w^2/(sqrt(w^2+4) + 2))/2 > 0`` (an identity checked exactly, then a
sum of positive terms); ``S > 1, p > 0`` give ``2p log S > 0``, i.e. ``S^{2p} > 1``.  Hence the
derivative is positive for ``w > 0``; ``p = oo`` is ``S' > 0``.  Tie-in:
``dmf_edu.metrics.schatten_norm`` (p = 1/2, 2/3, 1, 2, 3, oo) and ``nuclear_norm`` at a
rational ``w``.

Commentary
----------
A complete proof for all real ``w`` and all ``p in (0, oo]``.  It is the static half of the
counterexample: the dynamic half (gradient flow with N >= 3 from a balanced init with
``det > 0`` drives ``|w| -> oo``) is a numerical experiment (X5), not proved here.  Planted
variants (``sqrt(w^2 + 2)``, ``sigma_max sigma_min = det``, a wrong exponent in the derivative,
a library Schatten norm without the ``1/p`` power) are rejected.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from dmf_edu import symbolic as S  # noqa: E402


def worked_example():
    """The singular values of [[w, 1], [1, 0]] and sum sigma^p at p = 1/2 for a few w."""
    w = sp.Symbol("w", positive=True)
    s1, s2 = S._e12_sigmas(w)
    print("sigma_max, sigma_min:", s1, ",", s2, "  product:", sp.expand(s1 * s2))
    for value in (0, 1, 2, 4):
        f = (s1 ** sp.Rational(1, 2) + s2 ** sp.Rational(1, 2)).subs(w, value)
        print(f"w = {value}: sum sigma^(1/2) = {float(f):.6f}")


if __name__ == "__main__":
    worked_example()
    raise SystemExit(S.proof_page_main("E12"))
