r"""dmf_edu — learn, audit and reproduce implicit regularization in deep matrix factorization.

Product order, everywhere: the end-to-end matrix of a depth-N factorization is

    W = W_N W_{N-1} ... W_1,     weights = [W_1, ..., W_N],

with ``W_j`` of shape ``(..., d_j, d_{j-1})``, ``d_0 = n`` (columns of W) and ``d_N = m``
(rows of W).  Leading axes ``...`` are independent trials.  Formula labels (E1, ...) and
experiment ids (X1, ...) refer to THEORY.md.
"""

import importlib.util as _importlib_util
import pathlib as _pathlib
import sys as _sys

from .checks import check_layer_gradients, directional_check, entrywise_check, taylor_slope
from .linalg import depth_multiplier, log_mean, psd_power
from .factorization import (balancedness, balancedness_residuals, end_to_end, hidden_widths,
                            init_weights, layer_gradients)
from .metrics import (effective_rank, heldout_error, nuclear_norm, reconstruction_error, relative_error,
                      schatten_norm, singular_values)
from .problems import MatrixCompletion, MatrixSensing, commuting_sensing, gaussian_sensing, sample_completion
from .targets import random_low_rank
from .training import DivergenceError, Run, Stepper, gradient_descent, record_schedule
from . import baselines, dynamics, landscape, tensors
from .baselines import *  # noqa: F401,F403  (each package lists its public names in __all__)
from .dynamics import *  # noqa: F401,F403
from .landscape import *  # noqa: F401,F403
from ._version import __version__


def _checkout_proofs():
    """In a source checkout, register the top-level ``proofs/`` folder as ``dmf_edu.proofs``.

    Installed packages map it there with setuptools' ``package_dir``; a checkout used through
    ``PYTHONPATH`` must run its own pages, never the ones of another installed copy.  No-op in
    a wheel install (there is no ``proofs/`` next to the package).
    """
    folder = _pathlib.Path(__file__).resolve().parent.parent / "proofs"
    if "dmf_edu.proofs" in _sys.modules or not (folder / "__init__.py").exists():
        return
    spec = _importlib_util.spec_from_file_location("dmf_edu.proofs", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = _importlib_util.module_from_spec(spec)
    _sys.modules["dmf_edu.proofs"] = module
    spec.loader.exec_module(module)


_checkout_proofs()

__all__ = [
    "end_to_end", "layer_gradients", "init_weights", "hidden_widths", "balancedness",
    "balancedness_residuals",
    "MatrixCompletion", "MatrixSensing", "random_low_rank", "sample_completion",
    "gaussian_sensing", "commuting_sensing",
    "gradient_descent", "Run", "DivergenceError", "Stepper", "record_schedule", "heldout_error",
    "effective_rank", "nuclear_norm", "schatten_norm", "singular_values",
    "reconstruction_error", "relative_error", "depth_multiplier", "log_mean", "psd_power",
    "directional_check", "entrywise_check", "taylor_slope", "check_layer_gradients",
] + dynamics.__all__ + baselines.__all__ + landscape.__all__
