"""Experiment rows: the plain-text table, thinning long curves for sidecars, reading old sidecars.

Rows name each quantity once: ``reconstruction_error`` (MSE over all entries), ``wall_time``
(seconds), ``success`` (a run reached its loss target).  Sidecars committed before that rule
used ``error``, ``time``/``seconds`` and ``converged``; :func:`field` reads either.
"""

from __future__ import annotations

import numpy as np

# new name -> the names older sidecars used for the same quantity
OLD_NAMES = {"reconstruction_error": ("error",), "wall_time": ("seconds", "time"), "success": ("converged",)}


def field(row, name, default=None):
    """``row[name]``, or the same quantity under its older name (see :data:`OLD_NAMES`)."""
    for key in (name,) + OLD_NAMES.get(name, ()):
        if key in row:
            return row[key]
    return default


def format_table(columns, rows):
    """Plain-text table; floats in 3 significant digits, None as '-', first column left-aligned."""
    def cell(x):
        if x is None:
            return "-"
        if isinstance(x, float):
            return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"
        return str(x)

    cells = [[cell(x) for x in row] for row in [columns] + [list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)


def thin(rows, group, max_points, spacing="linear"):
    """Keep at most ``max_points`` rows of each group (rows in recorded order), always the first
    and the last: evenly spaced (``"linear"``) or dense early and sparse late (``"geometric"``,
    for plots against a log axis).  Rows for which ``group`` returns None are kept as they are.
    Sidecars stay small while every plotted curve keeps its shape."""
    groups = {}
    for i, row in enumerate(rows):
        key = group(row)
        if key is not None:
            groups.setdefault(key, []).append(i)
    drop = set()
    for idx in groups.values():
        n = len(idx)
        if n <= max_points:
            continue
        pick = (np.geomspace(1, n, max_points) if spacing == "geometric" else np.linspace(1, n, max_points))
        keep = {idx[k] for k in np.unique(np.round(pick).astype(int) - 1)} | {idx[0], idx[-1]}
        drop.update(set(idx) - keep)
    return [row for i, row in enumerate(rows) if i not in drop]
