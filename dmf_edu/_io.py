"""Provenance and file output: library versions, atomic JSON sidecars, reproducible PNGs."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import tempfile

import numpy as np
import scipy

from ._version import __version__


def library_versions():
    """Versions of Python and of the scientific stack, for sidecars.

    matplotlib's and sympy's are read from their installed metadata, without importing them."""
    out = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}
    for name in ("matplotlib", "sympy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - both are install requirements
            out[name] = None
    out["dmf_edu"] = __version__
    return out


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if np.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def write_json(path, data):
    """Write ``data`` as JSON atomically (temporary file, then rename); NaN/inf become null."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(jsonable(data), fh, indent=1, sort_keys=False)
        fh.write("\n")
    os.chmod(tmp, 0o644)                  # mkstemp makes 0600 files; sidecars are for everyone
    os.replace(tmp, path)


def save_figure(fig, path):
    """Save a matplotlib figure as PNG with fixed metadata (byte-identical reruns) and close it."""
    import matplotlib.pyplot as plt

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
