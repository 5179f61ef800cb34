"""Mutation testing: does the test suite notice a 1 % error or a transposition?

Run from the root of the checkout; it is not part of the default test run::

    python tools/mutants.py                  # every plant, 2 jobs; exit status 1 if any is missed
    python tools/mutants.py --list           # the discovered functions and the skip-list
    python tools/mutants.py --only volume_density,problems.Problem.loss --jobs 1 --json out.json

1. Discover the public functions: the ``__all__`` of ``dmf_edu`` and of each public module and
   subpackage (where a module has none: the public names it defines), and the public methods and
   properties of public classes.  ``SKIP`` names the non-numeric ones, each with a reason.
2. Probe: one run of the suite, every function wrapped by a recorder of the tests that reach it
   (directly or through library code; a call in a module-scoped fixture counts for its whole
   file) and of what a plant could change.
3. Plant one bug at a time, in a pytest subprocess (``-x``) on the tests that reach the
   function (its own module's first, then the fastest): ``x1.01`` multiplies every float of the
   output (arrays, scalars, inside tuples, lists, dicts and result objects such as ``Run`` --
   its weights and history -- or a problem's data; sparse matrices and linear operators as
   operators); ``transpose`` swaps the last two axes of the first argument with >= 2 axes, or,
   if there is none, of the (first) returned one.  Every reference to the function in the
   loaded package (module globals, class attributes, default arguments, module-level dicts
   and lists) is replaced, so library code calling it sees the bug too.
   Regime plants (``dmf_edu.proofs.regimes.REGIME_PLANTS``: ``transpose@square``,
   ``depth-1@N>=4``, ``x1.01@wide``, ``x1.01@mean``, ``drop-last``, ...) fire only on calls in
   their regime (shape, depth, widths, degenerate input, reduction, problem kind, list output).
4. Report: caught (first failing test), MISSED (the reaching tests pass, or none reaches it),
   unreached (a regime plant whose regime no test calls the function in),
   n/a (in no call can the plant change anything -- floats all 0/inf/NaN, matrices symmetric --
   or it is a declared ``EQUIVALENT``) or error.

The plants and the probe live in ``tools/mutants_plant.py``, the pytest plugin each run loads
(``-p mutants_plant``, ``tools/`` on the path); pytest never collects either file.
"""

import argparse
import concurrent.futures as cf
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time

PLANTS = ("x1.01", "transpose")
# regime plants (proofs/regimes.py): a bug that fires only in one regime of the call
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dmf_edu.proofs.regimes import EQUIVALENT as _REGIME_EQUIVALENT, REGIME_PLANTS  # noqa: E402

ALL_PLANTS = PLANTS + tuple(REGIME_PLANTS)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Public names that return no numbers a test could check to 1 %, with the reason.  A prefix
# ending in "." skips a whole module.
SKIP = {
    "cli.": "command-line entry point: returns an exit code",
    "proofs.": "proof pages: exact sympy objects and verdicts (their tie-ins call the library)",
    "symbolic.": "proof machinery: exact sympy objects and verdicts (its tie-ins call the library)",
    "demo.": "CLI demo driver: formats and plots rows computed by planted library functions",
    "experiments.": "experiment drivers (X1-X9): CLI reproductions of planted library functions",
    "exercises.names": "returns exercise names",
    "exercises.describe": "returns text",
    "exercises.solution": "returns a function (the reference solutions are tested through it)",
    "counterexamples.x4_commuting_sensing": "X4 experiment driver (heavy; CLI)",
    "counterexamples.x5_razin_cohen": "X5 experiment driver (heavy; CLI)",
    "counterexamples.schatten_vs_depth": "X1 norm-profile experiment driver (heavy; CLI)",
    "saddles_experiment.x7_run": "X7 experiment driver (CLI)",
    "saddles_experiment.x7_stages": "X7 experiment driver (CLI)",
    "saddles_experiment.x7_escape_times": "X7 experiment driver (CLI)",
    "saddles_experiment.x6_depth_limit": "X6 experiment driver (CLI)",
    "training.Run.save": "writes a file",
    "runs.Run.save": "writes a file (its numbers are checked through Run.load)",
    "prover.": "proof runner: pages, labels, verdicts and audit tables of the exact proofs",
    "course.checking.names": "returns exercise names",
    "course.checking.describe": "returns text",
    "course.checking.check": "returns a pass/fail report on a student's function",
    "course.checking.reference": "returns a function (the reference solutions are planted)",
    "course.lessons.": "course files: paths, text snippets and their execution",
    "course.figures.": "course figures: output folders, file paths and saved plots",
    "course.grader.": "course grader: tables of verdicts and exit codes",
    "course.markdown.": "course text: markdown blocks and terminal rendering",
    "course.notebook.": "course notebooks: nbformat JSON and file paths",
    "course.runner.": "course runner: executes a lesson, returns an exit code",
    "course.solutions.solution": "prints text and returns a function (the reference solutions are planted)",
    "course.solutions.": "course files: paths and text of the worked solutions",
    "datasets.sample_data_file": "returns a file path",
}
# Plants that no test can see because the function is invariant under them, with the reason.
EQUIVALENT = {
    ("metrics.singular_values", "transpose"): "singular values of W^T are those of W",
    ("metrics.effective_rank", "transpose"): "a function of the singular values",
    ("metrics.nuclear_norm", "transpose"): "a function of the singular values",
    ("metrics.schatten_norm", "transpose"): "a function of the singular values",
    ("datasets.singular_value_decay", "transpose"): "a function of the singular values",
}

# --------------------------------------------------------------------------- discovery

def _modules():
    """Every module of the package, imported (private ones too: they may hold references)."""
    import dmf_edu
    mods = {"dmf_edu": dmf_edu}
    for info in pkgutil.walk_packages(dmf_edu.__path__, "dmf_edu."):
        if info.name.endswith("__main__"):
            continue
        mods[info.name] = importlib.import_module(info.name)
    return mods


def _is_public(modname):
    return not any(part.startswith("_") for part in modname.split(".")[1:])


def _public_objects(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [k for k, v in vars(mod).items() if not k.startswith("_")
                 and getattr(v, "__module__", None) == mod.__name__]
    return [getattr(mod, k) for k in names]


def _short(obj):
    """``module.qualname`` without the leading ``dmf_edu.``."""
    return ".".join(obj.__module__.split(".")[1:] + [obj.__qualname__])


def _members(klass):
    """``(owner class, name, object)`` of the public functions and properties of a class."""
    for owner in klass.__mro__:
        if owner.__module__.startswith("dmf_edu"):
            for k, v in vars(owner).items():
                fn = v.fget if isinstance(v, property) else getattr(v, "__func__", v)
                if not k.startswith("_") and inspect.isfunction(fn):
                    yield owner, k, v


def discover():
    """``{name: (owner, attribute)}`` of every public function, method and property."""
    found = {}
    for modname, mod in _modules().items():
        for obj in _public_objects(mod) if _is_public(modname) else ():
            if inspect.isfunction(obj) and obj.__module__.startswith("dmf_edu"):
                found.setdefault(id(obj), (_short(obj), sys.modules[obj.__module__], obj.__name__))
            elif inspect.isclass(obj) and not issubclass(obj, BaseException):
                for owner, k, v in _members(obj):
                    found.setdefault(id(v), (f"{_short(owner)}.{k}", owner, k))
    return {name: (owner, attr) for name, owner, attr in sorted(found.values(), key=lambda t: t[0])}


def skip_reason(name):
    for key, reason in SKIP.items():
        if name == key or (key.endswith(".") and name.startswith(key)):
            return reason
    return None

# --------------------------------------------------------------------------- runner

def _pytest(args, env_extra, timeout):
    """Run pytest on ``args``; ``(returncode or 'timeout', first failing test, seconds)``."""
    env = dict(os.environ, MPLBACKEND="Agg", **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "tools"), ROOT, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
           "-p", "mutants_plant", *args]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", "", time.perf_counter() - t0
    first = next((line.split(" ", 1)[1].split(" - ")[0] for line in proc.stdout.splitlines()
                  if line.startswith(("FAILED ", "ERROR "))), "")
    if proc.returncode not in (0, 1) and not first:
        first = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
        first = f"pytest exit {proc.returncode}: {first[0][:100]}"
    return proc.returncode, first, time.perf_counter() - t0


def probe(timeout):
    """One unplanted run of the whole suite with every function recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "probe.json")
        rc, first, secs = _pytest(["tests"], {"DMF_MUTANT_PROBE": out}, timeout)
        if rc != 0:
            sys.exit(f"the unplanted suite does not pass ({rc}: {first}); fix it first")
        with open(out) as fh:
            return json.load(fh), secs


def _ordered(name, tests, durations):
    """The reaching tests: those of the function's own module first, then the fastest."""
    own = "tests/test_" + name.split(".")[0] + ".py"
    return sorted(tests, key=lambda t: (not t.startswith(own), durations.get(t, 0.0)))


def run_plant(name, kind, info, timeout, durations=None):
    """One row of the table: ``dict(function, plant, status, first_failure, seconds)``."""
    row = dict(function=name, plant=kind, status="", first_failure="", seconds=0.0)
    if (name, kind) in EQUIVALENT:
        return dict(row, status="n/a", first_failure="(equivalent: " + EQUIVALENT[name, kind] + ")")
    if not info or not info["tests"]:
        return dict(row, status="MISSED", first_failure="(no test reaches it)")
    if kind in REGIME_PLANTS:
        regime = REGIME_PLANTS[kind][0]
        if (name, kind) in _REGIME_EQUIVALENT:
            return dict(row, status="n/a", first_failure="(equivalent: " + _REGIME_EQUIVALENT[name, kind] + ")")
        if regime not in info.get("regimes", ()):
            return dict(row, status="unreached", first_failure=f"(no test calls it in the regime '{regime}')")
    elif not info["float" if kind == "x1.01" else "matrix"]:
        return dict(row, status="n/a", first_failure="(no finite nonzero float output)" if kind == "x1.01"
                    else "(no non-symmetric matrix in or out)")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "fired.json")
        rc, first, secs = _pytest(_ordered(name, info["tests"], durations or {}),
                                  {"DMF_MUTANT": f"{name}:{kind}", "DMF_MUTANT_LOG": log}, timeout)
        fired = {"changed": None}
        if os.path.exists(log):
            with open(log) as fh:
                fired = json.load(fh)
    status = {0: "MISSED", 1: "caught"}.get(rc, "error")
    if rc == "timeout":
        first = f"(timeout after {timeout:.0f} s)"
    if rc == 1 and not fired["changed"]:
        status = "error"
        first = f"failed although the plant changed nothing: {first}"
    return dict(row, status=status, first_failure=first, seconds=round(secs, 1))


def print_table(rows, stream=sys.stdout):
    width = max([len(r["function"]) for r in rows] + [8])
    print(f"{'function':<{width}}  {'plant':<21}  {'result':<9}  first failing test", file=stream)
    for r in rows:
        print(f"{r['function']:<{width}}  {r['plant']:<21}  {r['status']:<9}  {r['first_failure']}",
              file=stream)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("caught", "MISSED", "unreached", "n/a", "error")}
    print(", ".join(f"{v} {k}" for k, v in counts.items()), file=stream)


def _select(names, only):
    if not only:
        return names
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = [n for n in names if any(n == w or n.endswith("." + w) for w in wanted)]
    if not chosen:
        sys.exit(f"--only {only!r} matches no discovered function (see --list)")
    return chosen


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the functions and the skip-list")
    parser.add_argument("--only", help="comma-separated names (or name suffixes) to plant")
    parser.add_argument("--plants", default=",".join(ALL_PLANTS),
                        help="comma-separated plants (default: x1.01, transpose and every regime plant)")
    parser.add_argument("--jobs", type=int, default=2, help="plants run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    parser.add_argument("--json", help="also write the table to this JSON file")
    parser.add_argument("--probe-file", help="reuse this probe record if it exists, else write it "
                        "(stale once the tests change)")
    return parser.parse_args(argv)


def _probe_record(path, timeout):
    if path and os.path.exists(path):
        with open(path) as fh:
            return json.load(fh), 0.0
    record, secs = probe(timeout)
    if path:
        with open(path, "w") as fh:
            json.dump(record, fh)
    return record, secs


def _list(found):
    for name in found:
        print(f"{name:<45} {'skip: ' + skip_reason(name) if skip_reason(name) else 'planted'}")
    for (name, kind), why in EQUIVALENT.items():
        print(f"{name:<45} {kind} is equivalent: {why}")


def main(argv=None):
    args = _parse(argv)
    sys.path.insert(0, ROOT)
    found = discover()
    if args.list:
        return _list(found)
    names = _select([n for n in found if not skip_reason(n)], args.only)
    t0 = time.perf_counter()
    record, probe_secs = _probe_record(args.probe_file, 2 * args.timeout)
    jobs = [(n, k) for n in names for k in args.plants.split(",")]
    print(f"{len(names)} functions, {len(jobs)} plants; probe run {probe_secs:.0f} s", flush=True)
    rows = []
    with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_plant, n, k, record["functions"].get(n), args.timeout,
                               record["durations"]) for n, k in jobs]
        for fut in cf.as_completed(futures):
            rows.append(fut.result())
            r = rows[-1]
            print(f"[{len(rows)}/{len(jobs)}] {r['function']} {r['plant']}: {r['status']} "
                  f"({r['seconds']} s)", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: (r["function"], r["plant"]))
    print_table(rows)
    wall = time.perf_counter() - t0
    print(f"wall time {wall:.0f} s ({len(jobs)} plants, {args.jobs} jobs)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(rows=rows, wall_time=wall, skipped={n: skip_reason(n) for n in found
                                                               if skip_reason(n)}), fh, indent=1)
    return int(any(r["status"] == "MISSED" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
