r"""CP (CANDECOMP/PARAFAC) factorization of an order-N tensor: the tensor, its factor gradients (E20),
initialization, component norms, tensor rank and component balancedness (E21, E22; THEORY.md §10).

Product order, everywhere: ``factors = [A_1, ..., A_N]``, ``A_n`` of shape ``(..., d_n, R)``
(column ``r`` is ``w_r^(n)``), and

    W = sum_r  w_r^(1) o w_r^(2) o ... o w_r^(N),     W[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r],

a tensor of shape ``(..., d_1, ..., d_N)``.  Leading axes ``...`` are independent trials.  Order
``N = 2`` is the depth-2 matrix factorization ``W = A_1 A_2^T`` (``W_2 = A_1``, ``W_1 = A_2^T``).

Unfoldings (:func:`unfold`) and Khatri-Rao products (:func:`khatri_rao`) use C (row-major) order
of the remaining modes, consistently, so that ``W_(n) = A_n KhatriRao(A_{n'} : n' != n)^T`` and
``dphi/dA_n = G_(n) KhatriRao(A_{n'} : n' != n)`` (E20).  (Kolda & Bader order the remaining modes
in reverse; any order works as long as unfolding and Khatri-Rao product agree.)
"""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, check_int, check_positive

__all__ = ["cp_to_tensor", "cp_gradients", "init_cp", "component_norms", "tensor_rank",
           "component_balancedness", "unfold", "khatri_rao", "check_factors"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def check_factors(factors, name="factors"):
    """Validate CP factors ``[A_1, ..., A_N]`` and return them as float64 arrays.

    Each ``A_n`` has shape ``(..., d_n, R)`` with the same ``R``, ``N >= 2``, and leading (trial)
    axes that broadcast.  Errors are one line naming the argument and the fix.
    """
    if isinstance(factors, np.ndarray):
        raise TypeError(f"{name} must be a list [A_1, ..., A_N] of factor matrices of shape (..., d_n, R), "
                        "not one array")
    try:
        factors = list(factors)
    except TypeError:
        raise TypeError(f"{name} must be a list [A_1, ..., A_N] of factor matrices of shape (..., d_n, R)") from None
    if len(factors) < 2:
        raise ValueError(f"{name} has {len(factors)} factor(s) but a CP tensor has order N >= 2; pass "
                         "[A_1, ..., A_N] with N >= 2 (order 1 is a vector: no factorization)")
    out = [as_float_array(A, f"{name}[{n}]", min_ndim=2) for n, A in enumerate(factors)]
    R = out[0].shape[-1]
    for n, A in enumerate(out):
        if A.shape[-1] != R:
            raise ValueError(f"{name}[{n}] has shape {A.shape} but {name}[0] has shape {out[0].shape}: every "
                             f"factor A_n is (..., d_n, R) with the same rank R = {R} (number of columns)")
        if A.shape[-2] == 0 or R == 0:
            raise ValueError(f"{name}[{n}] has shape {A.shape}: dimensions d_n and the rank R must be >= 1")
    try:
        np.broadcast_shapes(*(A.shape[:-2] for A in out))
    except ValueError:
        raise ValueError(f"the leading (trial) axes of {name} do not broadcast: "
                         f"{[A.shape[:-2] for A in out]}; give every factor the same trial axes") from None
    return out


def _lead(factors):
    return np.broadcast_shapes(*(A.shape[:-2] for A in factors))


def cp_to_tensor(factors):
    r"""The CP tensor ``W[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]`` (THEORY.md §10).

    Parameters
    ----------
    factors : list of arrays
        ``[A_1, ..., A_N]``, ``A_n`` of shape ``(..., d_n, R)``, ``N >= 2``.

    Returns
    -------
    W : ndarray, shape ``(..., d_1, ..., d_N)``
        For ``N = 2``: ``A_1 A_2^T``.
    """
    factors = check_factors(factors)
    N = len(factors)
    modes = _LETTERS[:N]
    spec = ",".join(f"...{c}z" for c in modes) + f"->...{modes}"
    return np.einsum(spec, *factors, optimize=N > 2)


def unfold(T, mode, order=None):
    """Mode-``mode`` unfolding ``T_(n)`` of a tensor ``(..., d_1, ..., d_N)`` (``mode`` 0-based).

    Returns ``(..., d_n, prod_{n' != n} d_n')``: row ``i`` holds the entries with ``i_n = i``, the
    remaining modes in increasing order, row-major (the last mode fastest).  ``order`` (default
    ``T.ndim``): the tensor order ``N``, when ``T`` has leading trial axes.
    """
    N = T.ndim if order is None else order
    axis = T.ndim - N + mode
    moved = np.moveaxis(T, axis, T.ndim - N)
    return moved.reshape(moved.shape[:T.ndim - N + 1] + (-1,))


def khatri_rao(matrices):
    """Column-wise Kronecker product of ``[B_1, ..., B_k]``, ``B_j`` of shape ``(..., e_j, R)``.

    Returns ``(..., e_1 ... e_k, R)`` with row ``(i_1, ..., i_k)`` (row-major, ``i_k`` fastest)
    holding ``prod_j B_j[i_j, r]`` — the order of :func:`unfold`'s columns.
    """
    out = matrices[0]
    for B in matrices[1:]:
        out = (out[..., :, None, :] * B[..., None, :, :])
        out = out.reshape(out.shape[:-3] + (-1, out.shape[-1]))
    return out


def cp_gradients(factors, G):
    r"""Gradients of :math:`\phi(A_1, \dots, A_N) = \ell(W)` with respect to each factor (E20).

    Notes
    -----
    **E20** (THEORY.md §10): with ``G = grad ell(W)``,

    .. math:: \frac{\partial\phi}{\partial A_n}[i, r] = \sum_{i_{-n}} G[i_1, \dots, i, \dots, i_N]
              \prod_{n' \ne n} A_{n'}[i_{n'}, r],
              \qquad \frac{\partial\phi}{\partial A_n} = G_{(n)}\, \mathrm{KhatriRao}(A_{n'} : n' \ne n),

    one ``(d_n x prod d_n') @ (prod d_n' x R)`` product per mode (:func:`unfold`, :func:`khatri_rao`,
    both row-major).  For ``N = 2`` this is E1 at depth 2: ``dphi/dA_1 = G A_2`` and
    ``dphi/dA_2 = G^T A_1``.

    Parameters
    ----------
    factors : list of arrays
        ``[A_1, ..., A_N]``, ``A_n`` of shape ``(..., d_n, R)``.
    G : array, shape ``(..., d_1, ..., d_N)``
        Gradient of the loss at the CP tensor; leading axes broadcast with the factors'.

    Returns
    -------
    list of arrays
        ``[dphi/dA_1, ..., dphi/dA_N]``, each ``(lead, d_n, R)`` with the broadcast leading shape.
    """
    factors = check_factors(factors)
    N = len(factors)
    shape = tuple(A.shape[-2] for A in factors)
    G = as_float_array(G, "G", min_ndim=N)
    if G.shape[G.ndim - N:] != shape:
        raise ValueError(f"G has shape {G.shape} but the CP tensor is {'x'.join(map(str, shape))}: G must be "
                         f"the loss gradient at W, shape (..., {', '.join(map(str, shape))})")
    try:
        lead = np.broadcast_shapes(G.shape[:G.ndim - N], _lead(factors))
    except ValueError:
        raise ValueError(f"the leading (trial) axes of G {G.shape[:G.ndim - N]} do not match the factors' "
                         f"{_lead(factors)}") from None
    grads = []
    for n in range(N):
        KR = khatri_rao(factors[:n] + factors[n + 1:])
        g = np.matmul(unfold(G, n, N), KR)
        grads.append(g if g.shape[:-2] == lead else np.broadcast_to(g, lead + g.shape[-2:]).copy())
    return grads


def init_cp(shape, rank, scale, kind="balanced", rng=None, batch_shape=()):
    r"""Small initialization of a rank-``R`` CP factorization of a ``d_1 x ... x d_N`` tensor.

    ``scale`` means what it means for matrices (:func:`dmf_edu.init_weights`): the size of the
    end-to-end object: ``E ||W(0)||_F^2 = d_1 scale^2``, i.e. every row of the mode-1 unfolding
    ``W_(1)`` has expected squared norm ``scale^2``, as every row of an ``m x n`` matrix does there
    (``E ||W(0)||_F^2 = m scale^2``; an RMS per entry of ``scale / sqrt(d_2 ... d_N)``).
    For ``N = 2`` the ``"gaussian"`` kind is exactly
    ``init_weights((d_1, d_2), 2, scale, width=R)`` read as ``A_1 = W_2``, ``A_2 = W_1^T``.

    Parameters
    ----------
    shape : sequence of N >= 2 ints
        ``(d_1, ..., d_N)``.
    rank : int >= 1
        Number of components ``R``.
    scale : float > 0
    kind : {"balanced", "gaussian"}
        * ``"gaussian"``: independent ``N(0, s_n^2)`` entries with ``s_1^2 = scale^{2/N} / R`` and
          ``s_n^2 = scale^{2/N} / d_n`` for ``n >= 2`` (the fan-in rule of ``init_weights``), so
          ``E ||W||_F^2 = R prod_n d_n s_n^2 = d_1 scale^2``.  Only approximately balanced.
        * ``"balanced"``: the same Gaussian draw with every component rebalanced, ``w_r^(n) <-
          sigma_r^{1/N} w_r^(n) / ||w_r^(n)||``: the tensor ``W`` is unchanged and all mode norms of a
          component are equal (E21's balanced start, where E22 holds).
    rng : None, int or numpy Generator
    batch_shape : tuple
        Leading axes of independent trials.

    Returns
    -------
    list of arrays
        ``[A_1, ..., A_N]``, ``A_n`` of shape ``batch_shape + (d_n, R)``.
    """
    try:
        dims = [check_int(d, f"shape[{n}]", minimum=1) for n, d in enumerate(shape)]
    except TypeError:
        raise TypeError(f"shape must be a sequence (d_1, ..., d_N) of ints, got {shape!r}") from None
    if len(dims) < 2:
        raise ValueError(f"shape {tuple(dims)} has order {len(dims)}; a CP tensor needs order N >= 2")
    R = check_int(rank, "rank", minimum=1)
    scale = check_positive(scale, "scale")
    if kind not in ("balanced", "gaussian"):
        raise ValueError(f"kind must be 'balanced' or 'gaussian', got {kind!r}")
    rng = as_rng(rng)
    batch_shape = tuple(check_int(b, "batch_shape", minimum=1)
                        for b in ((batch_shape,) if np.ndim(batch_shape) == 0 else batch_shape))
    N = len(dims)
    stds = [scale ** (1.0 / N) / np.sqrt(R)] + [scale ** (1.0 / N) / np.sqrt(d) for d in dims[1:]]
    factors = [rng.standard_normal(batch_shape + (d, R)) * s for d, s in zip(dims, stds)]
    if kind == "gaussian":
        return factors
    norms = [np.linalg.norm(A, axis=-2, keepdims=True) for A in factors]       # (..., 1, R) each
    root = np.prod(norms, axis=0) ** (1.0 / N)                                 # sigma_r^{1/N}
    return [A * (root / nrm) for A, nrm in zip(factors, norms)]


def _mode_norms_sq(factors):
    """``||w_r^(n)||^2`` for every mode and component: shape ``(..., N, R)``."""
    lead = _lead(factors)
    return np.stack([np.broadcast_to(np.einsum("...ir,...ir->...r", A, A), lead + A.shape[-1:])
                     for A in factors], axis=-2)


def component_norms(factors):
    r"""Component norms ``sigma_r = ||w_r^(1) o ... o w_r^(N)||_F = prod_n ||w_r^(n)||`` (E22), shape ``(..., R)``.

    Not sorted: entry ``r`` belongs to column ``r`` of every factor.
    """
    return np.sqrt(np.prod(_mode_norms_sq(check_factors(factors)), axis=-2))


def tensor_rank(factors, tol=1e-2):
    """Measured tensor rank: the number of components with ``sigma_r > tol * max_r sigma_r`` (§10).

    An upper bound on the tensor rank of ``W`` (the true rank is NP-hard); 0 when every component
    is zero.  Returns an int array of the trial shape (0-d for one factorization).
    """
    tol = check_positive(tol, "tol", allow_zero=True)
    sigma = component_norms(factors)
    top = np.max(sigma, axis=-1, keepdims=True)
    return np.count_nonzero((sigma > tol * top) & (top > 0), axis=-1)


def component_balancedness(factors):
    r"""E21 residuals ``||w_r^(n)||^2 - ||w_r^(1)||^2`` for ``n = 2 .. N``: shape ``(..., N - 1, R)``.

    Gradient flow conserves each of them (E21); gradient descent with step ``eta`` changes them by
    ``eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)`` per step, ``g`` the factor gradients.
    Zero at a ``"balanced"`` :func:`init_cp`.
    """
    sq = _mode_norms_sq(check_factors(factors))
    return sq[..., 1:, :] - sq[..., :1, :]
