r"""The loss landscape of a deep factorization (E17).

* :mod:`.hessian` — Hessian-vector products of ``phi(W_1, ..., W_N)``, the Hessian as an
  operator and a matrix, its extreme eigenvalues and the classification of a critical point;
* :mod:`.stages` — the saddle-escape stages of a run's history: singular values leaving the
  floor one after another, separated by loss plateaus.
"""

from .hessian import *  # noqa: F401,F403
from .hessian import __all__ as _hessian
from .stages import *  # noqa: F401,F403
from .stages import __all__ as _stages

__all__ = [*_hessian, *_stages]
