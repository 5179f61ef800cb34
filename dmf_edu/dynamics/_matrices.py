r"""Small matrix helpers shared by the dynamics modules: argument pairs, floored SVDs."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array


def check_pair(W, Z, zname):
    """Validate ``W`` ``(..., m, n)`` and a same-shape ``Z`` whose leading axes broadcast."""
    W = as_float_array(W, "W", min_ndim=2)
    Z = as_float_array(Z, zname, min_ndim=2)
    if Z.shape[-2:] != W.shape[-2:]:
        raise ValueError(
            f"{zname} has shape {Z.shape} but W has shape {W.shape}: {zname} must be an "
            f"(..., {W.shape[-2]}, {W.shape[-1]}) matrix like W (e.g. the loss gradient at W)"
        )
    try:
        np.broadcast_shapes(W.shape[:-2], Z.shape[:-2])
    except ValueError:
        raise ValueError(f"the leading (trial) axes of W {W.shape[:-2]} and {zname} "
                         f"{Z.shape[:-2]} do not broadcast") from None
    return W, Z


def swap(A):
    """Transpose of the last two axes (a stack of matrices)."""
    return np.swapaxes(A, -1, -2)


def pad_values(s, size):
    """Singular values ``(..., k)`` padded with zeros to ``(..., size)``."""
    out = np.zeros(s.shape[:-1] + (size,))
    out[..., :s.shape[-1]] = s
    return out


def floored_svd(W, full_matrices=False):
    """SVD ``U, s, Vt`` with singular values at rounding level set to exactly zero.

    A computed singular value carries an absolute error of about ``eps * sigma_max``, so
    values below ``max(m, n) * eps * sigma_max`` are indistinguishable from 0; keeping them
    would turn noise ``1e-16`` into ``(1e-16)^{2/N}`` in every fractional power (E4).
    """
    U, s, Vt = np.linalg.svd(W, full_matrices=full_matrices)
    floor = max(W.shape[-2:]) * np.finfo(float).eps * s[..., :1]
    return U, np.where(s > floor, s, 0.0), Vt


def thin_svd(W):
    """:func:`floored_svd` returning ``U, s, V`` (``V`` not transposed)."""
    U, s, Vt = floored_svd(W)
    return U, s, swap(Vt)
