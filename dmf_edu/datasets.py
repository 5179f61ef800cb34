r"""Real matrices: three that ship with matplotlib, and MovieLens-100K from the user's own copy.

The sample data inside matplotlib (``mpl-data/sample_data``) work offline and add no
dependency.  Each loader returns a float64 ``(m, n)`` array, optionally cropped
(``crop=(top, bottom, left, right)``, half-open pixel bounds of the original), downsampled
(``downsample=k``: the mean over ``k x k`` blocks, a partial last block dropped) and
standardized (``standardize=True``: mean 0 and entries of RMS 1, so that filling with zeros
scores a mean squared error of 1 and errors compare across matrices).

Real matrices are only approximately low rank (THEORY.md §9).  Each docstring reports the
decay measured by :func:`singular_value_decay` on the standardized matrix: ``r90`` / ``r99``
are the smallest ranks whose truncated SVD keeps 90 % / 99 % of ``||M||_F^2``.

MovieLens-100K may not be redistributed: :func:`load_movielens` reads a ``u.data`` that the
user downloaded (https://grouplens.org/datasets/movielens/100k/); nothing here downloads it.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from ._validate import as_float_array, check_int
from .problems import MatrixCompletion, sample_completion

__all__ = ["load_photograph", "load_mri", "load_elevation", "singular_value_decay", "observe",
           "read_movielens", "load_movielens", "sample_data_file"]

MOVIELENS_URL = "https://grouplens.org/datasets/movielens/100k/"


# --------------------------------------------------------------------------- matplotlib's files

def sample_data_file(name):
    """Absolute path of ``name`` in matplotlib's ``mpl-data/sample_data`` (matplotlib imported here).

    Raises ``FileNotFoundError`` naming the file and the matplotlib version if it is missing
    (some distributions strip the sample data)."""
    import matplotlib

    folder = os.path.join(matplotlib.get_data_path(), "sample_data")
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"matplotlib {matplotlib.__version__} has no sample file {name!r} in {folder}; "
            "install matplotlib from PyPI or conda-forge (their packages include mpl-data/sample_data)")
    return path


def _prepare(M, crop, downsample, standardize):
    """Crop, block-average and standardize a 2-D array (see the module docstring)."""
    M = np.asarray(M, dtype=np.float64)
    if crop is not None:
        if len(crop) != 4:
            raise ValueError(f"crop must be (top, bottom, left, right), got {crop!r}")
        top, bottom, left, right = (check_int(c, "crop", minimum=0) for c in crop)
        if not (top < bottom <= M.shape[0] and left < right <= M.shape[1]):
            raise ValueError(f"crop {tuple(crop)} is empty or outside the {M.shape[0]}x{M.shape[1]} matrix; "
                             f"need 0 <= top < bottom <= {M.shape[0]} and 0 <= left < right <= {M.shape[1]}")
        M = M[top:bottom, left:right]
    k = check_int(downsample, "downsample", minimum=1)
    if k > min(M.shape):
        raise ValueError(f"downsample={k} is larger than the {M.shape[0]}x{M.shape[1]} matrix; "
                         f"use at most {min(M.shape)}")
    if k > 1:
        m, n = M.shape[0] // k, M.shape[1] // k
        M = M[:m * k, :n * k].reshape(m, k, n, k).mean(axis=(1, 3))
    if standardize:
        std = M.std()
        if std == 0:
            raise ValueError("the matrix is constant: it cannot be standardized (pass standardize=False)")
        M = (M - M.mean()) / std
    return np.ascontiguousarray(M)


def load_photograph(crop=None, downsample=1, standardize=False):
    """Grayscale portrait of Grace Hopper, ``grace_hopper.jpg`` in matplotlib's sample data.

    Source: the 600 x 512 RGB JPEG (a public-domain US Navy photograph) read with
    ``matplotlib.image.imread``; gray = 0.299 R + 0.587 G + 0.114 B, scaled to [0, 1].

    Returns
    -------
    ndarray, shape ``(600, 512)`` (``(75, 64)`` with ``downsample=8``)

    Notes
    -----
    Singular value decay (standardized): full size r90 = 17, r99 = 94, sigma_10 / sigma_1 = 0.21;
    at ``downsample=8`` (75 x 64) r90 = 9, r99 = 27, sigma_10 / sigma_1 = 0.18.  The slowest
    decay of the three: fine detail (hair, medals) spreads over many singular values.
    """
    import matplotlib.image

    rgb = matplotlib.image.imread(sample_data_file("grace_hopper.jpg"))
    gray = rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if rgb.dtype == np.uint8:
        gray /= 255.0
    return _prepare(gray, crop, downsample, standardize)


def load_mri(crop=None, downsample=1, standardize=False):
    """Axial MRI slice of a head, ``s1045.ima.gz`` in matplotlib's sample data.

    Source: 256 x 256 unsigned 16-bit big-endian raw pixels (gzip), values 0 ... 215.

    Returns
    -------
    ndarray, shape ``(256, 256)`` (``(64, 64)`` with ``downsample=4``)

    Notes
    -----
    Singular value decay (standardized): full size r90 = 5, r99 = 29, sigma_10 / sigma_1 = 0.10;
    at ``downsample=4`` (64 x 64) r90 = 4, r99 = 16, sigma_10 / sigma_1 = 0.08.  The dark
    background makes it the closest of the three to low rank.
    """
    with gzip.open(sample_data_file("s1045.ima.gz"), "rb") as fh:
        raw = fh.read()
    if len(raw) != 2 * 256 * 256:
        raise ValueError(f"s1045.ima.gz holds {len(raw)} bytes, expected {2 * 256 * 256} (256x256 16-bit)")
    pixels = np.frombuffer(raw, dtype=">u2").reshape(256, 256)
    return _prepare(pixels, crop, downsample, standardize)


def load_elevation(crop=None, downsample=1, standardize=False):
    """Digital elevation model near Jacksboro, Tennessee: ``jacksboro_fault_dem.npz`` (a non-image matrix).

    Source: matplotlib's sample data, array ``elevation`` (metres), 344 x 403 grid points
    (about 10 m apart; US Geological Survey data).

    Returns
    -------
    ndarray, shape ``(344, 403)`` (``(68, 80)`` with ``downsample=5``)

    Notes
    -----
    Singular value decay (standardized): full size r90 = 9, r99 = 33, sigma_10 / sigma_1 = 0.15;
    at ``downsample=5`` (68 x 80) r90 = 8, r99 = 24, sigma_10 / sigma_1 = 0.14.
    """
    with np.load(sample_data_file("jacksboro_fault_dem.npz")) as data:
        elevation = np.array(data["elevation"], dtype=np.float64)
    return _prepare(elevation, crop, downsample, standardize)


def singular_value_decay(M):
    """How fast the singular values of ``M`` (``(m, n)``) fall.

    Returns a dict: ``r90``, ``r99``, ``r999`` (smallest rank whose truncated SVD keeps 90 %,
    99 %, 99.9 % of ``||M||_F^2``), ``ratio_10`` (``sigma_10 / sigma_1``, or the last ratio for
    smaller matrices) and ``singular_values`` (descending).
    """
    M = as_float_array(M, "M", ndim=2)
    s = np.linalg.svd(M, compute_uv=False)
    if s[0] == 0:
        raise ValueError("M is the zero matrix: its singular values do not decay")
    energy = np.cumsum(s ** 2) / np.sum(s ** 2)

    def rank_for(q):
        return int(min(np.searchsorted(energy, q - 1e-12) + 1, s.size))

    return dict(r90=rank_for(0.90), r99=rank_for(0.99), r999=rank_for(0.999),
                ratio_10=float(s[min(9, s.size - 1)] / s[0]), singular_values=s)


def observe(M, fraction, rng=None, reduction="mean", method="auto"):
    """A completion problem observing ``round(fraction * m * n)`` entries of ``M``, uniformly at random.

    ``M`` (``(m, n)``) becomes the problem's ``truth``.  ``fraction`` in (0, 1]."""
    M = as_float_array(M, "M", ndim=2)
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1] (the share of entries observed), got {fraction}")
    n_obs = max(1, int(round(fraction * M.size)))
    return sample_completion(M, n_obs, rng=rng, reduction=reduction, method=method)


# --------------------------------------------------------------------------- MovieLens

def _movielens_error(path, lineno, message):
    return ValueError(f"{path}, line {lineno}: {message} (expected 'user<TAB>item<TAB>rating<TAB>timestamp' "
                      "as in MovieLens-100K's u.data)")


def read_movielens(path):
    """Parse a MovieLens-100K ``u.data`` file: lines ``user  item  rating  timestamp`` (tabs).

    Ids are 1-based integers; ratings must lie in [1, 5].  Blank lines are skipped.

    Returns
    -------
    users, items : int arrays, shape ``(K,)``, 0-based
    ratings : float array, shape ``(K,)``
    shape : ``(max user id, max item id)``, 943 x 1682 for the full data set

    Raises ``FileNotFoundError`` naming ``path`` if it does not exist, and a one-line
    ``ValueError`` naming the file and the line for a wrong column count, a non-integer id,
    a rating outside 1-5, a duplicate (user, item) pair, or an empty file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path {path!r} does not exist; download MovieLens-100K from {MOVIELENS_URL} "
                                "(its licence forbids redistribution) and pass path='.../ml-100k/u.data'")
    users, items, ratings, seen = [], [], [], {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise _movielens_error(path, lineno, f"{len(fields)} columns instead of 4")
            try:
                user, item = int(fields[0]), int(fields[1])
            except ValueError:
                raise _movielens_error(path, lineno, f"ids must be integers, got {fields[0]!r} and {fields[1]!r}") from None
            if user < 1 or item < 1:
                raise _movielens_error(path, lineno, f"ids are 1-based, got user {user} and item {item}")
            try:
                rating = float(fields[2])
            except ValueError:
                rating = float("nan")
            if not 1.0 <= rating <= 5.0:
                raise _movielens_error(path, lineno, f"rating {fields[2]!r} is outside 1-5")
            first = seen.setdefault((user, item), lineno)
            if first != lineno:
                raise _movielens_error(path, lineno, f"duplicate (user {user}, item {item}), first on line {first}")
            users.append(user - 1)
            items.append(item - 1)
            ratings.append(rating)
    if not ratings:
        raise ValueError(f"{path}: the file is empty (no ratings); expected MovieLens-100K's u.data")
    users, items = np.array(users, dtype=np.intp), np.array(items, dtype=np.intp)
    return users, items, np.array(ratings), (int(users.max()) + 1, int(items.max()) + 1)


def load_movielens(path, test=0.2, rng=None, reduction="mean", method="auto"):
    """MovieLens-100K as a completion problem with a reproducible train/test split.

    Parameters
    ----------
    path : path to the user's ``u.data`` (see :func:`read_movielens`; never downloaded here)
    test : float in (0, 1) or int
        Share (or number) of the ratings held out for testing.
    rng : None, int or Generator
        The same seed gives the same split.
    reduction, method : passed to :class:`~dmf_edu.problems.MatrixCompletion`.

    Returns
    -------
    (train, test) : two MatrixCompletion problems of shape ``(943, 1682)`` for the full data
    (the largest ids found), on disjoint ratings (raw ratings 1-5, not centred).
    """
    users, items, ratings, shape = read_movielens(path)
    full = MatrixCompletion(shape, users, items, ratings, reduction=reduction, method=method)
    return full.split(test, rng=rng)
