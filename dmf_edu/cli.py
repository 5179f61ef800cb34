"""Command line: ``dmf-edu demo | prove | lesson | check | course | list | tasks | reproduce`` (also
``python -m dmf_edu``).  Each subcommand whose options belong to a room declares them there
(``add_arguments``) and runs through its ``main(args)``: the grader, the student release, the prover.

Bad arguments give one line on stderr and exit code 2; a failing task gives one line and exit
code 1; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .course import grader, release
from .course.runner import lesson_main
from .experiments.demo import main as demo_main
from .experiments import (REGISTRY, default_out, get, headline_table, list_experiments, recorded_wall_time,
                          reproduce, task_list)
from .experiments.runner import MissingTasksError, TaskError, parse_shard
from .training.loop import DivergenceError


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``prog: error: ...``), exit code 2."""

    experiment_options = False            # tasks, reproduce: the help lists each experiment's options

    def format_help(self):
        return super().format_help() + ("\n" + _experiment_options_help() if self.experiment_options else "")

    def error(self, message):
        hint = "" if "(see" in message else f" (see {self.prog} -h)"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def _whole_number(what, minimum, why):
    """An argparse type: a whole number >= ``minimum``, with a one-line message naming ``what``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum} ({why}), got {value}")
        return value
    return parse


_seed = _whole_number("the seed", 0, "numpy seeds are non-negative")
_jobs = _whole_number("--jobs", 1, "worker processes")


def _shard(text):
    if text.strip().lower() == "slurm":
        return "slurm"                                  # read from the environment when running
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _experiment_options_help():
    """The options each experiment declares, for the help of ``tasks`` and ``reproduce``."""
    lines = [f"  {key} {option.flag}: {option.help}" for key in REGISTRY for option in get(key).options]
    return "options of one experiment (after its id):\n" + "\n".join(lines) + "\n" if lines else ""


def build_parser(argv=()):
    """The parser; the options of ``prove`` come from the prover, imported (with sympy) only when
    ``argv`` asks for ``prove``."""
    parser = _Parser(
        prog="dmf-edu",
        description="Implicit regularization in deep matrix factorization: demo, proofs, experiments.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="100x100 rank-5 completion, depths 1-3 (X1 in small form)")
    demo.add_argument("--out", default="dmf-edu-demo", help="output folder (default: ./dmf-edu-demo)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed >= 0 (default 0)")
    demo.add_argument("--quick", action="store_true", help="a 30x30 version that runs in seconds")
    demo.add_argument("--jobs", type=_jobs, default=2, help="worker processes (default 2)")
    prove = sub.add_parser("prove", help="run the sympy proof pages and print an audit table (--list: coverage)")
    if list(argv[:1]) == ["prove"]:
        from .proofs.runner import add_arguments as add_prove_arguments     # sympy: only for `prove`
        add_prove_arguments(prove)
    les = sub.add_parser("lesson", help="run lesson N of the course (docs/lessons/README.md)")
    les.add_argument("n", type=int, help="lesson number (1-9)")
    les.add_argument("--out", default=None, help="folder for the figures (default: ./dmf-edu-lessons)")
    les.add_argument("--solutions", action="store_true", help="print the worked solutions instead")
    les.add_argument("--notebook", nargs="?", const=True, default=None, metavar="PATH",
                     help="write the lesson as a Jupyter notebook (default ./NN_topic.ipynb) instead")
    grader.add_arguments(sub.add_parser("check", help="grade submissions (.py, .ipynb, folders): every "
                                                      "exercise function they define"))
    course = sub.add_parser("course", help="course tools for instructors: `course release OUT`")
    course_sub = course.add_subparsers(dest="course_command", metavar="ACTION")
    release.add_arguments(course_sub.add_parser("release", help="write the lesson notebooks with exercise stubs "
                                                               "and check cells"))
    sub.add_parser("list", help="list the published experiments X1... with their measured run times")
    tasks = sub.add_parser("tasks", help="print an experiment's task keys, one JSON line each (for schedulers)")
    tasks.experiment_options = True
    tasks.add_argument("id", help="experiment id (X1, X2, ...) or 'all'")
    tasks.add_argument("--quick", action="store_true", help="the tasks of the quick version")
    tasks.add_argument("--seed", type=_seed, default=0, help="random seed >= 0 (default 0)")
    rep = sub.add_parser("reproduce", help="regenerate an experiment's figure and numbers",
                         description="Full-mode outputs go to ./figures; --quick outputs go to ./figures/quick and "
                                     "never replace a full-mode sidecar (unless --force).  Finished tasks are "
                                     "cached in OUT/.cache, shared by shards (docs/cluster.md).")
    rep.experiment_options = True
    rep.add_argument("id", help="experiment id (X1, X2, ...) or 'all'")
    rep.add_argument("--quick", action="store_true", help="small version (seconds to a minute)")
    rep.add_argument("--seed", type=_seed, default=0, help="random seed >= 0 (default 0)")
    rep.add_argument("--jobs", type=_jobs, default=1, help="worker processes for the sweep (default 1)")
    rep.add_argument("--out", default=None, help="output folder (default: ./figures, or ./figures/quick with --quick)")
    rep.add_argument("--shard", type=_shard, default=None, metavar="K/N|slurm",
                     help="compute only the K-th of N slices of the tasks into the cache (no figure); "
                          "'slurm': K and N from the Slurm array variables")
    rep.add_argument("--no-compute", action="store_true",
                     help="only plot from the cache; fail listing the tasks that are missing")
    rep.add_argument("--force", action="store_true", help="let a quick run replace a full-mode sidecar")
    return parser


def _experiment_options(parser, experiments, extra):
    """The experiment's own options (``extra``: the arguments the common parser did not know)
    as its config overrides (None when none given)."""
    if not extra:
        return None
    if len(experiments) != 1 or not experiments[0].options:
        declared = {o.flag: key for key in REGISTRY for o in get(key).options}
        flags = [a.split("=")[0] for a in extra if a.startswith("--")]
        owners = sorted({declared[f] for f in flags if f in declared})
        if owners:
            parser.error(f"{', '.join(f for f in flags if f in declared)} apply to {', '.join(owners)} only "
                         f"(e.g. dmf-edu reproduce {owners[0]} {' '.join(extra)})")
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    experiment = experiments[0]
    sub = _Parser(prog=f"{parser.prog} {experiment.id}", add_help=False)
    for option in experiment.options:
        sub.add_argument(option.flag, type=option.type, choices=option.choices, default=None, help=option.help)
    values = vars(sub.parse_args(extra))
    try:
        return experiment.options_config(values)
    except ValueError as exc:
        parser.error(str(exc))


def _flags(extra):
    return "".join(f" {a}" for a in extra)


def _list():
    """``dmf-edu list``: titles, and the wall times the sidecars in figures/ recorded."""
    full_dir = default_out(False)
    if not os.path.isdir(full_dir):                       # not run from a checkout: the package's own
        full_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "figures")
    quick_dir = os.path.join(full_dir, "quick")
    print(f"{'id':<4} {'full':>9} {'quick':>9}  title   (wall time recorded in {full_dir}/ID.json and "
          f"{quick_dir}/ID.json, 2 cores; a re-plot from the cache records only the plot)")
    for key, title in list_experiments():
        full, quick = (_duration(recorded_wall_time(key, folder)) for folder in (full_dir, quick_dir))
        print(f"{key:<4} {full:>9} {quick:>9}  {title}")
    return 0


def _duration(seconds):
    if seconds is None:
        return "unknown"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def main(argv=None):
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("tasks", "reproduce"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "demo":
        try:
            demo_main(out=args.out, seed=args.seed, quick=args.quick, jobs=args.jobs)
        except TaskError as exc:
            parser.exit(1, f"dmf-edu demo: {exc}\n")
        return 0
    if args.command == "prove":
        from .proofs.runner import main as prove_main     # sympy: only for `prove`

        return prove_main(args)
    if args.command == "lesson":
        return lesson_main(args.n, out=args.out, solutions=args.solutions, notebook=args.notebook)
    if args.command == "check":
        return grader.main(args)
    if args.command == "course":
        if args.course_command != "release":
            parser.error("course needs an action: dmf-edu course release OUT [--no-solutions]")
        return release.main(args)
    if args.command == "list":
        return _list()
    if args.command in ("tasks", "reproduce"):
        return _experiments_main(parser, args, extra)
    parser.print_help()
    return 0 if argv is None and len(sys.argv) <= 1 else 2


def _experiments_main(parser, args, extra):
    """``dmf-edu tasks`` and ``dmf-edu reproduce``: one registry lookup, one-line errors, never a traceback."""
    try:
        experiments = [get(key) for key in REGISTRY] if args.id.lower() == "all" else [get(args.id)]
        shard = parse_shard("slurm") if getattr(args, "shard", None) == "slurm" else getattr(args, "shard", None)
    except ValueError as exc:
        parser.error(str(exc))
    config = _experiment_options(parser, experiments, extra)
    if args.command == "tasks":
        try:
            for experiment in experiments:
                tasks = task_list(experiment, quick=args.quick, seed=args.seed, config=config)
                for i, task in enumerate(tasks, 1):
                    print(json.dumps(dict(id=experiment.id, key=task["key"], index=i, count=len(tasks),
                                          shard=f"{i}/{len(tasks)}")))
        except (ValueError, FileNotFoundError) as exc:
            parser.exit(2, f"dmf-edu tasks: error: {exc}\n")
        return 0
    try:
        for experiment in experiments:
            results = reproduce(experiment, out=args.out, quick=args.quick, seed=args.seed, jobs=args.jobs,
                                shard=shard, compute=not args.no_compute, force=args.force, config=config)
            if shard is not None:
                print(f"{experiment.id}: shard {shard[0]}/{shard[1]} done ({len(results['rows'])} rows cached); "
                      f"then `dmf-edu reproduce {experiment.id}{' --quick' if args.quick else ''}{_flags(extra)}` "
                      "plots from the cache")
                continue
            out = args.out or default_out(args.quick)
            name = experiment.name(config)
            print(f"{experiment.id}: wrote {out}/{name}.png and {out}/{name}.json")
            print(headline_table(experiment, results))
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as exc:
        parser.exit(2, f"dmf-edu reproduce: error: {exc}\n")
    except (TaskError, MissingTasksError, DivergenceError) as exc:
        parser.exit(1, f"dmf-edu reproduce: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "dmf-edu reproduce: interrupted; finished tasks are cached, rerun to resume\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
