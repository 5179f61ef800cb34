r"""Baselines that the deep factorization is compared with (X1, X3-X5, X9; E13 and E18).

* :mod:`.nuclear_norm` — ``min ||X||_*`` subject to ``|A(X) - b| <= eps`` by ADMM, with a dual
  certificate and the duality gap (E13); :func:`nuclear_norm_kkt` re-checks any claimed pair;
* :mod:`.schatten` — Schatten-p quasi-norm minimization by IRLS, the greedy rank-one method
  (E18) and the X5 problem whose Schatten profile is closed-form;
* :mod:`.measurements` — the problem's measurement map as the solvers use it (one linear solve
  with ``A A^*``) and the constraint violation;
* :mod:`.anderson` — Anderson acceleration of the ADMM fixed-point iteration.
"""

from .nuclear_norm import *  # noqa: F401,F403
from .nuclear_norm import __all__ as _nuclear
from .schatten import *  # noqa: F401,F403
from .schatten import __all__ as _schatten

__all__ = [*_nuclear, *_schatten]
