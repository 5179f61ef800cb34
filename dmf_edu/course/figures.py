r"""``show(fig, name)``: how a lesson hands over a figure.

Inside a Jupyter kernel (Colab included) the figure is shown inline, as a PNG; anywhere else
(the terminal runner, a script, the tests) it is saved into the lesson output folder and its
path printed.  The folder is ``$DMF_EDU_LESSON_OUTPUT`` when set (``dmf-edu lesson N --out DIR``
sets it), else ``./dmf-edu-lessons``.  Setting the variable also makes a notebook save
instead of display.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

__all__ = ["OUTPUT_ENV", "DEFAULT_OUTPUT", "output_dir", "figure_path", "show"]

OUTPUT_ENV = "DMF_EDU_LESSON_OUTPUT"
DEFAULT_OUTPUT = "dmf-edu-lessons"


def output_dir():
    """Folder for lesson figures (created if needed): ``$DMF_EDU_LESSON_OUTPUT`` or ``./dmf-edu-lessons``."""
    folder = Path(os.environ.get(OUTPUT_ENV) or DEFAULT_OUTPUT)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def figure_path(name):
    """Full path for a figure file ``name`` (e.g. ``"lesson1_taylor.png"``) in :func:`output_dir`."""
    if not isinstance(name, str) or not name or os.sep in name or "/" in name or name.startswith("."):
        raise ValueError(f"name must be a plain file name like 'lesson1.png', got {name!r}")
    return str(output_dir() / name)


def _in_kernel():
    """True inside a Jupyter/IPython kernel that can display images (and no output folder is forced)."""
    if os.environ.get(OUTPUT_ENV):
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def show(fig, name, dpi=90):
    """Show a matplotlib ``Figure``: inline in a notebook, else saved as ``name`` with its path printed.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name : str
        Plain PNG file name, used outside notebooks.
    dpi : int

    Returns
    -------
    str or None
        The path written, or ``None`` when the figure was displayed inline.
    """
    if _in_kernel():
        from IPython.display import Image, display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        display(Image(data=buffer.getvalue(), format="png"))
        return None
    path = figure_path(name)
    fig.savefig(path, dpi=dpi)
    print(f"figure: {path}")
    return path
