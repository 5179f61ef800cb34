r"""Beyond matrices: CP tensor factorization and tensor completion (THEORY.md §10; E20-E22, X10).

Product order: ``factors = [A_1, ..., A_N]``, ``A_n`` of shape ``(..., d_n, R)``, and
``W[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]`` (shape ``(..., d_1, ..., d_N)``; leading axes are
independent trials).  Order 2 is the depth-2 matrix case ``W = A_1 A_2^T``.

* :mod:`.cp` — the tensor, its factor gradients (E20), initialization, component norms (E22),
  measured tensor rank and component balancedness (E21);
* :mod:`.completion` — :class:`TensorCompletion`: loss on a dense tensor, and loss with factor
  gradients straight from the factors in ``O(K R N)``;
* :mod:`.baselines` — GD on the entries, nuclear norm of the most square unfolding;
* :mod:`.training` — :func:`gradient_descent` on the factors (the one training loop of
  :mod:`dmf_edu.training`, with :class:`CPModel`; returns a :class:`CPRun`).
"""

from .cp import *  # noqa: F401,F403
from .cp import __all__ as _cp
from .completion import *  # noqa: F401,F403
from .completion import __all__ as _completion
from .baselines import *  # noqa: F401,F403
from .baselines import __all__ as _baselines

from .training import *  # noqa: F401,F403
from .training import __all__ as _training

__all__ = [*_cp, *_completion, *_baselines, *_training]
