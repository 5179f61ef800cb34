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

from dmf_edu.proofs.symbolic import Disproved, Proof, shorten

__all__ = ["PageResult", "pages", "labels", "select", "run_one", "run_variant", "prove", "audit_table",
           "prove_main", "run_page"]


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
    """Outcome of one page: the proof and its planted variants."""

    label: str
    title: str
    claim: str
    method: str
    status: str                     # "proved" or "failed"
    sizes: str
    seconds: float
    seed: int
    quick: bool
    detail: str = ""                # why it failed
    failure: str = ""               # "", "disproved", "error", "planted", "coverage"
    steps: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    planted: list = dataclasses.field(default_factory=list)
    proof_file: str = ""

    def __repr__(self):
        """One screen: the verdict, sizes, time, steps checked and planted variants rejected."""
        detail = self.detail if len(self.detail) <= 120 else self.detail[:117] + "..."
        return (f"PageResult(label={self.label!r}, status={self.status!r}, failure={self.failure!r}, "
                f"method={self.method!r}, sizes={self.sizes[:80]!r}, seconds={self.seconds:.3g}, "
                f"steps={len(self.steps)}, planted={sum(bool(v.get('ok')) for v in self.planted)}/"
                f"{len(self.planted)} rejected, detail={detail!r})")

    def to_dict(self):
        return dataclasses.asdict(self)


def _page_rng(label, seed):
    """The page's generator: the claim and each planted variant draw the same points, so a
    variant differs from the claim only by what it plants (and can reuse memoised work)."""
    return np.random.default_rng([int(seed), zlib.crc32(label.encode())])


def _attempt(module, quick, rng, overrides):
    """Run ``module.prove``; returns ``(proof, exception or None)``."""
    proof = Proof(module.PAGE, rng=rng, quick=quick)
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


def run_one(module, quick=False, seed=0, planted=True):
    """Prove one page and run its planted variants: a :class:`PageResult`."""
    page = module.PAGE
    start = time.perf_counter()
    proof, exc = _attempt(module, quick, _page_rng(page.label, seed), {})
    status, failure, detail = "proved", "", ""
    if exc is not None:
        status, failure = "failed", "disproved" if isinstance(exc, Disproved) else "error"
        detail = str(exc) if failure == "disproved" else f"{type(exc).__name__}: {exc}"
    variants = []
    if planted:
        variants = [run_variant(module, name, seed) for name in module.PLANTED]
    if status == "proved" and planted:
        bad = [v for v in variants if not v["ok"]]
        if bad:
            status, failure = "failed", "planted"
            detail = "; ".join(f"planted {v['name']!r} (step {v['step']}): {v['result']} - "
                               f"{shorten(v['reason'], 120)}" for v in bad)
        else:
            problems = _coverage(module, proof, variants)
            if problems:
                status, failure, detail = "failed", "coverage", "; ".join(problems)
    steps = [dict(step=s, says=says, checks=proof.checks.get(s, 0),
                  kind="tie-in" if s in proof.errors else "exact",
                  max_rel_error=proof.errors.get(s), tolerance=proof.tolerances.get(s))
             for s, says in page.steps.items()]
    return PageResult(page.label, page.title, page.statement, page.method, status, "; ".join(proof.covered),
                      time.perf_counter() - start, int(seed), bool(quick), detail, failure, steps,
                      list(proof.notes), variants, str(pathlib.Path(module.__file__).resolve()))


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
    """Plain-text audit: one summary line per page, then each page's steps and planted variants."""
    head = ("label", "claim", "method", "sizes", "result", "time", "planted")
    rows = [(r.label, r.title, r.method, r.sizes, r.status, f"{r.seconds:.1f}s",
             f"{sum(v['ok'] for v in r.planted)}/{len(r.planted)} rejected") for r in results]
    caps = (6, 44, 30, 40, 6, 6, 13)
    clip = lambda s, w: s if len(s) <= w else s[:w - 1] + "~"  # noqa: E731
    widths = [min(cap, max(len(head[i]), *(len(row[i]) for row in rows))) for i, cap in enumerate(caps)]
    line = lambda cells: "  ".join(clip(c, w).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(row) for row in rows] + [""]
    for r in results:
        out += [f"{r.label}: {r.claim}", f"    sizes: {r.sizes}"]
        for s in r.steps:
            mark = "ok" if r.status == "proved" or s["checks"] else "--"
            extra = (f"; library max rel. error {s['max_rel_error']:.1e} (tol {s['tolerance']:.0e})"
                     if s["kind"] == "tie-in" else "")
            out.append(f"    {s['step']:<3} {mark}  {s['says']}  [{s['checks']} checks{extra}]")
        for v in r.planted:
            out.append(f"    planted {v['name']!r} -> step {v['step']}: {v['result']}")
        if r.status != "proved":
            out.append(f"    FAILED ({r.failure}): {r.detail}")
    failed = [r.label for r in results if r.status != "proved"]
    out += ["", f"{len(results)} pages, {len(results) - len(failed)} proved, {len(failed)} failed"
            f"{' (' + ', '.join(failed) + ')' if failed else ''}; {sum(r.seconds for r in results):.1f}s"]
    return "\n".join(out)


def prove_main(wanted=None, json_output=False, quick=False, seed=0, jobs=None):
    """Entry point of ``dmf-edu prove [LABEL ...] [--quick] [--json] [--seed S]``.

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
    return 0 if all(r.status == "proved" for r in results) else 1


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
    return 0 if result.status == "proved" else 1


if __name__ == "__main__":           # python -m dmf_edu.proofs.runner [LABEL ...] [--json] [--quick]
    raise SystemExit(prove_main([a for a in sys.argv[1:] if not a.startswith("--")],
                                json_output="--json" in sys.argv[1:], quick="--quick" in sys.argv[1:]))
