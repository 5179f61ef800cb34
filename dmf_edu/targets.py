"""Ground-truth matrices for the experiments: random low rank (THEORY.md §7) and separated spectra (X7).

Plain matrices, no problem attached: :mod:`dmf_edu.problems` turns them into completion or
sensing problems (and re-exports both generators).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_rng, check_int, check_positive

__all__ = ["random_low_rank", "separated_target"]


def random_low_rank(m, n, rank, rng=None, normalize=True):
    r"""Random rank-``r`` ``m x n`` matrix ``M = U V^T`` with i.i.d. ``N(0, 1)`` factors.

    ``normalize=True`` rescales to ``||M||_F = sqrt(m n)`` (entries of RMS 1), the
    normalisation of the reference code (THEORY.md §7).
    """
    m = check_int(m, "m", minimum=1)
    n = check_int(n, "n", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    if rank > min(m, n):
        raise ValueError(f"rank {rank} is larger than min(m, n) = {min(m, n)}; choose rank <= {min(m, n)}")
    rng = as_rng(rng)
    U = rng.standard_normal((m, rank))
    V = rng.standard_normal((n, rank))
    M = U @ V.T
    if normalize:
        M *= np.sqrt(m * n) / np.linalg.norm(M)
    return M


def separated_target(size, rank, ratio=2.0, rng=None, symmetric=False):
    r"""A ``size x size`` rank-``R`` target ``M = U diag(s) V^T`` with ``s_k = ratio^{R-k}``.

    Parameters
    ----------
    size, rank : ints, ``1 <= rank <= size``
    ratio : float > 1
        Ratio of consecutive singular values (the smallest is 1).
    rng : None, int or Generator
        Draws the Haar-random orthogonal ``U`` and ``V``.
    symmetric : bool
        ``V = U`` (a PSD target that commutes with ``W = alpha^N I``: every mode then follows
        the scalar flow of E10 exactly).

    Returns
    -------
    M : ndarray, shape ``(size, size)``
    s : ndarray, shape ``(rank,)``, descending
    """
    size = check_int(size, "size", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    if rank > size:
        raise ValueError(f"rank {rank} exceeds size {size}; choose rank <= size")
    ratio = check_positive(ratio, "ratio")
    if ratio <= 1:
        raise ValueError(f"ratio must be > 1 so that the stages separate, got {ratio}")
    rng = as_rng(rng)

    def haar():
        Q, Rm = np.linalg.qr(rng.standard_normal((size, size)))
        return Q * np.sign(np.diag(Rm))

    U = haar()
    V = U if symmetric else haar()
    s = ratio ** np.arange(rank - 1, -1, -1.0)
    return (U[:, :rank] * s) @ V[:, :rank].T, s
