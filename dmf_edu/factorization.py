r"""Deep matrix factorization: the product, its layer gradients, initialization, balancedness.

Product order, everywhere: ``W = W_N W_{N-1} ... W_1`` with ``weights = [W_1, ..., W_N]``
and ``W_j`` of shape ``(..., d_j, d_{j-1})``; ``d_0 = n`` (input) and ``d_N = m`` (output),
so ``W`` is ``(..., m, n)``.  Leading axes ``...`` are independent trials.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dgemm     # dgemm(alpha, a, b, beta, c, trans_a, trans_b, overwrite_c)

from ._validate import as_float_array, as_rng, check_depth, check_int, check_positive, check_shape, check_weights


def end_to_end(weights):
    """End-to-end matrix ``W = W_N ... W_1``.

    Parameters
    ----------
    weights : list of arrays
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``.

    Returns
    -------
    W : ndarray, shape ``(..., d_N, d_0)``
    """
    weights = check_weights(weights)
    return prefix_products(weights)[-1]


def prefix_products(weights, out=None):
    """Prefix products ``[W_{1:1}, W_{2:1}, ..., W_{N:1}]`` (``W_{j:1} = W_j ... W_1``).

    The last entry is the end-to-end matrix.  ``N - 1`` matrix products; no validation
    (the hot path of training calls it with arrays it owns).  ``out`` (optional): ``N - 1``
    preallocated arrays for ``W_{2:1}, ..., W_{N:1}``, written in place.
    """
    prefixes = [weights[0]]
    for j in range(1, len(weights)):
        prefixes.append(np.matmul(weights[j], prefixes[-1], out=None if out is None else out[j - 1]))
    return prefixes


def _sparse_products(G, top, below):
    r"""``(G^T W_N, G W_{N-1:1}^T)`` for a 2-D scipy sparse ``G`` (``top = W_N``, ``below = W_{N-1:1}``).

    scipy multiplies a CSR matrix into a dense one by gathering rows of the dense factor, and a
    CSC matrix by scattering into rows of the result; ``G^T`` is CSC when ``G`` is CSR and the
    reverse.  So both products read or write at random rows of ``n x d`` arrays when ``G`` is CSR,
    of ``m x d`` arrays when ``G`` is CSC: the smaller stays in cache.  A sparse completion problem
    hands out CSC when ``m < n``, CSR otherwise (943 x 1682, ``d = 100``: about 15 % faster);
    other formats are converted to that choice.  Either way every entry of a result adds its terms
    by increasing index, so the numbers do not depend on the format.
    """
    if G.format not in ("csr", "csc"):
        G = G.tocsc() if G.shape[0] < G.shape[1] else G.tocsr()
    return G.T @ top, G @ np.ascontiguousarray(np.swapaxes(below, -1, -2))


def backward(weights, prefixes, G, buffers=None):
    r"""Layer gradients (E1) given the forward prefixes; ``2N - 2`` matrix products.

    ``B_N = G``, ``B_{j-1} = W_j^T B_j`` (so ``B_j = W_{N:j+1}^T G``), and
    ``dphi/dW_j = B_j W_{j-1:1}^T`` with ``W_{0:1} = I``, so ``dphi/dW_1 = B_1``.  ``G`` may be a
    2-D ``scipy.sparse`` matrix (unbatched factors only).  ``buffers`` (optional, for the training
    loop): ``(grads, chain)``, preallocated arrays written with ``out=`` products; ``grads[j]``
    shaped like ``dphi/dW_{j+1}`` (with the trial axes) and ``chain[j]`` like ``B_{j+1}``,
    ``(..., d_{j+1}, n)`` for ``j = 1 .. N - 2``.  Depth 1 returns ``G`` itself.
    """
    N = len(weights)
    grads, chain = (([None] * N, [None] * N) if buffers is None else buffers)
    result = [None] * N
    B = G
    for j in range(N - 1, 0, -1):           # j is the 0-based index of W_{j+1}
        P_T = np.swapaxes(prefixes[j - 1], -1, -2)
        W_T = np.swapaxes(weights[j], -1, -2)
        if hasattr(B, "tocsr"):             # sparse G = B_N: W_N^T G computed as (G^T W_N)^T
            Bt, result[j] = _sparse_products(B, weights[j], prefixes[j - 1])
            B = Bt.T
        else:
            result[j] = np.matmul(B, P_T, out=grads[j])
            B = np.matmul(W_T, B, out=grads[0] if j == 1 else chain[j - 1])
    result[0] = B.toarray() if hasattr(B, "toarray") else B
    return result


def gd_update(weights, prefixes, G, lr, scratch):
    r"""One plain GD step ``W_j <- W_j - lr dphi/dW_j`` (E1) with each gradient product fused into
    its update: BLAS ``gemm`` with ``beta = 1`` adds ``-lr B_j W_{j-1:1}^T`` straight into ``W_j``.

    The same products as :func:`backward` followed by the subtraction, in an order that never reads
    a factor after it moved: ``B_{j-1} = W_j^T B_j`` is formed before ``W_j`` is updated, ``W_2``
    steps before ``W_1`` (which is ``W_{1:1}``, needed by ``dphi/dW_2``), and the old ``W_2``, needed
    by ``dphi/dW_1 = W_2^T B_2``, is copied into ``scratch[1]`` (``d_2 x d_1``, usually far smaller
    than ``W_1``).  The chain is kept transposed (``B_j^T`` in ``scratch[j]``, shape ``(n, d_j)``,
    j >= 2) so that every product runs in BLAS's fast layout (``G`` is copied to ``G^T`` unless it
    is Fortran-ordered, as completion gradients are).  A sparse ``G`` (depth >= 3) makes its two
    products with scipy (:func:`_sparse_products`), then the chain continues dense.  Unbatched,
    C-contiguous float64 factors, depth >= 2 only (the training loop checks this and uses
    :func:`backward` otherwise).
    """
    top = len(weights) - 1
    if hasattr(G, "tocsr"):                    # B_N = G sparse: B_{N-1}^T = G^T W_N, then W_N's step
        Bt, step = _sparse_products(G, weights[top], prefixes[top - 1])
        weights[top] -= np.multiply(step, lr, out=step)                  # lr dphi/dW_N, in place
        top -= 1
    else:
        Bt = G.T if G.T.flags.c_contiguous else np.ascontiguousarray(G.T)  # B_N^T
    for j in range(top, 1, -1):                # W_{j+1}, 0-based j >= 2
        nxt = np.matmul(Bt, weights[j], out=scratch[j])                  # B_j^T = B_{j+1}^T W_{j+1}
        dgemm(-lr, prefixes[j - 1].T, Bt.T, 1.0, weights[j].T, 1, 1, 1)   # W_{j+1} -= lr B_{j+1} W_{j:1}^T
        Bt = nxt
    W2 = scratch[1]
    np.copyto(W2, weights[1])
    dgemm(-lr, weights[0].T, Bt.T, 1.0, weights[1].T, 1, 1, 1)            # W_2 -= lr B_2 W_1^T
    dgemm(-lr, Bt.T, W2.T, 1.0, weights[0].T, 1, 1, 1)                    # W_1 -= lr W_2^T B_2 (old W_2)


def layer_gradients(weights, G):
    r"""Gradients of :math:`\phi(W_1, \dots, W_N) = \ell(W_N \cdots W_1)` w.r.t. each factor.

    Notes
    -----
    **E1** (THEORY.md): with ``G = grad ell(W)``,

    .. math:: \frac{\partial\phi}{\partial W_j} = W_{N:j+1}^\top\, G\, W_{j-1:1}^\top,

    where ``W_{j:i} = W_j \cdots W_i`` and an empty product is the identity.  Computed
    with one forward pass of prefix products and one backward pass: ``3N - 3`` products.

    Parameters
    ----------
    weights : list of arrays
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``.
    G : array, shape ``(..., d_N, d_0)``
        Gradient of the loss at the end-to-end matrix; leading axes broadcast with the factors'.

    Returns
    -------
    list of arrays
        ``[dphi/dW_1, ..., dphi/dW_N]``, each with its factor's trailing shape and the
        broadcast leading (trial) shape.
    """
    weights = check_weights(weights)
    m, n = weights[-1].shape[-2], weights[0].shape[-1]
    if hasattr(G, "tocsr"):
        if G.shape != (m, n) or any(w.ndim != 2 for w in weights):
            raise ValueError("a sparse G must be 2-D of shape (m, n) with unbatched factors")
    else:
        G = as_float_array(G, "G", min_ndim=2)
        if G.shape[-2:] != (m, n):
            raise ValueError(
                f"G has shape {G.shape} but the end-to-end matrix W = W_N ... W_1 is {m}x{n}: "
                f"G must be the loss gradient at W, shape (..., {m}, {n})"
            )
        try:
            np.broadcast_shapes(G.shape[:-2], *(w.shape[:-2] for w in weights))
        except ValueError:
            raise ValueError(f"the leading (trial) axes of G {G.shape[:-2]} do not match the weights'") from None
    grads = backward(weights, prefix_products(weights), G)
    if grads[0] is G:                      # depth 1: dphi/dW_1 = G; never hand back the caller's array
        grads[0] = G.copy()
    lead = np.broadcast_shapes(
        *(w.shape[:-2] for w in weights), () if hasattr(G, "tocsr") else G.shape[:-2]
    )
    return [np.broadcast_to(g, lead + w.shape[-2:]).copy() if g.shape[:-2] != lead else g
            for g, w in zip(grads, weights)]


def hidden_widths(shape, depth, width=None):
    """Layer dimensions ``[d_0, d_1, ..., d_N]`` for an ``m x n`` product of depth ``N``.

    ``width`` is ``None`` (every hidden width ``min(m, n)``, enough for any rank), an int
    (all hidden widths), or a sequence of ``N - 1`` ints.
    """
    m, n = check_shape(shape)
    N = check_depth(depth)
    if width is None:
        hidden = [min(m, n)] * (N - 1)
    elif np.ndim(width) == 0:
        hidden = [check_int(width, "width", minimum=1)] * (N - 1)
    else:
        hidden = [check_int(w, f"width[{i}]", minimum=1) for i, w in enumerate(width)]
        if len(hidden) != N - 1:
            raise ValueError(
                f"width lists {len(hidden)} hidden widths but depth {N} needs {N - 1} "
                f"(d_1 ... d_{N - 1}); pass an int for equal widths"
            )
    return [n] + hidden + [m]


def _orthonormal_columns(rng, rows, cols, batch_shape):
    """Random ``rows x cols`` matrices with orthonormal columns (QR of a Gaussian)."""
    Q, R = np.linalg.qr(rng.standard_normal(batch_shape + (rows, cols)))
    return Q * np.sign(np.diagonal(R, axis1=-2, axis2=-1))[..., None, :]


def init_weights(shape, depth, scale, kind="gaussian", width=None, rng=None, batch_shape=()):
    r"""Small initialization of a depth-``N`` factorization of an ``m x n`` matrix.

    Parameters
    ----------
    shape : (m, n)
        Shape of the end-to-end matrix ``W = W_N ... W_1``.
    depth : int >= 1
    scale : float > 0
        Size of the end-to-end matrix at init (see ``kind``); all three kinds give
        ``||W(0)||_F`` of order ``sqrt(m) * scale`` for square shapes.
    kind : {"gaussian", "balanced", "identity"}
        * ``"gaussian"``: i.i.d. ``N(0, std_j^2)`` entries with ``std_j = scale^{1/N} / sqrt(d_{j-1})``
          (fan-in); for equal widths this is the reference code's ``scale^{1/N}/sqrt(width)``.
          Then ``E ||W(0)||_F^2 = m scale^2``.  Only approximately balanced.
        * ``"balanced"``: exactly balanced (E2: ``W_{j+1}^T W_{j+1} = W_j W_j^T``).  The
          end-to-end matrix is a Gaussian matrix with ``N(0, scale^2 / n)`` entries (same
          ``E ||W(0)||_F^2 = m scale^2``), with thin SVD ``U S V^T`` of rank
          ``k = min(m, n, widths)``, factored as ``W_j = Q_j S^{1/N} Q_{j-1}^T``,
          ``Q_0 = V``, ``Q_N = U`` and random ``Q_j`` with orthonormal columns.
        * ``"identity"``: ``W_j = scale^{1/N} I`` (square, equal widths), so ``W(0) = scale I``.
    width : None, int or sequence of N-1 ints
        Hidden widths ``d_1 .. d_{N-1}`` (default ``min(m, n)``).
    rng : None, int or numpy Generator
    batch_shape : tuple
        Leading axes of independent trials (independent draws for random kinds).

    Returns
    -------
    list of arrays
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``batch_shape + (d_j, d_{j-1})``.
    """
    dims = hidden_widths(shape, depth, width)
    N = len(dims) - 1
    scale = check_positive(scale, "scale")
    rng = as_rng(rng)
    batch_shape = tuple(check_int(b, "batch_shape", minimum=1)
                        for b in ((batch_shape,) if np.ndim(batch_shape) == 0 else batch_shape))
    if kind == "gaussian":
        return [rng.standard_normal(batch_shape + (dims[j + 1], dims[j]))
                * (scale ** (1.0 / N) / np.sqrt(dims[j])) for j in range(N)]
    if kind == "balanced":
        m, n = dims[-1], dims[0]
        W = rng.standard_normal(batch_shape + (m, n)) * (scale / np.sqrt(n))
        k = min(dims)
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        U, s, V = U[..., :, :k], s[..., :k], np.swapaxes(Vt[..., :k, :], -1, -2)
        Q = [V] + [_orthonormal_columns(rng, d, k, batch_shape) for d in dims[1:-1]] + [U]
        root = s ** (1.0 / N)
        return [np.matmul(Q[j + 1] * root[..., None, :], np.swapaxes(Q[j], -1, -2))
                for j in range(N)]
    if kind == "identity":
        if len(set(dims)) != 1:
            raise ValueError(
                f"kind='identity' needs a square product and equal widths, got dims {dims}; "
                "use kind='balanced' for rectangular shapes"
            )
        eye = np.broadcast_to(np.eye(dims[0]) * scale ** (1.0 / N), batch_shape + (dims[0],) * 2)
        return [eye.copy() for _ in range(N)]
    raise ValueError(f"kind must be 'gaussian', 'balanced' or 'identity', got {kind!r}")


def _gram_pairs(weights):
    """``(W_{j+1}^T W_{j+1}, W_j W_j^T)`` for j = 1 .. N-1: the two sides of E2."""
    for j in range(len(weights) - 1):
        yield (np.swapaxes(weights[j + 1], -1, -2) @ weights[j + 1],
               weights[j] @ np.swapaxes(weights[j], -1, -2))


def balancedness_residuals(weights):
    r"""``[D_1, ..., D_{N-1}]`` with ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (E2), each ``(..., d_j, d_j)``."""
    return [A - B for A, B in _gram_pairs(check_weights(weights))]


def balancedness(weights):
    r"""Relative balancedness residual (E2), one number per trial.

    .. math:: \max_j \frac{\|W_{j+1}^\top W_{j+1} - W_j W_j^\top\|_F}{\|W_{j+1}^\top W_{j+1}\|_F + \|W_j W_j^\top\|_F}

    0 for an exactly balanced factorization (and for depth 1), at most 1.  Gradient flow
    conserves every ``D_j`` (E2), so this stays small along a run from balanced init.

    Returns
    -------
    ndarray of shape ``(...)`` (the trial shape; a 0-d array for a single factorization)
    """
    weights = check_weights(weights)
    worst = np.zeros(np.broadcast_shapes(*(w.shape[:-2] for w in weights)))
    for A, B in _gram_pairs(weights):
        den = np.linalg.norm(A, axis=(-2, -1)) + np.linalg.norm(B, axis=(-2, -1))
        num = np.linalg.norm(A - B, axis=(-2, -1))
        worst = np.maximum(worst, np.divide(num, den, out=np.zeros_like(num), where=den > 0))
    return worst


def product_singular_values(weights, prefixes=None):
    r"""Singular values of ``W = W_N ... W_1`` (descending, ``min(m, n)`` of them).

    When a hidden width ``k`` is at most half of ``min(m, n)``, through that layer: ``W = A B``
    with ``A = W_{N:j+1}`` (``m x k``) and ``B = W_{j:1}`` (``k x n``); QR factors ``A = Q_a R_a``
    and ``B^T = Q_b R_b`` give ``W = Q_a (R_a R_b^T) Q_b^T``, so the nonzero singular values are
    those of the ``k x k`` matrix ``R_a R_b^T``: ``O((m + n) k^2)`` work instead of ``O(m n min(m, n))``.
    ``prefixes`` (optional): :func:`prefix_products` of ``weights``, when already computed.
    Returns an array of shape ``(..., min(m, n))``.
    """
    if prefixes is None:
        weights = check_weights(weights)
        prefixes = prefix_products(weights)
    W = prefixes[-1]
    m, n = W.shape[-2:]
    widths = [w.shape[-2] for w in weights[:-1]]
    if not widths or 2 * min(widths) > min(m, n):
        return np.linalg.svd(W, compute_uv=False)
    k = min(widths)
    j = max(i for i, d in enumerate(widths) if d == k)       # W_{j+1} maps to width k
    A = weights[-1]
    for w in weights[-2:j:-1]:
        A = A @ w
    R = np.linalg.qr(A, mode="r") @ np.swapaxes(np.linalg.qr(np.swapaxes(prefixes[j], -1, -2), mode="r"), -1, -2)
    s = np.linalg.svd(R, compute_uv=False)
    return np.concatenate([s, np.zeros(s.shape[:-1] + (min(m, n) - k,))], axis=-1)
