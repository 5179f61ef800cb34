"""Command line: ``dmf-edu demo | prove | lesson | list | reproduce`` (also ``python -m dmf_edu``)."""

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
    prove = sub.add_parser("prove", help="run the sympy proof pages and print an audit table")
    prove.add_argument("labels", nargs="*", metavar="LABEL",
                       help="pages to run, e.g. E7 (E5 runs E5 and E5inv); default: all")
    prove.add_argument("--json", action="store_true", help="print a JSON list of pages instead")
    prove.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    prove.add_argument("--seed", type=int, default=0,
                       help="seed of the random rational points (default 0; same seed, same results)")
    prove.add_argument("--jobs", type=int, default=2,
                       help="worker processes proving pages in parallel (default 2)")
    les = sub.add_parser("lesson", help="run lesson N of the course (docs/lessons/README.md)")
    les.add_argument("n", type=int, help="lesson number (1-7)")
    sub.add_parser("list", help="list the published experiments X1...")
    rep = sub.add_parser("reproduce", help="regenerate an experiment's figure and numbers")
    rep.add_argument("id", help="experiment id (X1, X2, ...) or 'all'")
    rep.add_argument("--quick", action="store_true", help="small version (seconds to a minute)")
    rep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rep.add_argument("--jobs", type=int, default=1, help="worker processes for the sweep (default 1)")
    rep.add_argument("--out", default="figures", help="output folder (default: ./figures)")
    return parser


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
        from .prover import prove_main

        return prove_main(args.labels, json_output=args.json, quick=args.quick, seed=args.seed, jobs=args.jobs)
    if args.command == "lesson":
        from .lessons import lesson_main

        return lesson_main(args.n)
    if args.command == "list":
        from .experiments import list_experiments

        for key, title in list_experiments():
            print(f"{key:<4} {title}")
        return 0
    if args.command == "reproduce":
        from .experiments import REGISTRY, get, reproduce

        try:
            ids = list(REGISTRY) if args.id.lower() == "all" else [get(args.id).ID]
        except ValueError as exc:
            parser.error(str(exc))
        if args.jobs < 1:
            parser.error("--jobs must be >= 1")
        for key in ids:
            reproduce(key, out=args.out, quick=args.quick, seed=args.seed, jobs=args.jobs)
            print(f"{key}: wrote {args.out}/{key}.png and {args.out}/{key}.json")
        return 0
    parser.print_help()
    return 0 if argv is None and len(sys.argv) <= 1 else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
