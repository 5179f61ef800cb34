r"""End-to-end dynamics of deep matrix factorization (THEORY.md E2-E11).

Gradient flow on the factors, ``dW_j/dt = -dphi/dW_j`` with ``phi = ell(W_N ... W_1)``,
moves the end-to-end matrix ``W = W_N ... W_1`` (shape ``(m, n)``) by

    dW/dt = -sum_j W_{N:j+1} (dphi/dW_j) W_{j-1:1},

which from a balanced start (E2) is ``-A_{N,W}(grad ell(W))`` (E3).  This package gives

* the operator ``A_{N,W}`` for every depth ``N >= 1`` and ``N = inf`` (E3-E5), in the
  singular basis (:func:`end_to_end_operator`) and as a sum of fractional powers
  (:func:`end_to_end_operator_sum`, for teaching);
* the velocities of the singular values (E6) and singular vectors (E7);
* the factor flow and the end-to-end flow integrated with ``scipy.integrate.solve_ivp``,
  returning a :class:`dmf_edu.training.Run` like :func:`dmf_edu.gradient_descent`;
* closed forms for one mode (E10) and the diagonal GD recursion (E11);
* numerical checks (finite differences of the SVD, the E3 identity) that return numbers.

**Time rescaling.**  ``A_{N,W}`` grows linearly with ``N`` (``A_{N,W}(Z) ~ N`` times a
weighted mean), so flows of different depths are compared in the rescaled time
``tau = N t`` (equivalently GD with step ``eta/N``):  ``dW/dtau = -(1/N) A_{N,W}(G)``, whose
limit ``N -> inf`` is ``dW/dtau = -A_{inf,W}(G)`` (E5).  Every function that accepts
``depth=numpy.inf`` works in that rescaled time; finite depths use the natural time ``t``
unless ``rescaled=True`` is passed.

One module per topic: :mod:`.operator` (E3-E5 and the inverse), :mod:`.svd` (E6-E8),
:mod:`.flows` (the ODE flows), :mod:`.closed_forms` (E10, E11), :mod:`.geometry` (the Riemannian
metric, volume and fibre entropy of E14-E16).
"""

from .closed_forms import *  # noqa: F401,F403
from .flows import *  # noqa: F401,F403
from .geometry import *  # noqa: F401,F403
from .geometry import __all__ as _geometry
from .operator import *  # noqa: F401,F403
from .svd import *  # noqa: F401,F403

__all__ = [
    "end_to_end_operator", "end_to_end_operator_sum", "end_to_end_operator_inverse", "induced_velocity",
    "singular_value_velocity", "singular_vector_velocity", "svd_velocity_fd",
    "check_end_to_end_dynamics", "check_svd_velocities",
    "gradient_flow", "end_to_end_flow",
    "scalar_velocity", "time_to_reach", "scalar_trajectory", "escape_time",
    "escape_time_asymptotic", "diagonal_recursion", *_geometry,
]
