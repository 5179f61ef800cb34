"""Command line: ``dmf-edu demo | prove | lesson | check | list | reproduce`` (also ``python -m dmf_edu``)."""

from __future__ import annotations

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dmf-edu",
        description="Implicit regularization in deep matrix factorization: demo, proofs, experiments.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="100x100 rank-5 completion, depths 1-3 (X1 in small form)")
    demo.add_argument("--out", default="dmf-edu-demo", help="output folder (default: ./dmf-edu-demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quick", action="store_true", help="a 30x30 version that runs in seconds")
    demo.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    prove = sub.add_parser("prove", help="run the sympy proofs and print an audit table")
    prove.add_argument("--json", action="store_true", help="print a JSON list of claims instead")
    prove.add_argument("--quick", action="store_true", help="only the fast claims")
    les = sub.add_parser("lesson", help="run lesson N of the course (docs/lessons/README.md)")
    les.add_argument("n", type=int, help="lesson number (1-8)")
    les.add_argument("--out", default=None, help="folder for the figures (default: ./dmf-edu-lessons)")
    les.add_argument("--solutions", action="store_true", help="print the worked solutions instead")
    les.add_argument("--notebook", nargs="?", const=True, default=None, metavar="PATH",
                     help="write the lesson as a Jupyter notebook (default ./NN_topic.ipynb) instead")
    chk = sub.add_parser("check", help="grade a student's FILE.py: every exercise function it defines")
    chk.add_argument("file", help="Python file defining functions named after the exercises")
    chk.add_argument("--json", action="store_true", help="print a JSON list of results instead of a table")
    chk.add_argument("--timeout", type=float, default=60.0, help="seconds per exercise (default 60)")
    sub.add_parser("list", help="list the published experiments X1...")
    rep = sub.add_parser("reproduce", help="regenerate an experiment's figure and numbers")
    rep.add_argument("id", help="experiment id (X1, X2, ...) or 'all'")
    rep.add_argument("--quick", action="store_true", help="small version (seconds to a minute)")
    rep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rep.add_argument("--jobs", type=int, default=1, help="worker processes for the sweep (default 1)")
    rep.add_argument("--out", default="figures", help="output folder (default: ./figures)")
    rep.add_argument("--data", choices=["synthetic", "movielens"], default=None,
                     help="X2 only: 'movielens' runs on your MovieLens-100K u.data (needs --path)")
    rep.add_argument("--path", default=None, help="X2 --data movielens: path to your ml-100k/u.data")
    rep.add_argument("--width", type=int, default=None, help="X2 --data movielens: hidden width (default 100)")
    return parser


def _data_config(parser, args, ids):
    """``--data/--path/--width`` as X2's config override (None when not given)."""
    if args.data is None and args.path is None and args.width is None:
        return None
    if ids != ["X2"]:
        parser.error("--data, --path and --width apply to X2 only (dmf-edu reproduce X2 --data movielens --path u.data)")
    if (args.data or "synthetic") == "synthetic":
        parser.error("--path and --width need --data movielens")
    if not args.path:
        parser.error("--data movielens needs --path to your MovieLens-100K u.data "
                     "(https://grouplens.org/datasets/movielens/100k/)")
    if args.width is not None and args.width < 1:
        parser.error("--width must be >= 1")
    return dict(data="movielens", path=args.path, **({} if args.width is None else dict(width=args.width)))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        if args.jobs < 1:
            parser.error("--jobs must be >= 1")
        demo_main(out=args.out, seed=args.seed, quick=args.quick, jobs=args.jobs)
        return 0
    if args.command == "prove":
        from .symbolic import prove_main

        return prove_main(json_output=args.json, quick=args.quick)
    if args.command == "lesson":
        from .lessons import lesson_main

        return lesson_main(args.n, out=args.out, solutions=args.solutions, notebook=args.notebook)
    if args.command == "check":
        from .course.grader import check_main

        if args.timeout <= 0:
            parser.error("--timeout must be > 0")
        return check_main(args.file, json_output=args.json, timeout=args.timeout)
    if args.command == "list":
        from .experiments import list_experiments

        for key, title in list_experiments():
            print(f"{key:<4} {title}")
        return 0
    if args.command == "reproduce":
        from .experiments import REGISTRY, get, output_name, reproduce

        try:
            ids = list(REGISTRY) if args.id.lower() == "all" else [get(args.id).ID]
        except ValueError as exc:
            parser.error(str(exc))
        if args.jobs < 1:
            parser.error("--jobs must be >= 1")
        config = _data_config(parser, args, ids)
        for key in ids:
            try:
                reproduce(key, out=args.out, quick=args.quick, seed=args.seed, jobs=args.jobs, config=config)
            except (FileNotFoundError, ValueError) as exc:
                if config is None:
                    raise
                parser.error(str(exc))
            name = output_name(key, config)
            print(f"{key}: wrote {args.out}/{name}.png and {args.out}/{name}.json")
        return 0
    parser.print_help()
    return 0 if argv is None and len(sys.argv) <= 1 else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
