r"""Baselines for tensor completion (THEORY.md §10): gradient descent on the entries themselves, and
nuclear-norm minimization of the most square unfolding.

* :func:`entrywise_gd` — the "linear" model: GD on ``W`` directly from a small init.  Only observed
  entries ever move, so unobserved ones stay at their init (near 0): no implicit low-rank bias.
* :func:`unfolding_nuclear_norm` — ``min ||W_{(S)}||_*`` over the unfolding whose row and column
  sizes are closest (8 x 64 for 8x8x8, 64 x 64 for 8^4), solved by the certified
  :func:`dmf_edu.baselines.nuclear_norm_minimization` on a :class:`dmf_edu.MatrixCompletion`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._validate import as_rng, check_int, check_positive
from ..baselines import nuclear_norm_minimization
from ..problems import MatrixCompletion
from .completion import TensorCompletion, check_tensor

__all__ = ["entrywise_gd", "most_square_split", "unfolding_nuclear_norm"]


def _check_problem(problem):
    if not isinstance(problem, TensorCompletion):
        raise TypeError(f"problem must be a TensorCompletion, got {type(problem).__name__}")
    if problem.values.ndim != 1:
        raise ValueError(f"problem has trial axes {problem.values.shape[:-1]}; the baselines take one problem: "
                         "pass TensorCompletion(shape, index, values[i]) for each trial")
    return problem


def entrywise_gd(problem, scale, lr, max_steps, rng=None, init=None):
    r"""Plain GD on the tensor entries, ``W <- W - lr G`` (the linear baseline of §10).

    Parameters
    ----------
    problem : TensorCompletion (one problem, no trial axes)
    scale : float > 0
        Size of the init, as for :func:`~dmf_edu.tensors.init_cp`: i.i.d. ``N(0, scale^2 / (d_2 ... d_N))``
        entries, ``E ||W(0)||_F^2 = d_1 scale^2``.  Ignored when ``init`` is given.
    lr : float > 0
    max_steps : int >= 0
    rng : None, int or numpy Generator
    init : array ``(d_1, ..., d_N)``, optional
        Starting tensor, e.g. ``cp_to_tensor(init_cp(...))`` for the very init of a CP run.

    Returns
    -------
    W : ndarray ``(d_1, ..., d_N)``
        Unobserved entries are exactly their init; each step costs ``O(K)``.
    losses : ndarray ``(max_steps + 1,)``
        The loss before each step and after the last.
    """
    problem = _check_problem(problem)
    lr = check_positive(lr, "lr")
    max_steps = check_int(max_steps, "max_steps", minimum=0)
    if init is None:
        scale = check_positive(scale, "scale")
        W = as_rng(rng).standard_normal(problem.shape) * (scale / np.sqrt(np.prod(problem.shape[1:])))
    else:
        W = np.array(check_tensor(init, problem.shape, "init"), dtype=np.float64, order="C")  # reshape below is a view
        if W.shape != problem.shape:
            raise ValueError(f"init has shape {W.shape}; pass one tensor of shape {problem.shape}")
    seen, inverse = np.unique(problem.flat_index, return_inverse=True)       # repeated indices share an entry
    flat = W.reshape(-1)
    w = flat[seen]
    c_loss, c_grad = problem.coefficients()
    losses = np.empty(max_steps + 1)
    for step in range(max_steps + 1):
        r = w[inverse] - problem.values
        losses[step] = c_loss * (r @ r)
        if step < max_steps:
            w -= lr * c_grad * np.bincount(inverse, weights=r, minlength=seen.size)
    flat[seen] = w
    return W, losses


def most_square_split(shape):
    """The modes ``(rows, cols)`` of the most square unfolding of a ``d_1 x ... x d_N`` tensor.

    Over every split of the modes into two non-empty sets (mode 0 among the rows), the one whose
    sizes ``prod rows`` and ``prod cols`` have the smallest ratio ``max / min``; ties go to the
    fewest row modes, then the first in lexicographic order.  8x8x8 -> ``((0,), (1, 2))`` (8 x 64),
    8x8x8x8 -> ``((0, 1), (2, 3))`` (64 x 64).
    """
    N = len(shape)
    best = None
    for size in range(1, N):
        for rows in itertools.combinations(range(N), size):
            if 0 not in rows:
                continue
            cols = tuple(n for n in range(N) if n not in rows)
            a, b = np.prod([shape[n] for n in rows]), np.prod([shape[n] for n in cols])
            ratio = max(a, b) / min(a, b)
            if best is None or ratio < best[0]:
                best = (ratio, rows, cols)
    return best[1], best[2]


def unfolding_nuclear_norm(problem, eps=0.0, split=None, **options):
    r"""Nuclear-norm minimization of the most square unfolding (the convex baseline of §10).

    Solves ``min ||X||_*`` over ``X = W_{(S)}``, the unfolding with the modes ``S`` as rows and the
    others as columns (row-major within each), subject to ``|X[row_k, col_k] - y_k| <= eps``.

    Parameters
    ----------
    problem : TensorCompletion (one problem, no trial axes, no repeated multi-index)
    eps : float >= 0
        Entry-wise tolerance (0: exact fit).
    split : (rows, cols), optional
        Modes of the unfolding; default :func:`most_square_split`.
    **options
        Passed to :func:`dmf_edu.baselines.nuclear_norm_minimization` (``tol``, ``max_iter``, ...).

    Returns
    -------
    W : ndarray ``(d_1, ..., d_N)``
        The solver's matrix folded back into a tensor.
    result : BaselineResult
        The solver's certified result (``X`` is the unfolded matrix; ``gap``, ``status``, ...).
    """
    problem = _check_problem(problem)
    if np.unique(problem.flat_index).size != problem.n_observations:
        raise ValueError("problem lists a multi-index more than once; the nuclear-norm baseline needs distinct "
                         "observations: merge the repeats (e.g. average their values) first")
    shape = problem.shape
    rows, cols = most_square_split(shape) if split is None else (tuple(split[0]), tuple(split[1]))
    if sorted(rows + cols) != list(range(len(shape))) or not rows or not cols:
        raise ValueError(f"split must be two non-empty disjoint sets of modes covering 0 .. {len(shape) - 1}, "
                         f"got {split!r}")
    row_dims, col_dims = [shape[n] for n in rows], [shape[n] for n in cols]
    r = np.ravel_multi_index(tuple(problem.index[:, n] for n in rows), row_dims)
    c = np.ravel_multi_index(tuple(problem.index[:, n] for n in cols), col_dims)
    m, n = int(np.prod(row_dims)), int(np.prod(col_dims))
    truth = None if problem.truth is None else np.transpose(problem.truth, rows + cols).reshape(m, n)
    matrix = MatrixCompletion((m, n), r, c, problem.values, reduction="sum", method="dense", truth=truth)
    result = nuclear_norm_minimization(matrix, eps, **options)
    W = np.transpose(np.asarray(result.X).reshape(row_dims + col_dims), np.argsort(rows + cols))
    return W, result
