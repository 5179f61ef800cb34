r"""Matrix completion and matrix sensing problems, and the generators that build them from a target.

A problem owns the loss on the end-to-end matrix, ``loss(W)``, and its gradient
``G = gradient(W)``; the factorization turns ``G`` into layer gradients (E1).  Every
method accepts ``W`` of shape ``(..., m, n)`` (leading axes are independent trials)
and returns per-trial losses of shape ``(...)``.

Both problems are quadratic in a linear **measurement map** ``A: R^{m x n} -> R^K``
(:meth:`Problem.forward`; entries for completion, ``<A_k, W>`` for sensing) with observed
data ``b`` (:attr:`Problem.data`): ``ell(W) = c_l ||A(W) - b||^2``, ``G = c_g A^*(A(W) - b)``
(:meth:`Problem.adjoint`, :attr:`Problem.loss_factors`) and the constant Hessian
``H_ell[Z] = c_g A^*(A(Z))`` (:meth:`Problem.loss_hessian_apply`, E17).  The training loop,
the flows, the landscape and the convex baselines all use this one map.

Two reductions (THEORY.md §0):

* ``"sum"``: ``ell(W) = 1/2 sum_k r_k^2`` — the convention of the theory;
* ``"mean"``: ``ell(W) = (1/K) sum_k r_k^2`` — the reference code's train loss (no 1/2),
  so its learning rates carry over; for plain GD ``lr_sum = 2 lr_mean / K``.

One module per part: :mod:`.base` (the map, the loss and the reductions, shared), :mod:`.completion`,
:mod:`.sensing`, and :mod:`.sampling` (the generators that build a problem from a target
matrix of :mod:`dmf_edu.targets`).
"""
from .base import REDUCTIONS, Problem
from .completion import MatrixCompletion
from .sampling import commuting_sensing, full_observation, gaussian_sensing, sample_completion
from .sensing import MatrixSensing

__all__ = ["Problem", "MatrixCompletion", "MatrixSensing", "REDUCTIONS", "sample_completion", "gaussian_sensing",
           "commuting_sensing", "full_observation"]
