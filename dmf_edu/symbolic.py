r"""Machinery shared by the proof pages ``dmf_edu.proofs.eNN_*`` (the ``proofs/`` folder of a checkout).

A proof lives on its page; this module holds only what several pages share:

* **symbols**: :func:`symbol_matrix`, :func:`symbolic_weights`, :func:`chain_product` (the
  product order ``W = W_N ... W_1``), rational orthogonal matrices (:func:`rotation`,
  :func:`cayley`), the function field of a set of symbols (:func:`field_matrix`);
* **exact decisions**: :func:`is_zero` (``expand``, then the numerator of ``together``; a
  ``DomainMatrix`` over a field is zero exactly when it is) and :func:`random_rational_point`;
* **the page contract**: :class:`Page`, :class:`Planted`, the :class:`Proof` recorder passed to
  a page's ``prove(proof, quick, **overrides)``, :class:`Disproved`;
* **the runner** behind ``dmf-edu prove``: :func:`labels`, :func:`prove`, :func:`audit_table`,
  :func:`prove_main`, and :func:`run_page` (a page's ``__main__``).

How identities are decided (STYLE.md): explicit ``sympy.Matrix`` objects of symbols at small
rectangular sizes; ``expand(residual) == 0`` for polynomials and the numerator of
``together(residual)`` for rational functions; rational-function matrices live in a
``DomainMatrix`` over ``QQ(symbols)``, whose arithmetic is canonical.  A random rational point is
tried first: a nonzero value there disproves at once and names a witness.  ``MatrixSymbol``
derivatives are never used (unreliable in sympy 1.14 for sums and Hadamard products).

A page checks every step under its label (``proof.zero("S1", ...)``, ``proof.close("T1", ...)``)
and lists planted wrong variants, each naming the step that must reject it.  The runner proves
the page, then runs each variant (quick sizes); a variant counts only when :class:`Disproved` is
raised *at its step*.  Coverage: every step is checked by the proof and named by a variant, and
every tie-in step (one checked with ``proof.close``) has a planted library bug (a variant whose
name starts with ``library`` or that overrides a ``prove`` keyword whose default is a ``dmf_edu``
function).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import pathlib
import pkgutil
import re
import sys
import time
import zlib
from typing import Callable

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

__all__ = [
    "Disproved", "Page", "Planted", "Proof", "PageResult",
    "symbol_matrix", "symbolic_weights", "chain_product", "identity_like", "rotation", "cayley", "orthogonal", "field_matrix",
    "function_field", "hadamard", "random_rational_point", "is_zero", "power_simplify", "at_point",
    "to_float_array", "pages", "labels", "select", "prove", "run_variant", "audit_table",
    "prove_main", "run_page",
]


# =========================================================================== symbols

def symbol_matrix(name, rows, cols, **assumptions):
    """``rows x cols`` ``sympy.Matrix`` of symbols ``name_ij`` (0-based; real unless told otherwise)."""
    assumptions = assumptions or {"real": True}
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", **assumptions))


def symbolic_weights(dims, name="w"):
    """Symbolic factors ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``, for ``dims = [d_0, ..., d_N]``."""
    return [symbol_matrix(f"{name}{j + 1}", dims[j + 1], dims[j]) for j in range(len(dims) - 1)]


def chain_product(factors, identity=None):
    """``F_k ... F_1`` of ``factors = [F_1, ..., F_k]`` (Matrix or DomainMatrix); ``identity`` if empty."""
    if not len(factors):
        if identity is None:
            raise ValueError("chain_product of no factors needs an identity")
        return identity
    out = factors[0]
    for F in factors[1:]:
        out = F * out
    return out


def identity_like(M, n):
    """Identity of size ``n`` of the same kind as ``M`` (``sympy.Matrix`` or ``DomainMatrix`` over its domain)."""
    if isinstance(M, DomainMatrix):
        return DomainMatrix.eye(n, M.domain)
    return sp.eye(n)


def rotation(t):
    r"""Rational 2x2 rotation, ``t = tan(theta/2)``: ``[[1-t^2, -2t], [2t, 1-t^2]] / (1+t^2)``."""
    d = 1 + t ** 2
    return sp.Matrix([[(1 - t ** 2) / d, -2 * t / d], [2 * t / d, (1 - t ** 2) / d]])


def cayley(params, n, K=None):
    r"""Rational ``n x n`` rotation ``(I - S)(I + S)^{-1}``, ``S`` skew with the ``n(n-1)/2`` entries ``params``.

    Orthogonal with determinant 1 for every real ``params`` (``I + S`` is invertible since ``S``
    is skew); ``n = 2`` is :func:`rotation` up to the sign of the angle.  With a field ``K``
    (:func:`function_field`) the result is a ``DomainMatrix`` over ``K`` computed there (faster).
    """
    params = list(params)
    if len(params) != n * (n - 1) // 2:
        raise ValueError(f"cayley needs n(n-1)/2 = {n * (n - 1) // 2} params for n = {n}, got {len(params)}")
    S = sp.zeros(n, n)
    it = iter(params)
    for i in range(n):
        for j in range(i + 1, n):
            S[i, j] = next(it)
            S[j, i] = -S[i, j]
    if K is not None:
        Sk, I = field_matrix(S, K), DomainMatrix.eye(n, K)
        return (I - Sk) * (I + Sk).inv()
    inv = (sp.eye(n) + S).adjugate() / (sp.eye(n) + S).det()
    return ((sp.eye(n) - S) * inv).applyfunc(sp.cancel)


def orthogonal(n, name, rng=None):
    """A rational ``n x n`` rotation :func:`cayley` ``(params)``: symbolic in the real symbols
    ``name0, name1, ...`` (``rng`` None), or exact at a random rational point (``rng`` given).

    Returns ``(Q, params)``: ``Q`` a ``sympy.Matrix``, ``params`` the symbols (``()`` when exact).
    """
    count = n * (n - 1) // 2
    if rng is None:
        params = sp.symbols(f"{name}0:{count}", real=True) if count else ()
        return (cayley(params, n) if count else sp.eye(n)), tuple(params)
    rng = np.random.default_rng(rng)
    values = [sp.Rational(int(rng.choice([-1, 1]) * rng.integers(1, 10)), int(rng.integers(1, 8)))
              for _ in range(count)]
    return (cayley(values, n) if count else sp.eye(n)), ()


def function_field(symbols):
    """The field ``QQ(symbols)`` of rational functions (for :func:`field_matrix`)."""
    return sp.QQ.frac_field(*symbols)


def field_matrix(M, K):
    """``sympy.Matrix`` (or nested list) of rational functions -> ``DomainMatrix`` over the field ``K``."""
    return DomainMatrix.from_Matrix(sp.Matrix(M)).convert_to(K)


def hadamard(A, B):
    """Entrywise product of two DomainMatrices over the same field (or two ``sympy.Matrix``)."""
    if isinstance(A, DomainMatrix):
        rows = [[a * b for a, b in zip(ra, rb)] for ra, rb in zip(A.to_list(), B.to_list())]
        return DomainMatrix(rows, A.shape, A.domain)
    return A.multiply_elementwise(B)


def random_rational_point(symbols, rng=None, positive=()):
    """Random exact rationals for ``symbols``: ``p/q``, ``1 <= |p| <= 9``, ``1 <= q <= 7``.

    Symbols in ``positive`` (or with ``is_positive``) get ``p > 0``; the values are distinct,
    so generic assumptions (distinct singular values) hold at the point.  Symbols are visited
    in name order, so the point depends on ``rng`` only.
    """
    rng = np.random.default_rng(rng)
    point, used = {}, set()
    for x in sorted(set(symbols), key=str):
        while True:
            p, q = int(rng.integers(1, 10)), int(rng.integers(1, 8))
            if not (x in positive or x.is_positive) and rng.random() < 0.5:
                p = -p
            v = sp.Rational(p, q)
            if v not in used:
                break
        used.add(v)
        point[x] = v
    return point


@functools.lru_cache(maxsize=4096)
def is_zero(e, simplifier=None):
    """Exact zero test of a scalar: ``expand``, then the numerator of ``together``; or ``simplifier(e) == 0``.

    Memoised (a planted variant often meets the claim's residuals again).
    """
    e = sp.sympify(e)
    if simplifier is not None:
        return simplifier(e) == 0
    e = sp.expand(e)
    if e == 0:
        return True
    num, _ = sp.together(e).as_numer_denom()
    return sp.expand(num) == 0


def power_simplify(e):
    """``simplify`` after combining powers (for residuals with symbolic exponents)."""
    return sp.simplify(sp.powsimp(sp.together(e), force=True))


def to_float_array(M):
    """Exact sympy Matrix/DomainMatrix without free symbols -> float64 ndarray of the same shape."""
    if isinstance(M, DomainMatrix):
        M = M.to_Matrix()
    M = sp.Matrix(M)
    return np.array([[float(sp.N(e, 30)) for e in M.row(i)] for i in range(M.rows)], dtype=float)


def at_point(M, point):
    """Float array of a symbolic Matrix/DomainMatrix (or scalar) at an exact rational ``point``."""
    if isinstance(M, DomainMatrix) and hasattr(M.domain, "symbols"):      # evaluate in the field
        K = M.domain
        values = [K.domain.convert(point[x]) for x in K.symbols]
        rows = [[e.numer(*values) / e.denom(*values) for e in row] for row in M.to_list()]
        return np.array([[float(v) for v in row] for row in rows], dtype=float).reshape(M.shape)
    if isinstance(M, DomainMatrix):
        M = M.to_Matrix()
    if not isinstance(M, sp.MatrixBase):
        return float(sp.N(sp.sympify(M).xreplace(point), 30))
    return to_float_array(M.xreplace(point))


def _short(e, limit=160):
    text = str(e)
    return text if len(text) <= limit else text[:limit] + " ..."


# =========================================================================== the page contract

class Disproved(AssertionError):
    """A step of a proof is false; ``.step`` names the step (``"S2"``, ``"T1"``) that says so."""

    def __init__(self, message, step=None):
        super().__init__(f"{step}: {message}" if step else message)
        self.step = step


@dataclasses.dataclass(frozen=True)
class Page:
    """What a page proves: its THEORY.md label, a short title, a one-line statement, how it is
    decided, and its numbered steps ``{"S1": "what S1 establishes", ..., "T1": "library: ..."}``."""

    label: str
    title: str
    statement: str
    method: str
    steps: dict


@dataclasses.dataclass(frozen=True)
class Planted:
    """A planted wrong variant: ``make()`` returns keyword overrides for the page's ``prove``;
    the proof must raise :class:`Disproved` at ``step``."""

    step: str
    make: Callable


class Proof:
    """Recorder handed to a page's ``prove``: each check carries the label of its step.

    Attributes: ``rng`` (numpy Generator seeded by the runner, for rational points),
    ``quick`` (bool).
    """

    def __init__(self, page, rng=None, quick=False):
        self.page, self.quick = page, quick
        self.rng = np.random.default_rng(rng)
        self.checks = {step: 0 for step in page.steps}
        self.errors = {}                    # tie-in step -> largest relative error seen
        self.tolerances = {}
        self.covered, self.notes = [], []

    def _step(self, step):
        if step not in self.page.steps:
            raise KeyError(f"{self.page.label}: step {step!r} is not one of {list(self.page.steps)}")
        self.checks[step] += 1
        return step

    def sizes(self, text):
        """Record what was covered (``"3x3 N=2,3; 3x2 N=2"``)."""
        self.covered.append(text)

    def note(self, text):
        self.notes.append(text)

    def fail(self, step, message):
        """Raise :class:`Disproved` at ``step``."""
        raise Disproved(message, step=step)

    def holds(self, step, condition, what):
        """Step ``step`` checks a boolean fact (e.g. a sign decided by sympy's assumptions)."""
        self._step(step)
        if condition is not True:
            raise Disproved(f"{what}: does not hold ({condition})", step=step)

    def zero(self, step, residual, what, point=None, simplifier=None):
        r"""Step ``step`` decides that ``residual`` (scalar, Matrix or DomainMatrix) is identically 0.

        ``point`` (exact rationals for the free symbols) is tried first: a nonzero value there
        disproves at once and is reported as a witness.  ``simplifier`` decides non-rational
        expressions (logs, roots, hypergeometric): zero when ``simplifier(residual) == 0``.
        """
        self._step(step)
        if isinstance(residual, DomainMatrix):
            if not residual.is_zero_matrix:
                M = residual.to_Matrix()
                i = next(k for k, e in enumerate(M) if e != 0)
                raise Disproved(f"{what}: not identically zero; entry {divmod(i, M.cols)} is "
                                f"{_short(sp.factor(M[i]))}", step=step)
            return
        entries = list(residual) if isinstance(residual, sp.MatrixBase) else [residual]
        if point is not None:
            for k, e in enumerate(entries):
                v = sp.sympify(e).xreplace(point)
                if v.free_symbols == set() and not is_zero(v, simplifier):
                    witness = ", ".join(f"{x}={v}" for x, v in point.items())
                    raise Disproved(f"{what}: nonzero ({_short(sp.nsimplify(v))}) at the rational point "
                                    f"{_short(witness, 200)} (entry {k})", step=step)
        for k, e in enumerate(entries):
            if not is_zero(e, simplifier):
                raise Disproved(f"{what}: not identically zero (entry {k}: {_short(e)})", step=step)

    def close(self, step, numeric, exact, rtol=1e-10, what="", scale=None):
        """Tie-in step: the library's ``numeric`` value equals the ``exact`` sympy value (Matrix,
        DomainMatrix, array or number without free symbols) to relative error ``rtol`` (max-norm).

        The error is relative to ``max |exact|``, or to ``scale`` when given (for an exact 0).
        """
        self._step(step)
        if isinstance(exact, (sp.MatrixBase, DomainMatrix)):
            exact = to_float_array(exact)
        elif isinstance(exact, sp.Basic):
            exact = float(sp.N(exact, 30))
        numeric, exact = np.asarray(numeric, dtype=float), np.asarray(exact, dtype=float)
        if numeric.shape != exact.shape:
            raise Disproved(f"{what}: library returned shape {numeric.shape}, exact value has {exact.shape}",
                            step=step)
        if scale is None:
            scale = float(np.max(np.abs(exact), initial=0.0))
        scale = max(float(scale), 1e-300)
        err = float(np.max(np.abs(numeric - exact), initial=0.0)) / scale
        if not err <= rtol:
            raise Disproved(f"{what}: library deviates from the exact value by {err:.2e} (relative, "
                            f"tolerance {rtol:.0e})", step=step)
        self.errors[step] = max(self.errors.get(step, 0.0), err)
        self.tolerances[step] = max(self.tolerances.get(step, 0.0), rtol)
        return err


# =========================================================================== discovery

_PACKAGE = "dmf_edu.proofs"


def _proofs_package():
    """Import ``dmf_edu.proofs``: the installed package, or a checkout's top-level ``proofs/``
    next to the ``dmf_edu`` folder (so a source tree runs its own pages, never an installed copy)."""
    if _PACKAGE in sys.modules:
        return sys.modules[_PACKAGE]
    here = pathlib.Path(__file__).resolve().parent
    folder = here.parent / "proofs"
    if (folder / "__init__.py").exists() and not (here / "proofs").exists():
        spec = importlib.util.spec_from_file_location(_PACKAGE, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[_PACKAGE] = module
        spec.loader.exec_module(module)
        return module
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
                (_PACKAGE, "dmf_edu.symbolic")):
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
                               f"{_short(v['reason'], 120)}" for v in bad)
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


def prove(wanted=None, quick=False, seed=0, planted=True, jobs=1):
    """Run the pages for the labels ``wanted`` (default all): a list of :class:`PageResult`, in label order.

    ``jobs > 1`` runs pages in that many worker processes (results do not depend on ``jobs``:
    each page draws its points from its own generator, seeded by ``seed`` and its label).
    """
    chosen = list(select(wanted))
    if jobs <= 1 or len(chosen) <= 1:
        return [_run_label(label, quick, seed, planted) for label in chosen]
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(int(jobs), len(chosen))) as pool:
        futures = [pool.submit(_run_label, label, quick, seed, planted) for label in chosen]
        return [f.result() for f in futures]


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


def prove_main(wanted=None, json_output=False, quick=False, seed=0, jobs=1):
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
    if int(jobs) < 1:
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


if __name__ == "__main__":           # python -m dmf_edu.symbolic [LABEL ...] [--json] [--quick]
    raise SystemExit(prove_main([a for a in sys.argv[1:] if not a.startswith("--")],
                                json_output="--json" in sys.argv[1:], quick="--quick" in sys.argv[1:]))
