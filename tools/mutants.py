"""Mutation testing: does the test suite notice a 1 % error or a transposition?

Run from the root of the checkout (not part of the default test run)::

    python tools/mutants.py                  # every plant, 2 jobs
    python tools/mutants.py --list           # the discovered functions and the skip-list
    python tools/mutants.py --only geometry.volume_density,end_to_end --jobs 1 --json out.json

What it does
------------
1. **Discover** the public functions: the ``__all__`` of ``dmf_edu`` and of every public
   (non-underscore) module and subpackage under it (public names defined in the module where a
   module has no ``__all__``), plus the public methods and properties of the public classes.
   Names are ``module.function`` or ``module.Class.method`` where the object is defined.
2. **Probe**: one run of the suite with every function wrapped by a recorder that notes, per
   function, the tests that reach it (directly or through other library code), whether its
   output holds a float and whether it takes or returns a matrix (an array of >= 2 axes).
3. **Plant**, one bug at a time, each in its own pytest subprocess (``-x``), on the tests that
   reach the function:

   - ``x1.01``: every float in the output is multiplied by 1.01 -- float arrays and scalars,
     recursively inside tuples, lists and dicts, and the fields of result objects (dataclasses
     such as ``Run``: its weights and history; problems: their data); scipy sparse matrices
     and linear operators are scaled as operators.  Integers, booleans and strings are left.
   - ``transpose``: the last two axes of the first argument that is an array with >= 2 axes are
     swapped; when no argument is one, those of the first such array in the output.

   The plant replaces every reference to the original object in the loaded ``dmf_edu``
   modules (module globals, class attributes, default arguments, module-level dicts and
   lists), so library code that calls the function sees the bug too.
4. Print a table: function | plant | caught / MISSED / n/a / error | first failing test.
   A plant is **n/a** when the probe shows it can change nothing (no float output; no matrix in
   or out) and **MISSED** when the tests that reach it all pass -- or no test reaches it.
   The exit status is 1 if any plant is missed.

The same file is the pytest plugin of steps 2 and 3 (``-p mutants`` with ``tools/`` on the
path), driven by the environment variables ``DMF_MUTANT`` (``name:plant``) or
``DMF_MUTANT_PROBE`` (a JSON output path).  pytest never collects it: it is not a test file.
"""

import argparse
import concurrent.futures as cf
import copy
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time

import numpy as np

FACTOR = 1.01
PLANTS = ("x1.01", "transpose")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Public names that return no numbers a test could check to 1 %, with the reason.  A prefix
# ending in "." skips a whole module.
SKIP = {
    "cli.": "command-line entry point: returns an exit code",
    "lessons.": "course files: paths, text snippets and their execution",
    "proofs.": "proof pages: exact sympy objects and verdicts (their tie-ins call the library)",
    "symbolic.": "proof machinery: exact sympy objects and verdicts (its tie-ins call the library)",
    "demo.": "CLI demo driver: formats and plots rows computed by planted library functions",
    "experiments.": "experiment drivers (X1-X8): CLI reproductions of planted library functions",
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
}
# Plants that no test can see because the function is invariant under them, with the reason.
EQUIVALENT = {
    ("metrics.singular_values", "transpose"): "singular values of W^T are those of W",
    ("metrics.effective_rank", "transpose"): "a function of the singular values",
    ("metrics.nuclear_norm", "transpose"): "a function of the singular values",
    ("metrics.schatten_norm", "transpose"): "a function of the singular values",
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


def _short(obj_module, qualname):
    return (obj_module[len("dmf_edu."):] if obj_module != "dmf_edu" else "") + "." * (
        obj_module != "dmf_edu") + qualname


def discover():
    """``{name: (owner, attribute)}`` of every public function, method and property."""
    found = {}

    def add(owner, attr, obj):
        if not obj.__module__.startswith("dmf_edu"):
            return
        found.setdefault(id(obj), (_short(obj.__module__, obj.__qualname__), owner, attr))

    for modname, mod in _modules().items():
        if not _is_public(modname):
            continue
        for obj in _public_objects(mod):
            if inspect.isfunction(obj):
                add(sys.modules[obj.__module__], obj.__name__, obj)
            elif inspect.isclass(obj) and not issubclass(obj, BaseException):
                for klass in obj.__mro__:
                    for k, v in vars(klass).items():
                        if k.startswith("_") or not klass.__module__.startswith("dmf_edu"):
                            continue
                        fn = v.fget if isinstance(v, property) else getattr(v, "__func__", v)
                        if inspect.isfunction(fn):
                            found.setdefault(id(v), (f"{_short(klass.__module__, klass.__qualname__)}.{k}",
                                                     klass, k))
    return {name: (owner, attr) for name, owner, attr in sorted(found.values(), key=lambda t: t[0])}


def skip_reason(name):
    for key, reason in SKIP.items():
        if name == key or (key.endswith(".") and name.startswith(key)):
            return reason
    return None


# --------------------------------------------------------------------------- the plants

def scale(x):
    """``(x with every float multiplied by FACTOR, whether anything changed)``."""
    import scipy.sparse as sps
    from scipy.sparse.linalg import LinearOperator
    if isinstance(x, (bool, int, str, bytes, np.integer, np.bool_)) or x is None:
        return x, False
    if isinstance(x, (float, complex, np.floating, np.complexfloating)):
        return type(x)(x * FACTOR), bool(np.isfinite(x) and x != 0)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":                 # zeros, infs and NaNs do not change
            return np.asarray(x * FACTOR).view(type(x)), bool(np.any(np.isfinite(x) & (x != 0)))
        if x.dtype.kind == "O":
            items = [scale(v) for v in x.flat]
            out = np.empty(x.shape, dtype=object)
            out.flat[:] = [v for v, _ in items] if items else []
            return out, any(c for _, c in items)
        return x, False
    if sps.issparse(x) or isinstance(x, LinearOperator):
        return x * FACTOR, True
    if isinstance(x, (tuple, list)):
        items = [scale(v) for v in x]
        vals = [v for v, _ in items]
        out = type(x)(*vals) if hasattr(x, "_fields") else type(x)(vals)
        return out, any(c for _, c in items)
    if isinstance(x, dict):
        items = {k: scale(v) for k, v in x.items()}
        out = copy.copy(x)
        out.update({k: v for k, (v, _) in items.items()})
        return out, any(c for _, c in items.values())
    if type(x).__module__.startswith("dmf_edu") and hasattr(x, "__dict__") and not callable(x):
        out, changed = copy.copy(x), False
        for k, v in vars(x).items():
            new, c = scale(v)
            if c:
                object.__setattr__(out, k, new)
                changed = True
        return out, changed
    return x, False


def _is_matrix(x):
    return isinstance(x, np.ndarray) and x.ndim >= 2


def _changes(x):
    """Whether swapping the last two axes changes ``x`` (a symmetric matrix does not change)."""
    return x.shape[-1] != x.shape[-2] or not np.array_equal(x, np.swapaxes(x, -1, -2), equal_nan=True)


def transpose_args(args, kwargs):
    """Swap the last two axes of the first argument with >= 2 axes; ``(args, kwargs, done)``."""
    args = list(args)
    for i, a in enumerate(args):
        if _is_matrix(a):
            args[i] = np.swapaxes(a, -1, -2)
            return args, kwargs, _changes(a)
    for k, a in kwargs.items():
        if _is_matrix(a):
            return args, {**kwargs, k: np.swapaxes(a, -1, -2)}, _changes(a)
    return args, kwargs, None


def transpose_output(out):
    """Swap the last two axes of the output, or of its first item with >= 2 axes; ``(out, done)``."""
    if _is_matrix(out):
        return np.swapaxes(out, -1, -2), _changes(out)
    if isinstance(out, (tuple, list)) and not hasattr(out, "_fields"):
        for i, v in enumerate(out):
            if _is_matrix(v):
                return type(out)(list(out[:i]) + [np.swapaxes(v, -1, -2)] + list(out[i + 1:])), _changes(v)
    return out, False


# --------------------------------------------------------------------------- planting (plugin)

def _wrap(obj, make):
    """Apply ``make(function) -> function`` to a function, property, classmethod or staticmethod."""
    if isinstance(obj, property):
        return property(make(obj.fget), obj.fset, obj.fdel, obj.__doc__)
    if isinstance(obj, (classmethod, staticmethod)):
        return type(obj)(make(obj.__func__))
    return make(obj)


def _swap_in(container, orig, new):
    if isinstance(container, dict):
        for k, v in list(container.items()):
            if v is orig:
                container[k] = new
    elif isinstance(container, list):
        container[:] = [new if v is orig else v for v in container]
    elif inspect.isfunction(container):
        if container.__defaults__ and any(d is orig for d in container.__defaults__):
            container.__defaults__ = tuple(new if d is orig else d for d in container.__defaults__)
        kw = container.__kwdefaults__ or {}
        container.__kwdefaults__ = {k: new if v is orig else v for k, v in kw.items()} or None


def replace_everywhere(mods, orig, new):
    """Point every reference to ``orig`` in the package's modules at ``new``."""
    for mod in mods:
        for k, v in list(vars(mod).items()):
            if v is orig:
                setattr(mod, k, new)
            elif inspect.isclass(v) and v.__module__.startswith("dmf_edu"):
                for ck, cv in list(vars(v).items()):
                    if cv is orig:
                        setattr(v, ck, new)
                    _swap_in(getattr(cv, "__func__", cv), orig, new)
            else:
                _swap_in(v, orig, new)


def _planted(kind, fire):
    """``make(fn)`` for one plant; ``fire(changed)`` is told of every call."""
    import functools

    def make(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if kind == "transpose":
                args, kwargs, done = transpose_args(args, kwargs)
                if done:
                    fire(True)               # before the call, which may raise on the new shape
                out = fn(*args, **kwargs)
                if done is None:             # no matrix argument: transpose the output
                    out, done = transpose_output(out)
            else:
                out, done = scale(fn(*args, **kwargs))
            fire(done)
            return out
        return wrapper
    return make


def _probing(name, record, current):
    """``make(fn)`` recording the tests that reach ``fn`` and what a plant could change."""
    import functools
    rec = record.setdefault(name, {"tests": {}, "float": False, "matrix": False})

    def make(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            matrix = None if rec["matrix"] else transpose_args(args, kwargs)[2]
            out = fn(*args, **kwargs)
            rec["tests"][current[0]] = None
            rec["float"] = rec["float"] or scale(out)[1]
            rec["matrix"] = rec["matrix"] or matrix or (matrix is None and transpose_output(out)[1])
            return out
        return wrapper
    return make


class _Plugin:
    """Installed when the environment asks for a probe or a plant (see the module docstring)."""

    def __init__(self):
        self.current, self.record, self.durations = ["<import>"], {}, {}
        self.state = {"called": False, "changed": False}
        mods = list(_modules().values())
        targets = discover()
        spec = os.environ.get("DMF_MUTANT")
        if spec:
            name, kind = spec.rsplit(":", 1)
            wanted = {name: targets[name]}
            makers = {name: _planted(kind, self.fire)}
        else:
            wanted = {n: t for n, t in targets.items() if not skip_reason(n)}
            makers = {n: _probing(n, self.record, self.current) for n in wanted}
        for name, (owner, attr) in wanted.items():
            orig = vars(owner)[attr]
            replace_everywhere(mods, orig, _wrap(orig, makers[name]))

    def fire(self, changed):
        self.state["called"] = True
        self.state["changed"] = self.state["changed"] or changed

    def pytest_collectstart(self, collector):
        self.current[0] = collector.nodeid

    def pytest_runtest_logstart(self, nodeid, location):
        self.current[0] = nodeid

    def pytest_runtest_logreport(self, report):
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session, exitstatus):
        out = os.environ.get("DMF_MUTANT_LOG") or os.environ["DMF_MUTANT_PROBE"]
        data = self.state if os.environ.get("DMF_MUTANT") else dict(durations=self.durations, functions={
            n: dict(r, tests=list(r["tests"])) for n, r in self.record.items()})
        with open(out, "w") as fh:
            json.dump(data, fh)


def pytest_load_initial_conftests(early_config, parser, args):
    """Plant before any conftest or test module imports the package."""
    if os.environ.get("DMF_MUTANT") or os.environ.get("DMF_MUTANT_PROBE"):
        early_config.pluginmanager.register(_Plugin(), "dmf-mutant-plant")


# --------------------------------------------------------------------------- runner

def _pytest(args, env_extra, timeout):
    """Run pytest on ``args``; ``(returncode or 'timeout', first failing test, seconds)``."""
    env = dict(os.environ, MPLBACKEND="Agg", **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "tools"), ROOT, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
           "-p", "mutants", *args]
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
    if not info["float" if kind == "x1.01" else "matrix"]:
        return dict(row, status="n/a", first_failure="(no float output)" if kind == "x1.01"
                    else "(no matrix in or out)")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "fired.json")
        rc, first, secs = _pytest(_ordered(name, info["tests"], durations or {}),
                                  {"DMF_MUTANT": f"{name}:{kind}", "DMF_MUTANT_LOG": log}, timeout)
        fired = json.load(open(log)) if os.path.exists(log) else {"changed": None}
    status = {0: "MISSED", 1: "caught"}.get(rc, "error")
    if rc == 1 and not fired["changed"]:
        status = "error"
        first = f"failed although the plant changed nothing: {first}"
    return dict(row, status=status, first_failure=first, seconds=round(secs, 1))


def print_table(rows, stream=sys.stdout):
    width = max([len(r["function"]) for r in rows] + [8])
    print(f"{'function':<{width}}  {'plant':<9}  {'result':<7}  first failing test", file=stream)
    for r in rows:
        print(f"{r['function']:<{width}}  {r['plant']:<9}  {r['status']:<7}  {r['first_failure']}",
              file=stream)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("caught", "MISSED", "n/a", "error")}
    print(", ".join(f"{v} {k}" for k, v in counts.items()), file=stream)


def _select(names, only):
    if not only:
        return names
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = [n for n in names if any(n == w or n.endswith("." + w) for w in wanted)]
    if not chosen:
        sys.exit(f"--only {only!r} matches no discovered function (see --list)")
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the functions and the skip-list")
    parser.add_argument("--only", help="comma-separated names (or name suffixes) to plant")
    parser.add_argument("--plants", default=",".join(PLANTS), help="comma-separated plants")
    parser.add_argument("--jobs", type=int, default=2, help="plants run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    parser.add_argument("--json", help="also write the table to this JSON file")
    parser.add_argument("--probe-file", help="reuse this probe record if it exists, else write it "
                        "(stale once tests change)")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    found = discover()
    if args.list:
        for name in found:
            print(f"{name:<45} {'skip: ' + skip_reason(name) if skip_reason(name) else 'planted'}")
        return 0
    names = _select([n for n in found if not skip_reason(n)], args.only)
    t0 = time.perf_counter()
    if args.probe_file and os.path.exists(args.probe_file):
        record, probe_secs = json.load(open(args.probe_file)), 0.0
    else:
        record, probe_secs = probe(args.timeout * 2)
        if args.probe_file:
            with open(args.probe_file, "w") as fh:
                json.dump(record, fh)
    print(f"{len(names)} functions; probe run {probe_secs:.0f} s", flush=True)
    jobs = [(n, k) for n in names for k in args.plants.split(",")]
    rows = []
    with cf.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_plant, n, k, record["functions"].get(n), args.timeout,
                               record["durations"]) for n, k in jobs]
        for fut in cf.as_completed(futures):
            r = fut.result()
            rows.append(r)
            print(f"[{len(rows)}/{len(jobs)}] {r['function']} {r['plant']}: {r['status']} "
                  f"({r['seconds']} s)", file=sys.stderr, flush=True)
    print_table(sorted(rows, key=lambda r: (r["function"], r["plant"])))
    wall = time.perf_counter() - t0
    print(f"wall time {wall:.0f} s ({len(jobs)} plants, {args.jobs} jobs)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(rows=rows, wall_time=wall, skipped={n: skip_reason(n) for n in found
                                                               if skip_reason(n)}), fh, indent=1)
    return int(any(r["status"] == "MISSED" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
