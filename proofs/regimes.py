r"""Regimes of a library call and the regime plants (numpy only; shared by the proof runner and
``tools/mutants.py``).

A *regime* is a tag of one call of a library function, read off its arguments:

* shape of the matrix (the first matrix argument, or ``W = W_N ... W_1`` of a weights list):
  ``square``, ``tall`` (m > n), ``wide`` (m < n); ``batched`` when it has leading axes;
* depth: ``N=1``, ``N=2``, ``N=3``, ``N>=4``, ``N=inf`` (the length of a weights list, or an
  argument named ``depth``/``N``);
* widths (weights lists with ``N >= 2``): ``equal widths`` (every d_j the same) or ``distinct widths``;
* ``degenerate``: a matrix argument with a zero singular value, a scalar/vector argument (``x``,
  ``y``, ``s``, ``a``, ``a0``, ``singular_values``, ``eigenvalues``) holding 0 or two values equal
  to 1e-6 relative (``x ~ y``);
* reduction ``sum`` / ``mean`` and problem kind ``completion`` / ``sensing`` (an argument named
  ``reduction``, or a problem object's attributes).

A *regime plant* is a library bug that fires only in one regime (:data:`REGIME_PLANTS`): a
transpose on square inputs only, an off-by-one in depth for N >= 4 only, a 1 % error on wide
(tall, equal-width, batched, mean, sum, degenerate/limit) calls only, the last element of a
returned list dropped.  :data:`ACCEPTS` lists, for each function a proof page ties, the regimes
the function accepts; the runner requires every plant whose regime is accepted to be rejected.
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers

import numpy as np

__all__ = ["REGIMES", "REGIME_PLANTS", "ACCEPTS", "EQUIVALENT", "call_regimes", "plants_for", "regime_plant", "qualname",
           "scale_output"]

REGIMES = ("square", "tall", "wide", "batched", "N=1", "N=2", "N=3", "N>=4", "N=inf", "equal widths",
           "distinct widths", "degenerate", "sum", "mean", "completion", "sensing", "list output")

# plant name -> (regime that gates it, effect)
REGIME_PLANTS = {
    "transpose@square": ("square", "transpose"),
    "x1.01@square": ("square", "scale"),
    "depth-1@N>=4": ("N>=4", "depth-1"),
    "x1.01@tall": ("tall", "scale"),
    "x1.01@wide": ("wide", "scale"),
    "x1.01@equal widths": ("equal widths", "scale"),
    "x1.01@distinct widths": ("distinct widths", "scale"),
    "x1.01@batched": ("batched", "scale"),
    "x1.01@limit": ("degenerate", "scale"),
    "x1.01@N=inf": ("N=inf", "scale"),
    "x1.01@mean": ("mean", "scale"),
    "x1.01@sum": ("sum", "scale"),
    "x1.01@sensing": ("sensing", "scale"),
    "drop-last": ("list output", "drop-last"),
}

_SHAPES = ("square", "tall", "wide")
_WEIGHTS = _SHAPES + ("N=1", "N=2", "N=3", "N>=4", "equal widths", "distinct widths", "list output")
_MATRIX = _SHAPES + ("degenerate",)
_MULT = ("N=2", "N=3", "N>=4", "N=inf", "degenerate")
_SVD = _SHAPES + ("N=1", "N=2", "N=3", "N>=4")
_CP = ("square", "tall", "N=3", "N>=4", "equal widths", "distinct widths")     # factors (d_n, R); order N

# The regimes each tied library function accepts (``module.qualname`` without ``dmf_edu.``).
ACCEPTS = {
    "factorization.layer_gradients": _WEIGHTS + ("batched",),
    "factorization.balancedness_residuals": tuple(t for t in _WEIGHTS if t != "N=1"),
    "factorization.end_to_end": _SHAPES + ("N=1", "N=2", "N=3", "N>=4", "equal widths", "distinct widths"),
    "metrics.singular_values": _MATRIX,
    "metrics.schatten_norm": _MATRIX,
    "metrics.nuclear_norm": _MATRIX,
    "linalg.depth_multiplier": _MULT,
    "linalg.multiplier_matrix": _MULT,
    "linalg.log_mean": ("degenerate",),
    "dynamics.operator.end_to_end_operator": _SVD,
    "dynamics.operator.end_to_end_operator_inverse": ("square", "N=2", "N=3", "N>=4"),
    "dynamics.operator.induced_velocity": tuple(t for t in _WEIGHTS if t != "list output"),   # returns W's velocity
    "dynamics.svd.singular_value_velocity": _SVD,
    "dynamics.svd.singular_vector_velocity": _SVD,
    "dynamics.closed_forms.scalar_trajectory": ("N=1", "N=2", "N=3", "N>=4", "N=inf"),
    "dynamics.closed_forms.scalar_velocity": ("N=1", "N=2", "N=3", "N>=4", "N=inf"),
    "dynamics.closed_forms.time_to_reach": ("N=1", "N=2", "N=3", "N>=4", "N=inf"),
    "dynamics.closed_forms.escape_time_asymptotic": ("N=1", "N=2", "N=3", "N>=4"),
    "dynamics.closed_forms.diagonal_recursion": ("N=2", "N=3", "N>=4"),
    "dynamics.geometry.metric": ("square", "tall", "wide", "N=2", "N=3", "N>=4"),
    "dynamics.geometry.minimum_norm_lift": _WEIGHTS,
    "dynamics.geometry.volume_density": ("N=2", "N=3", "N>=4"),
    "dynamics.geometry.fibre_entropy": ("N=2", "N=3", "N>=4"),
    "training.loop.gradient_descent": ("N>=4", "batched", "mean", "sum", "completion", "sensing"),
    "landscape.hessian.hessian_vector_product": _SHAPES + ("N=2", "N=3", "sum", "mean", "completion",
                                                           "sensing", "list output"),
    "baselines.nuclear_norm.nuclear_norm_kkt": _MATRIX + ("completion", "sensing", "sum", "mean"),
    "baselines.nuclear_norm.nuclear_norm_minimization": ("completion", "sensing", "sum", "mean"),
    "tensors.cp.cp_gradients": _CP + ("list output",),
    "tensors.cp.component_norms": _CP,
    "tensors.cp.component_balancedness": _CP,
    "tensors.completion.TensorCompletion.loss_and_factor_gradients": _CP + ("completion", "sum", "mean"),
}

# (function, plant) pairs no tie-in can see: the function is invariant under the plant.
EQUIVALENT = {
    ("metrics.singular_values", "transpose@square"): "singular values of W^T are those of W",
    ("metrics.schatten_norm", "transpose@square"): "a function of the singular values",
    ("metrics.nuclear_norm", "transpose@square"): "a function of the singular values",
}

_SCALAR_NAMES = ("x", "y", "a", "b", "s", "a0", "singular_values", "eigenvalues", "s_rows", "s_cols")


def qualname(fn):
    """``module.qualname`` of a library function without the leading ``dmf_edu.``."""
    fn = getattr(fn, "__wrapped__", fn)
    return ".".join(fn.__module__.split(".")[1:] + [fn.__qualname__])


def _shape_tag(m, n):
    return "square" if m == n else ("tall" if m > n else "wide")


def _depth_tag(N):
    if N is None:
        return None
    if isinstance(N, numbers.Real) and np.isinf(N):
        return "N=inf"
    N = int(N)
    return f"N={N}" if N <= 3 else "N>=4"


def _is_matrix(x):
    return isinstance(x, np.ndarray) and x.ndim >= 2 and x.dtype.kind in "fciu"


def _weights_tags(ws):
    dims = [w.shape[-1] for w in ws] + [ws[-1].shape[-2]]
    tags = {_shape_tag(dims[-1], dims[0]), _depth_tag(len(ws))}
    if len(ws) >= 2:
        tags.add("equal widths" if len(set(dims)) == 1 else "distinct widths")
    if any(w.ndim > 2 for w in ws):
        tags.add("batched")
    return tags


def _near_equal(values):
    v = np.sort(np.abs(np.ravel(np.asarray(values, dtype=float))))
    if v.size and np.any(v == 0):
        return True
    return v.size >= 2 and bool(np.any(np.diff(v) <= 1e-6 * np.maximum(v[1:], 1e-300)))


def _zero_singular_value(M):
    s = np.linalg.svd(np.asarray(M, dtype=float), compute_uv=False)
    return bool(s.size) and bool(np.any(s.min(axis=-1) <= 1e-12 * np.maximum(s.max(axis=-1), 1e-300)))


def _bound(fn, args, kwargs):
    try:
        return dict(inspect.signature(fn).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return dict({f"_{i}": v for i, v in enumerate(args)}, **kwargs)


def call_regimes(fn, args, kwargs, out=None):
    """The set of regime tags of one call ``fn(*args, **kwargs)`` (returning ``out``)."""
    bound, tags = _bound(fn, args, kwargs), set()
    values = list(bound.values())
    weights = next((v for v in values if isinstance(v, (list, tuple)) and v and all(_is_matrix(w) for w in v)),
                   None)
    matrix = next((v for v in values if _is_matrix(v)), None)
    if weights is not None:
        tags |= _weights_tags(weights)
    elif matrix is not None:
        tags.add(_shape_tag(*matrix.shape[-2:]))
        if matrix.ndim > 2:
            tags.add("batched")
    for name in ("depth", "N"):
        if isinstance(bound.get(name), numbers.Real) and not isinstance(bound.get(name), bool):
            tags.add(_depth_tag(bound[name]))
    if matrix is not None and matrix.size <= 4096 and np.all(np.isfinite(matrix)) and _zero_singular_value(matrix):
        tags.add("degenerate")
    scalars = [bound[k] for k in _SCALAR_NAMES if k in bound and bound[k] is not None
               and not _is_matrix(bound[k]) and not isinstance(bound[k], (str, bool))]
    try:
        if scalars and (_near_equal([np.ravel(np.asarray(s, dtype=float)) for s in scalars][0]) or (
                len(scalars) >= 2 and _near_equal([np.ravel(np.asarray(s, dtype=float))[0] for s in scalars[:2]]))):
            tags.add("degenerate")
    except (TypeError, ValueError):
        pass
    for v in values:
        red = v if isinstance(v, str) else getattr(v, "reduction", None)
        if red in ("sum", "mean"):
            tags.add(red)
        kind = type(v).__name__
        if "Completion" in kind:
            tags.add("completion")
        elif "Sensing" in kind:
            tags.add("sensing")
    if type(out) is list and len(out) >= 2:
        tags.add("list output")
    tags.discard(None)
    return tags


def scale_output(x, factor=1.01):
    """``(x with every float multiplied by factor, whether anything changed)``: arrays (0, inf and NaN
    stay as they are), numbers, sequences, dicts, sparse matrices and linear operators (as operators),
    and the library's result objects such as ``Run`` (a copy with its attributes scaled).  The one
    global "x1.01" effect of the regime plants here and of ``tools/mutants.py``."""
    import scipy.sparse as sps
    from scipy.sparse.linalg import LinearOperator
    if isinstance(x, (bool, int, str, bytes, np.integer, np.bool_)) or x is None:
        return x, False
    if isinstance(x, (float, complex, np.floating, np.complexfloating)):
        return type(x)(x * factor), bool(np.isfinite(x) and x != 0)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fc":
            return x, False
        return np.asarray(x * factor).view(type(x)), bool(np.any(np.isfinite(x) & (x != 0)))
    if sps.issparse(x) or isinstance(x, LinearOperator):
        return x * factor, True
    if isinstance(x, (tuple, list)):
        items = [scale_output(v, factor) for v in x]
        vals = [v for v, _ in items]
        return (type(x)(*vals) if hasattr(x, "_fields") else type(x)(vals)), any(c for _, c in items)
    if isinstance(x, dict):
        items = {k: scale_output(v, factor) for k, v in x.items()}
        out = copy.copy(x)
        out.update({k: v for k, (v, _) in items.items()})
        return out, any(c for _, c in items.values())
    if type(x).__module__.startswith("dmf_edu.") and hasattr(x, "__dict__") and not callable(x):
        out, changed = copy.copy(x), False          # a result object (Run, ...): its arrays and numbers
        for k, v in vars(x).items():
            new, c = scale_output(v, factor)
            if c:
                object.__setattr__(out, k, new)
                changed = True
        return out, changed
    return x, False


def _transpose_first_matrix(bound):
    """Swap the last two axes of the first matrix (a weights list's first factor); True if it changed."""
    for k, v in bound.items():
        if _is_matrix(v):
            bound[k] = np.swapaxes(v, -1, -2)
            return not np.array_equal(v, bound[k])
        if isinstance(v, (list, tuple)) and v and all(_is_matrix(w) for w in v) and v[0].shape[-1] == v[0].shape[-2]:
            first = np.swapaxes(v[0], -1, -2)
            bound[k] = type(v)([first] + list(v[1:]))
            return not np.array_equal(v[0], first)
    return False


def _shorter_depth(bound):
    for name in ("depth", "N"):
        v = bound.get(name)
        if isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 4:
            bound[name] = int(v) - 1
            return True
    return False


def regime_plant(fn, name, fire=None, scale=scale_output):
    """``fn`` with the regime plant ``name`` (:data:`REGIME_PLANTS`); ``fire(changed)`` hears of every
    call in the plant's regime (``changed``: whether the plant altered anything)."""
    regime, effect = REGIME_PLANTS[name]
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def planted(*args, **kwargs):
        if effect == "drop-last":
            out = fn(*args, **kwargs)
            if type(out) is list and len(out) >= 2:
                fire and fire(True)
                return out[:-1]
            return out
        if regime not in call_regimes(fn, args, kwargs):
            return fn(*args, **kwargs)
        if effect in ("transpose", "depth-1"):
            ba = signature.bind_partial(*args, **kwargs)
            bound = dict(ba.arguments)
            changed = _transpose_first_matrix(bound) if effect == "transpose" else _shorter_depth(bound)
            if changed:
                ba.arguments.update(bound)
                fire and fire(True)
                return fn(*ba.args, **ba.kwargs)
            out = fn(*args, **kwargs)
            if effect == "depth-1":                 # depth from a weights list: a 1 % error instead
                out, changed = scale(out)
            fire and fire(changed)
            return out
        out, changed = scale(fn(*args, **kwargs))
        fire and fire(changed)
        return out
    return planted


def plants_for(fn):
    """Names of the regime plants that apply to ``fn`` (its regimes in :data:`ACCEPTS`), or None if
    the function declares no regimes."""
    accepted = ACCEPTS.get(qualname(fn))
    if accepted is None:
        return None
    return [name for name, (regime, _) in REGIME_PLANTS.items()
            if regime in accepted and (qualname(fn), name) not in EQUIVALENT]
