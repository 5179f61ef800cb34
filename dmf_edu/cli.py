"""Command line: ``dmf-edu demo | prove`` (also ``python -m dmf_edu``)."""

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
    prove = sub.add_parser("prove", help="run the sympy proofs and print an audit table")
    prove.add_argument("--json", action="store_true", help="print a JSON list of claims instead")
    prove.add_argument("--quick", action="store_true", help="only the fast claims")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        demo_main(out=args.out, seed=args.seed, quick=args.quick)
        return 0
    if args.command == "prove":
        from .symbolic import prove_main

        return prove_main(json_output=args.json, quick=args.quick)
    parser.print_help()
    return 0 if argv is None and len(sys.argv) <= 1 else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
