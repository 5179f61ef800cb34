r"""What the grader grades: submissions found in files and folders, notebooks turned into code.

``.py`` files are graded as they are.  A ``.ipynb`` notebook (read as JSON with the standard
library, no Jupyter needed) contributes its code cells; when some cells are tagged ``exercise``
(the stub cells of the course's notebooks) only those are taken, so a lesson notebook handed
in as homework does not rerun the lesson.  IPython magics (``%...``, ``!...``) are commented
out.  Error lines are reported as ``cell K, line L`` for notebooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Submission", "find_submissions", "load_source"]

SUFFIXES = (".py", ".ipynb")


@dataclass
class Submission:
    """One file to grade: ``path``, its Python ``source`` (``None`` with a ``problem`` message when
    it has none) and ``cells``: ``(first line, cell number)`` for notebooks."""

    path: Path
    source: str | None
    problem: str = ""
    cells: list = field(default_factory=list)

    def line_label(self, lineno):
        """``"line L of FILE"``, or ``"cell K, line L of FILE"`` for a notebook."""
        if not self.cells:
            return f"line {lineno} of {self.path.name}"
        start, cell = max((c for c in self.cells if c[0] <= lineno), default=(1, 1))
        return f"cell {cell}, line {lineno - start + 1} of {self.path.name}"


def find_submissions(paths):
    """The ``.py`` and ``.ipynb`` files named by ``paths`` (files, or folders searched recursively,
    skipping hidden folders and ``.ipynb_checkpoints``), sorted within each folder.

    Returns ``(files, problems)``: a list of paths and messages for paths that do not exist or
    hold nothing to grade.
    """
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{raw}: the folder holds no .py or .ipynb file")
            files += found
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                problems.append(f"{raw}: not a .py or .ipynb file")
            else:
                files.append(path)
        else:
            problems.append(f"{raw}: no such file or folder")
    return list(dict.fromkeys(files)), problems


def _notebook_source(path):
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return None, f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})", []
    numbered = [(k, c) for k, c in enumerate(cells, start=1)]
    tagged = [(k, c) for k, c in numbered if "exercise" in c.get("metadata", {}).get("tags", [])]
    chosen = tagged or numbered
    lines, starts = [], []
    for k, cell in chosen:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip():
            continue
        starts.append((len(lines) + 1, k))
        lines += [("# " + ln if ln.lstrip().startswith(("%", "!")) else ln) for ln in source.splitlines()]
        lines.append("")
    if not starts:
        return None, (f"{path.name} has no code: write your answers in code cells (a function named "
                      "after each exercise)"), []
    return "\n".join(lines) + "\n", "", starts


def load_source(path):
    """A :class:`Submission` for ``path`` (``.py`` or ``.ipynb``)."""
    path = Path(path)
    if path.suffix == ".ipynb":
        source, problem, cells = _notebook_source(path)
        return Submission(path, source, problem, cells)
    try:
        return Submission(path, path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return Submission(path, None, f"{path.name} is not UTF-8 text")
