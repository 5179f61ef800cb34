r"""The runner behind ``dmf-edu prove``: finds the proof pages, proves each, runs its planted variants.

A page (``dmf_edu.proofs.eNN_*``, the ``proofs/`` folder of a checkout) follows the contract of
:mod:`dmf_edu.proofs.symbolic` (``PAGE``, ``prove(proof, quick, **overrides)``, ``PLANTED``,
``worked_example``).  The runner proves it, then runs each planted variant at the quick sizes;
a variant counts only when :class:`~dmf_edu.proofs.symbolic.Disproved` is raised *at the step it
names*.  Coverage rule: every step is checked by the proof and named by a variant, and every
tie-in step (one checked with ``proof.close``) has a planted library bug (a variant whose name
starts with ``library`` or that overrides a ``prove`` keyword whose default is a ``dmf_edu``
function).  Each page draws its rational points from a generator seeded by ``seed`` and its
label, so results do not depend on which pages run, in which order, or in how many processes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import importlib
import inspect
import json
import multiprocessing
import os
import pathlib
import pkgutil
import re
import sys
import time
import zlib

import numpy as np

from dmf_edu.proofs.regimes import REGIME_PLANTS, call_regimes, plants_for, qualname, regime_plant
from dmf_edu.proofs.symbolic import Disproved, Proof, shorten

__all__ = ["PageResult", "pages", "labels", "select", "run_one", "run_variant", "run_regime_plant", "prove",
           "audit_table", "coverage_table", "add_arguments", "main", "prove_main", "run_page"]


# =========================================================================== discovery

_PACKAGE = "dmf_edu.proofs"


def _proofs_package():
    """``dmf_edu.proofs``: installed by ``package_dir``, or a checkout's ``proofs/`` (``dmf_edu/__init__.py``)."""
    return importlib.import_module(_PACKAGE)


def _label_key(label):
    m = re.fullmatch(r"E(\d+)(.*)", label)
    return (int(m.group(1)), m.group(2)) if m else (10 ** 6, label)


def pages():
    """``{label: page module}`` of every page in ``dmf_edu.proofs``, in label order (E1, E2, ..., E5, E5inv, ...)."""
    pkg = _proofs_package()
    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if re.fullmatch(r"e\d+\w*", info.name):
            module = importlib.import_module(f"{_PACKAGE}.{info.name}")
            if hasattr(module, "PAGE"):
                if module.PAGE.label in found:
                    raise ValueError(f"two proof pages claim the label {module.PAGE.label}: "
                                     f"{found[module.PAGE.label].__name__} and {module.__name__}")
                found[module.PAGE.label] = module
    return {label: found[label] for label in sorted(found, key=_label_key)}


def labels():
    """The labels of all pages, in order."""
    return list(pages())


def select(wanted=None):
    """Pages for the requested labels: ``E5`` selects ``E5`` and ``E5inv`` (label, or label followed
    by a non-digit), never ``E50``.  Case-insensitive.  Unknown label -> ``ValueError`` (one line)."""
    everything = pages()
    if not wanted:
        return everything
    chosen = {}
    for w in wanted:
        w = w.strip()
        hits = [lab for lab in everything if lab.lower() == w.lower() or (
            lab.lower().startswith(w.lower()) and not lab[len(w)].isdigit())]
        if not hits or not w:
            raise ValueError(f"unknown proof label {w!r}; the labels are: {', '.join(everything)}")
        chosen.update({lab: everything[lab] for lab in hits})
    return {lab: chosen[lab] for lab in sorted(chosen, key=_label_key)}


# =========================================================================== runner

@dataclasses.dataclass
class PageResult:
    """Outcome of one page (the package's common result shape, like scipy's ``OptimizeResult``):
    ``success``, ``status`` (``"proved"`` or ``"failed"``), ``message`` (one sentence: what was
    proved, or why it failed), ``wall_time`` (seconds); then the proof's details."""

    label: str
    title: str
    claim: str
    method: str
    success: bool
    status: str                     # "proved" or "failed"
    message: str
    wall_time: float
    sizes: str
    seed: int
    quick: bool
    failure: str = ""               # "", "disproved", "error", "planted", "coverage", "regime"
    steps: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    planted: list = dataclasses.field(default_factory=list)
    regimes: dict = dataclasses.field(default_factory=dict)     # tied function -> regimes its tie-in reached
    proof_file: str = ""

    def __repr__(self):
        """One screen: the verdict, sizes, time, steps checked and planted variants rejected."""
        message = self.message if len(self.message) <= 120 else self.message[:117] + "..."
        return (f"PageResult(label={self.label!r}, success={self.success}, status={self.status!r}, "
                f"failure={self.failure!r}, method={self.method!r}, sizes={self.sizes[:80]!r}, "
                f"wall_time={self.wall_time:.3g}, steps={len(self.steps)}, planted="
                f"{sum(bool(v.get('ok')) for v in self.planted)}/{len(self.planted)} rejected, "
                f"message={message!r})")

    def to_dict(self):
        return dataclasses.asdict(self)


def _page_rng(label, seed):
    """The page's generator: the claim and each planted variant draw the same points, so a
    variant differs from the claim only by what it plants (and can reuse memoised work)."""
    return np.random.default_rng([int(seed), zlib.crc32(label.encode())])


def _attempt(module, quick, rng, overrides, tie_only=False):
    """Run ``module.prove``; returns ``(proof, exception or None)``."""
    proof = Proof(module.PAGE, rng=rng, quick=quick, tie_only=tie_only)
    try:
        module.prove(proof, quick=quick, **overrides)
    except Exception as exc:            # Disproved, or a crash (reported as such)
        return proof, exc
    return proof, None


def _library_defaults(module):
    """Names of ``prove`` keywords whose default is a library (``dmf_edu``, not a page) function."""
    out = set()
    for name, par in inspect.signature(module.prove).parameters.items():
        mod = getattr(par.default, "__module__", "") or ""
        if callable(par.default) and mod.startswith("dmf_edu.") and not mod.startswith(
                (_PACKAGE, "dmf_edu.proofs.symbolic", "dmf_edu.proofs.runner")):
            out.add(name)
    return out


def run_variant(module, name, seed=0):
    """Run planted variant ``name`` of a page (quick sizes).  Returns a dict with ``result``
    ``"rejected"`` (Disproved at its named step) or ``"rejected at X"``, ``"NOT rejected"``,
    ``"crashed"``; ``ok`` says whether it counts."""
    planted = module.PLANTED[name]
    start = time.perf_counter()
    try:
        overrides, why = planted.make(), "make() returned None"
    except Exception as exc:
        overrides, why = None, f"make() failed: {type(exc).__name__}: {exc}"
    if overrides is None:
        return dict(name=name, step=planted.step, ok=False, result="crashed", seconds=0.0, overrides=[],
                    reason=why)
    _, exc = _attempt(module, True, _page_rng(module.PAGE.label, seed), overrides)
    out = dict(name=name, step=planted.step, seconds=time.perf_counter() - start, overrides=sorted(overrides))
    if exc is None:
        return dict(out, ok=False, result="NOT rejected", reason="the proof accepted the wrong variant")
    if not isinstance(exc, Disproved):
        return dict(out, ok=False, result="crashed", reason=f"{type(exc).__name__}: {exc}")
    if exc.step != planted.step:
        return dict(out, ok=False, result=f"rejected at {exc.step}", reason=str(exc))
    return dict(out, ok=True, result="rejected", reason=str(exc))


def _coverage(module, proof, variants):
    """Reasons the page breaks the coverage rule (empty when it keeps it)."""
    page, problems = module.PAGE, []
    named = {v["step"] for v in variants}
    unknown = sorted(named - set(page.steps))
    if unknown:
        problems.append(f"planted variants name unknown steps {unknown}")
    for step in page.steps:
        if proof.checks.get(step, 0) == 0:
            problems.append(f"step {step} is never checked")
        if step not in named:
            problems.append(f"no planted variant targets step {step}")
    lib_keys = _library_defaults(module)
    for step in proof.errors:                         # tie-in steps
        bugs = [v for v in variants if v["step"] == step and (
            v["name"].lower().startswith("library") or set(v["overrides"]) & lib_keys)]
        if not bugs:
            problems.append(f"tie-in step {step} has no planted library bug")
    return problems


def _recording(module, seen):
    """Overrides wrapping each library keyword of ``prove`` with a recorder of the regimes it is called in."""
    params = inspect.signature(module.prove).parameters
    out = {}
    for key in sorted(_library_defaults(module)):
        fn, tags = params[key].default, seen.setdefault(qualname(params[key].default), set())

        def recorder(*args, _fn=fn, _tags=tags, **kwargs):
            result = _fn(*args, **kwargs)
            _tags.update(call_regimes(_fn, args, kwargs, result))
            return result
        out[key] = functools.wraps(fn)(recorder)
    return out


def run_regime_plant(module, key, plant, seed=0, tie_steps=None):
    """Run the page (quick sizes) with the library keyword ``key`` replaced by its regime plant
    ``plant`` (:data:`~dmf_edu.proofs.regimes.REGIME_PLANTS`).  ``ok`` when the plant reached a
    call in its regime and a tie-in step (one of ``tie_steps``, default any) rejected it."""
    fn = inspect.signature(module.prove).parameters[key].default
    regime = REGIME_PLANTS[plant][0]
    fired = []
    start = time.perf_counter()
    _, exc = _attempt(module, True, _page_rng(module.PAGE.label, seed),
                      {key: regime_plant(fn, plant, fire=fired.append)}, tie_only=True)
    out = dict(name=f"regime: {qualname(fn)} {plant}", step=getattr(exc, "step", None) or "-", overrides=[key],
               seconds=time.perf_counter() - start, regime=regime, function=qualname(fn))
    if not any(fired):
        return dict(out, ok=False, result="never reached",
                    reason=f"the quick tie-in never calls {qualname(fn)} in the regime '{regime}' it accepts")
    if exc is None:
        return dict(out, ok=False, result="NOT rejected", reason="the proof accepted the regime plant")
    if not isinstance(exc, Disproved):
        return dict(out, ok=False, result="crashed", reason=f"{type(exc).__name__}: {exc}")
    if tie_steps is not None and exc.step not in tie_steps:
        return dict(out, ok=False, result=f"rejected at {exc.step}", reason=f"not a tie-in step: {exc}")
    return dict(out, ok=True, result="rejected", reason=str(exc))


def uncovered(module):
    """``{function: regimes}`` a page declares it does not (yet) cover (its ``UNCOVERED``, default none)."""
    return {fn: tuple(tags) for fn, tags in getattr(module, "UNCOVERED", {}).items()}


def _regime_variants(module, seed, tie_steps):
    """Every regime plant of every library keyword of the page (but those of the regimes the page
    declares :func:`uncovered`); problems for functions that declare no regimes."""
    params = inspect.signature(module.prove).parameters
    variants, problems = [], []
    for key in sorted(_library_defaults(module)):
        fn = params[key].default
        names = plants_for(fn)
        if names is None:
            problems.append(f"{qualname(fn)} declares no regimes (proofs/regimes.py ACCEPTS)")
            continue
        skip = uncovered(module).get(qualname(fn), ())
        variants += [run_regime_plant(module, key, name, seed, tie_steps) for name in names
                     if REGIME_PLANTS[name][0] not in skip]
    return variants, problems


def _verdict(module, exc, proof, variants, regime_variants, regime_problems):
    """``(status, failure, message)`` of a page from its proof, planted variants and regime plants."""
    if exc is not None:
        failure = "disproved" if isinstance(exc, Disproved) else "error"
        return "failed", failure, str(exc) if failure == "disproved" else f"{type(exc).__name__}: {exc}"
    bad = [v for v in variants if not v["ok"]]
    if bad:
        return "failed", "planted", "; ".join(f"planted {v['name']!r} (step {v['step']}): {v['result']} - "
                                              f"{shorten(v['reason'], 120)}" for v in bad)
    problems = _coverage(module, proof, variants) if variants else []
    if problems:
        return "failed", "coverage", "; ".join(problems)
    bad = [v for v in regime_variants if not v["ok"]]
    if bad or regime_problems:
        return "failed", "regime", "; ".join(regime_problems + [f"{v['name']}: {v['result']} - "
                                                               f"{shorten(v['reason'], 120)}" for v in bad])
    what = f"{len(module.PAGE.steps)} steps hold"
    if variants:
        what += (f"; {len(variants)} planted variants and {len(regime_variants)} regime plants of the "
                 f"library are rejected")
    return "proved", "", f"{module.PAGE.statement} ({what})."


def run_one(module, quick=False, seed=0, planted=True):
    """Prove one page, run its planted variants and the regime plants of its tie-ins: a :class:`PageResult`."""
    page = module.PAGE
    start = time.perf_counter()
    seen = {}
    proof, exc = _attempt(module, quick, _page_rng(page.label, seed), _recording(module, seen))
    variants, regime_variants, regime_problems = [], [], []
    if planted and exc is None:
        variants = [run_variant(module, name, seed) for name in module.PLANTED]
        regime_variants, regime_problems = _regime_variants(module, seed, set(proof.errors))
    status, failure, message = _verdict(module, exc, proof, variants, regime_variants, regime_problems)
    steps = [dict(step=s, says=says, checks=proof.checks.get(s, 0),
                  kind="tie-in" if s in proof.errors else "exact",
                  max_rel_error=proof.errors.get(s), tolerance=proof.tolerances.get(s))
             for s, says in page.steps.items()]
    return PageResult(page.label, page.title, page.statement, page.method, status == "proved", status, message,
                      time.perf_counter() - start, "; ".join(proof.covered), int(seed), bool(quick), failure,
                      steps, list(proof.notes), variants + regime_variants,
                      {fn: sorted(tags) for fn, tags in seen.items()}, str(pathlib.Path(module.__file__).resolve()))


def _run_label(label, quick, seed, planted):
    return run_one(pages()[label], quick=quick, seed=seed, planted=planted)


def prove(wanted=None, quick=False, seed=0, planted=True, jobs=None):
    """Run the pages for the labels ``wanted`` (default all): a list of :class:`PageResult`, in label order.

    ``jobs=None`` runs them in this process.  ``jobs=J`` runs them in ``J`` fresh worker
    processes started with ``PYTHONHASHSEED=0``: sympy's internal orderings then do not vary
    from run to run, so two runs give the same results (times aside) whatever the caller's
    hash seed.  Each page draws its points from its own generator (``seed`` and its label), so
    the results do not depend on ``jobs`` either.
    """
    chosen = list(select(wanted))
    if jobs is None:
        return [_run_label(label, quick, seed, planted) for label in chosen]
    previous = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"                   # inherited by the spawned workers
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, min(int(jobs), len(chosen))),
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_run_label, label, quick, seed, planted) for label in chosen]
            return [f.result() for f in futures]
    finally:
        if previous is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = previous


def audit_table(results):
    """Plain-text audit: one summary line per page, then each page's steps, planted variants and regimes."""
    head = ("label", "claim", "method", "sizes", "result", "time", "planted")
    rows = [(r.label, r.title, r.method, r.sizes, r.status, f"{r.wall_time:.1f}s",
             f"{sum(v['ok'] for v in r.planted)}/{len(r.planted)} rejected") for r in results]
    out = _table(head, rows, (6, 44, 30, 40, 6, 6, 17)) + [""]
    for r in results:
        out += [f"{r.label}: {r.claim}", f"    sizes: {r.sizes}"]
        for s in r.steps:
            mark = "ok" if r.success or s["checks"] else "--"
            extra = (f"; library max rel. error {s['max_rel_error']:.1e} (tol {s['tolerance']:.0e})"
                     if s["kind"] == "tie-in" else "")
            out.append(f"    {s['step']:<3} {mark}  {s['says']}  [{s['checks']} checks{extra}]")
        for v in r.planted:
            if not v["name"].startswith("regime: "):
                out.append(f"    planted {v['name']!r} -> step {v['step']}: {v['result']}")
        for fn, tags in r.regimes.items():
            mine = [v for v in r.planted if v.get("function") == fn]
            missing = uncovered(pages()[r.label]).get(fn) if r.label in pages() else None
            out.append(f"    regimes of {fn}: {', '.join(tags) or 'none'}; regime plants "
                       f"{sum(v['ok'] for v in mine)}/{len(mine)} rejected"
                       + (f"; NOT covered: {', '.join(missing)}" if missing else ""))
        if not r.success:
            out.append(f"    FAILED ({r.failure}): {r.message}")
    failed = [r.label for r in results if not r.success]
    out += ["", f"{len(results)} pages, {len(results) - len(failed)} proved, {len(failed)} failed"
            f"{' (' + ', '.join(failed) + ')' if failed else ''}; {sum(r.wall_time for r in results):.1f}s"]
    return "\n".join(out)


def _table(head, rows, caps):
    """Lines of a plain-text table with columns clipped to ``caps``."""
    clip = lambda s, w: s if len(s) <= w else s[:w - 1] + "~"  # noqa: E731
    widths = [min(cap, max(len(head[i]), *(len(row[i]) for row in rows))) for i, cap in enumerate(caps)]
    line = lambda cells: "  ".join(clip(c, w).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(head), line(["-" * w for w in widths])] + [line(row) for row in rows]


def coverage_table(results=None, as_rows=False):
    """One row per label of THEORY.md (E1..E22): status (proved, tested or empirical), regimes and
    sizes covered, library functions tied, tests and experiments.  Labels with a page are
    ``proved`` (``failed`` if ``results`` says so); the others come from
    :data:`~dmf_edu.proofs.catalogue.CATALOGUE`.  ``results``: :class:`PageResult` list (default: every
    page run at quick sizes without planted variants)."""
    from dmf_edu.proofs.catalogue import coverage_rows
    if results is None:
        results = prove(quick=True, planted=False)
    rows = coverage_rows(pages(), {r.label: r for r in results})
    if as_rows:
        return rows
    head = ("label", "status", "regimes and sizes covered", "library functions tied", "tests and experiments")
    cells = [(r["label"], r["status"], r["covered"], r["functions"], r["exercised"]) for r in rows]
    return "\n".join(_table(head, cells, (7, 22, 70, 60, 60)))


def add_arguments(parser):
    """Declare the arguments of ``dmf-edu prove`` on an ``argparse`` (sub)parser."""
    parser.add_argument("labels", nargs="*", metavar="LABEL",
                        help="labels to prove (E5 selects E5 and E5inv); default all")
    parser.add_argument("--json", action="store_true", help="print a JSON list of pages instead")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rational points (>= 0)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--list", action="store_true",
                        help="print the coverage table (one row per THEORY.md label) instead of proving")
    return parser


def main(args):
    """Run ``dmf-edu prove`` for parsed ``args`` (see :func:`add_arguments`); returns the exit code."""
    if getattr(args, "list", False):
        results = prove(quick=True, planted=False)
        print(json.dumps(coverage_table(results, as_rows=True), indent=2) if args.json else coverage_table(results))
        return 0
    return prove_main(args.labels, json_output=args.json, quick=args.quick, seed=args.seed, jobs=args.jobs)


def prove_main(wanted=None, json_output=False, quick=False, seed=0, jobs=None):
    """Entry point of ``dmf-edu prove [LABEL ...] [--quick] [--json] [--seed S] [--jobs J]``.

    Prints the audit table (or a JSON list of :class:`PageResult` dicts).  Exit code 0 when every
    selected page is proved, 1 otherwise, 2 for an unknown label, a negative seed or ``jobs < 1``.
    """
    if int(seed) < 0:
        print(f"dmf-edu prove: --seed must be >= 0, got {seed}", file=sys.stderr)
        return 2
    try:
        select(wanted)
    except ValueError as exc:
        print(f"dmf-edu prove: {exc}", file=sys.stderr)
        return 2
    if jobs is not None and int(jobs) < 1:
        print(f"dmf-edu prove: --jobs must be >= 1, got {jobs}", file=sys.stderr)
        return 2
    results = prove(wanted, quick=quick, seed=seed, jobs=jobs)
    if json_output:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(audit_table(results))
    return 0 if all(r.success for r in results) else 1


def run_page(name, argv=None):
    """``__main__`` of a page: ``python proofs/e07_singular_vectors.py [--quick] [--json] [--seed S]``.

    ``name`` is the page module's ``__name__`` (or its label).  Prints the worked example and
    the page's audit (claim and planted variants); returns the exit code.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 0
    module = sys.modules.get(name)
    if module is None or not hasattr(module, "PAGE"):
        module = select([name])[name] if name in labels() else importlib.import_module(name)
    if "--json" not in argv and hasattr(module, "worked_example"):
        module.worked_example()
        print()
    result = run_one(module, quick="--quick" in argv, seed=seed)
    print(json.dumps([result.to_dict()], indent=2) if "--json" in argv else audit_table([result]))
    return 0 if result.success else 1


if __name__ == "__main__":           # python -m dmf_edu.proofs.runner [LABEL ...] [--json] [--quick] [--list]
    import argparse
    raise SystemExit(main(add_arguments(argparse.ArgumentParser(prog="dmf-edu prove")).parse_args()))
