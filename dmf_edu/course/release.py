r"""``dmf-edu course release OUT [--no-solutions]``: the course as a folder to hand to a class.

``OUT/`` receives every lesson's notebook (lesson text, runnable snippets, and per checkable
exercise a stub cell raising ``NotImplementedError`` and a check cell; never a solution) and a
``README.md`` listing them with how to check and hand in.  Without ``--no-solutions`` (the
instructor's copy) ``OUT/solutions/`` also receives the worked solutions, one Markdown file
per lesson; with it (the students' copy) the notebooks do not point to the solutions either.

The command line is wired by :mod:`dmf_edu.cli` through :func:`add_arguments` and :func:`main`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .checking import DEFAULT_SEED
from .lessons import list_lessons
from .notebook import exercise_cells, notebook_name, write_notebook
from .solutions import solutions_path, solutions_text

__all__ = ["release", "add_arguments", "main"]


def release(out, solutions=True):
    """Write the release into folder ``out``; return the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, lines = [], ["# The course: notebooks", "",
                          "Open each notebook in Jupyter and run it top to bottom.  The exercises are at the "
                          "end of each notebook: write the function in its cell, run the check cell below it.",
                          "", f"Hand in the notebooks (or a .py file): `dmf-edu check FILE` grades them "
                              f"(seed {DEFAULT_SEED} unless the instructor chooses another).", ""]
    for lesson in list_lessons():
        path = write_notebook(lesson.number, out / notebook_name(lesson.number), solutions=solutions)
        written.append(path)
        checkable = ", ".join(f"{key} `{name}`" for key, name, _, _ in exercise_cells(lesson.number)) or "none"
        lines.append(f"- [{lesson.number}. {lesson.title}]({path.name}) — checkable exercises: {checkable}")
        if solutions:
            target = out / "solutions" / solutions_path(lesson.number).name
            target.parent.mkdir(exist_ok=True)
            target.write_text(solutions_text(lesson.number), encoding="utf-8")
            written.append(target)
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written + [out / "README.md"]


def add_arguments(parser):
    """The options of ``dmf-edu course release`` on an ``argparse`` parser."""
    parser.add_argument("out", metavar="OUT", help="folder to write the release into (created if needed)")
    parser.add_argument("--no-solutions", action="store_true",
                        help="the students' copy: no solutions folder, no pointer to the solutions")
    return parser


def main(args):
    """Run ``dmf-edu course release`` with parsed ``args``; return the exit code."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"dmf-edu course release: OUT {out} exists and is not a folder; give a folder path", file=sys.stderr)
        return 2
    written = release(out, solutions=not args.no_solutions)
    print(f"wrote {len(written)} files into {out}" + (" (no solutions)" if args.no_solutions else
                                                       " (solutions in solutions/: keep them from students)"))
    return 0
