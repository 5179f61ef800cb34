r"""Symbolic proofs (sympy) of the formulas of THEORY.md, tied to the library's own code.

This module is imported on demand only (``import dmf_edu`` does not import sympy).  It holds

* the **machinery**: explicit symbolic matrices, the product ``W = W_N ... W_1``, the E1
  formula on symbolic factors, rational rotations, exact zero tests and random rational
  points (:func:`symbol_matrix` ... :func:`require_zero`);
* the **registry of claims** (:data:`CLAIMS`): one checker per formula, each with planted
  wrong variants that the checker must reject, and a tie-in that evaluates the numeric
  function implementing the formula (``layer_gradients``, ``end_to_end_operator``, ...) at
  random rational points and compares it with the exact value, so a bug in the library
  makes the proof fail;
* the runner behind ``dmf-edu prove``: :func:`prove_all`, :func:`audit_table`,
  :func:`prove_main`.  The files ``proofs/eNN_*.py`` of a checkout are readable pages built
  on the same registry.

How identities are decided (STYLE.md): explicit ``sympy.Matrix`` objects of symbols at
small rectangular sizes, ``expand(lhs - rhs) == 0`` for polynomials and the numerator of
``together(lhs - rhs)`` for rational functions (both exact); rational-function matrices
(rotations) live in ``DomainMatrix`` over the field ``QQ(symbols)``, whose arithmetic is
canonical, so "the difference is the zero matrix" is exact.  Before the exact test each
residual is evaluated at a random rational point in exact arithmetic: a nonzero value is
a certificate that the claim is false (and names a witness point), so wrong variants are
rejected fast.  ``MatrixSymbol`` derivatives are never used (they are unreliable in sympy
1.14 for sums and Hadamard products).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import time
from typing import Callable

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from ._validate import as_rng

__all__ = [
    "Disproved", "Claim", "ClaimResult", "CLAIMS", "get_claim", "run_claim", "run_planted",
    "prove_all", "audit_table", "prove_main", "proof_page_main",
    "symbol_matrix", "symbolic_weights", "chain_product", "layer_gradient_formula",
    "end_to_end_operator_formula", "rotation", "field_matrix", "random_rational_point",
    "require_zero", "to_float_array",
]


# =========================================================================== machinery

class Disproved(AssertionError):
    """A claimed identity is false: the message names the residual or a witness point."""


def symbol_matrix(name, rows, cols):
    """``rows x cols`` ``sympy.Matrix`` of real symbols ``name_ij`` (0-based ``i, j``)."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def symbolic_weights(dims, name="w"):
    """Symbolic factors ``[W_1, ..., W_N]`` with ``W_j`` of shape ``(d_j, d_{j-1})``.

    Parameters
    ----------
    dims : sequence of ints ``[d_0, d_1, ..., d_N]``
        ``d_0 = n`` (columns of ``W``), ``d_N = m`` (rows of ``W``).
    """
    return [symbol_matrix(f"{name}{j + 1}", dims[j + 1], dims[j]) for j in range(len(dims) - 1)]


def _eye(like, n):
    """Identity of size ``n`` of the same kind (Matrix or DomainMatrix) as ``like``."""
    if isinstance(like, DomainMatrix):
        return DomainMatrix.eye(n, like.domain)
    return sp.eye(n)


def chain_product(factors):
    """End-to-end product ``W_N ... W_1`` of ``factors = [W_1, ..., W_N]`` (Matrix or DomainMatrix)."""
    out = factors[0]
    for F in factors[1:]:
        out = F * out
    return out


def _product(factors, identity):
    """``F_k ... F_1`` of ``factors = [F_1, ..., F_k]``; ``identity`` when the list is empty."""
    return chain_product(factors) if len(factors) else identity


def layer_gradient_formula(weights, G):
    r"""E1 on symbolic factors: ``[W_{N:j+1}^T G W_{j-1:1}^T for j = 1..N]``.

    Parameters
    ----------
    weights : list ``[W_1, ..., W_N]`` of ``sympy.Matrix`` or ``DomainMatrix``, ``W_j`` of shape ``(d_j, d_{j-1})``
    G : same kind, shape ``(d_N, d_0)``

    Returns
    -------
    list of matrices, the ``j``-th of shape ``(d_j, d_{j-1})``

    Notes
    -----
    **E1**: :math:`\partial\phi/\partial W_j = W_{N:j+1}^\top G\, W_{j-1:1}^\top`,
    empty products being identities.
    """
    m, n = G.shape
    return [_product(weights[j + 1:], _eye(G, m)).transpose() * G
            * _product(weights[:j], _eye(G, n)).transpose() for j in range(len(weights))]


def end_to_end_operator_formula(Q_out, Q_in, root, depth, Z):
    r"""E3 operator for ``W = Q_out root^N Q_in^T`` (``Q``'s orthogonal, ``root = Sigma^{1/N}`` diagonal).

    Parameters
    ----------
    Q_out : matrix, shape ``(m, m)``; Q_in : matrix, shape ``(n, n)``
    root : diagonal matrix ``Sigma^{1/N}``, shape ``(m, n)`` with ``m = n`` here
    depth : int ``N >= 1``
    Z : matrix, shape ``(m, n)``

    Returns
    -------
    matrix, shape ``(m, n)``

    Notes
    -----
    **E3**: :math:`A_{N,W}(Z) = \sum_{j=1}^{N} (WW^\top)^{(N-j)/N} Z (W^\top W)^{(j-1)/N}`,
    where ``(W W^T)^{k/N} = Q_out root^{2k} Q_out^T`` and ``(W^T W)^{k/N} = Q_in root^{2k} Q_in^T``:
    the parametrisation makes every fractional power explicit.
    """
    return _operator_sum(Q_out, Q_in, root, depth, Z)


def _operator_sum(Q_out, Q_in, root, N, Z, shift=0):
    """``sum_j Q_out root^{2(N-j+shift)} Q_out^T Z Q_in root^{2(j-1)} Q_in^T`` (``shift = 1``: a planted bug)."""
    out = None
    for j in range(1, N + 1):
        term = (Q_out * root ** (2 * (N - j + shift)) * Q_out.transpose() * Z
                * Q_in * root ** (2 * (j - 1)) * Q_in.transpose())
        out = term if out is None else out + term
    return out


def rotation(t):
    r"""Rational 2x2 rotation (Cayley / half-angle parametrisation), ``t = tan(theta/2)``.

    .. math:: R(t) = \frac{1}{1+t^2}\begin{pmatrix}1-t^2 & -2t\\ 2t & 1-t^2\end{pmatrix}

    Every rotation but the half-turn, with rational entries for rational ``t``.
    """
    d = 1 + t ** 2
    return sp.Matrix([[(1 - t ** 2) / d, -2 * t / d], [2 * t / d, (1 - t ** 2) / d]])


def field_matrix(M, K):
    """``sympy.Matrix`` of rational functions -> ``DomainMatrix`` over the field ``K``."""
    return DomainMatrix.from_Matrix(sp.Matrix(M)).convert_to(K)


def _scaled(A, c):
    """``c * A`` for a Matrix or a DomainMatrix (``c`` a sympy number)."""
    if isinstance(A, DomainMatrix):
        return A.scalarmul(A.domain.convert(c))
    return A * c


def random_rational_point(symbols, rng=None, positive=()):
    """Random exact rationals for ``symbols``: ``p/q``, ``1 <= |p| <= 9``, ``1 <= q <= 7``.

    Symbols in ``positive`` (or with ``is_positive``) get ``p > 0``; values are distinct
    so that generic assumptions (distinct singular values) hold at the point.
    """
    rng = as_rng(rng)
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


def _is_zero(e, simplifier=None):
    """Exact zero test: expand, then the numerator of ``together``; or a given ``simplifier``."""
    if simplifier is not None:
        return simplifier(e) == 0
    e = sp.expand(e)
    if e == 0:
        return True
    num, _ = sp.together(e).as_numer_denom()
    return sp.expand(num) == 0


def _short(e, limit=160):
    text = str(e)
    return text if len(text) <= limit else text[:limit] + " ..."


def require_zero(residual, what, point=None, simplifier=None):
    r"""Raise :class:`Disproved` unless ``residual`` (a scalar, Matrix or DomainMatrix) is identically 0.

    Parameters
    ----------
    residual : sympy expression, ``sympy.Matrix`` or ``DomainMatrix``
    what : str
        Names the identity in the failure message.
    point : dict, optional
        Exact rational values for the free symbols: a nonzero value there disproves the
        claim at once and is reported as a witness (Schwartz-Zippel pre-check).
    simplifier : callable, optional
        For non-rational expressions (logs, square roots, hypergeometric): the residual is
        zero when ``simplifier(residual) == 0``.  Default: exact expansion.
    """
    if isinstance(residual, DomainMatrix):
        if not residual.is_zero_matrix:
            M = residual.to_Matrix()
            i = next(k for k, e in enumerate(M) if e != 0)
            raise Disproved(f"{what}: not identically zero; entry {divmod(i, M.cols)} is "
                            f"{_short(sp.factor(M[i]))}")
        return
    entries = list(residual) if isinstance(residual, sp.MatrixBase) else [residual]
    if point is not None:
        for k, e in enumerate(entries):
            v = sp.sympify(e).xreplace(point)
            if v.free_symbols == set() and not _is_zero(v, simplifier):
                witness = ", ".join(f"{x}={v}" for x, v in point.items())
                raise Disproved(f"{what}: nonzero ({_short(sp.nsimplify(v))}) at the rational "
                                f"point {_short(witness, 200)} (entry {k})")
    for k, e in enumerate(entries):
        if not _is_zero(e, simplifier):
            raise Disproved(f"{what}: not identically zero (entry {k}: {_short(e)})")


def to_float_array(M):
    """Exact sympy Matrix/DomainMatrix without free symbols -> float64 ndarray of the same shape."""
    if isinstance(M, DomainMatrix):
        M = M.to_Matrix()
    return np.array([[float(sp.N(e, 30)) for e in M.row(i)] for i in range(M.rows)], dtype=float)


def _compare(name, numeric, exact, rtol):
    """Largest relative deviation of a library value from the exact one; Disproved if > ``rtol``."""
    numeric, exact = np.asarray(numeric, float), np.asarray(exact, float)
    if numeric.shape != exact.shape:
        raise Disproved(f"{name}: library returned shape {numeric.shape}, exact value has {exact.shape}")
    scale = max(float(np.max(np.abs(exact), initial=0.0)), 1e-300)
    err = float(np.max(np.abs(numeric - exact), initial=0.0)) / scale
    if not err <= rtol:
        raise Disproved(f"{name}: library deviates from the exact value by {err:.2e} (relative, "
                        f"tolerance {rtol:.0e})")
    return err


def _library(module, name):
    """The library function ``module.name``, or None when it is not there (yet)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _tie_in(report, library, module, name):
    """Resolve the function a tie-in checks (``library`` overrides, e.g. a planted bug).

    Returns the callable, or None after recording why the tie-in is skipped.
    """
    fn = library if library is not None else _library(module, name)
    if fn is None:
        report["tie_in"].append(f"skipped: {module}.{name} is not available")
    return fn


def _new_report():
    return {"sizes": [], "tie_in": [], "notes": []}


def _dims_label(dims):
    """``"N=2 d=(3,4,2)"`` for ``dims = [d_0, ..., d_N]``."""
    return f"N={len(dims) - 1} d=({','.join(map(str, dims))})"


def _pt(M, point):
    """Float array of a symbolic matrix at an exact point."""
    return to_float_array(sp.Matrix(M).xreplace(point))


# =========================================================================== registry

@dataclasses.dataclass(frozen=True)
class Claim:
    """One machine-checked statement of THEORY.md.

    ``check(quick, rng, **variant)`` raises :class:`Disproved` when the statement (or the
    library's implementation of it) is false and otherwise returns a report dict with
    ``sizes``, ``tie_in`` and ``notes``.  ``planted`` maps a name to a function returning the
    keyword arguments of a wrong variant (or None when the variant needs a library function
    that is not there); the checker must reject every one.
    """

    label: str
    key: str
    title: str
    statement: str
    method: str
    check: Callable
    planted: dict


@dataclasses.dataclass
class ClaimResult:
    """Outcome of one claim (or of one planted variant when ``variant`` is set)."""

    label: str
    title: str
    claim: str
    status: str            # "proved" or "failed"
    method: str
    sizes: str
    seconds: float
    detail: str = ""
    failure: str = ""      # "", "disproved" (the check said no) or "error" (it crashed)
    variant: str | None = None
    tie_in: list = dataclasses.field(default_factory=list)
    planted: list = dataclasses.field(default_factory=list)
    proof_file: str = ""

    def to_dict(self):
        return dataclasses.asdict(self)


CLAIMS: dict = {}


def _claim(label, key, title, statement, method, planted=None):
    """Decorator registering a checker as a :class:`Claim`."""
    def register(check):
        CLAIMS[label] = Claim(label, key, title, statement, method, check, planted or {})
        return check
    return register


def get_claim(label):
    """The registered :class:`Claim` for ``label`` (e.g. ``"E3"``)."""
    try:
        return CLAIMS[label]
    except KeyError:
        raise ValueError(f"label must be one of {list(CLAIMS)}, got {label!r}") from None


def run_claim(label, quick=False, variant=None, rng=None):
    """Run one claim's check (or one planted variant of it) and time it.

    Parameters
    ----------
    label : str
        A key of :data:`CLAIMS`.
    quick : bool
        Smaller sizes / fewer depths (each claim says which).
    variant : str, optional
        A key of the claim's ``planted`` dict: run the planted wrong variant instead.
    rng : None, int or Generator
        For the random rational points (pre-checks and tie-ins); the exact tests do not
        depend on it.

    Returns
    -------
    ClaimResult
    """
    claim = get_claim(label)
    kwargs = {}
    if variant is not None:
        if variant not in claim.planted:
            raise ValueError(f"variant must be one of {list(claim.planted)} for {label}, got {variant!r}")
        kwargs = claim.planted[variant]()
        if kwargs is None:
            return ClaimResult(label, claim.title, claim.statement, "skipped", claim.method, "", 0.0,
                               detail="needs a library function that is not available",
                               variant=variant, proof_file=f"proofs/{claim.key}.py")
    rng = as_rng(rng)
    start = time.perf_counter()
    status, detail, failure, report = "proved", "", "", _new_report()
    try:
        report = claim.check(quick=quick, rng=rng, **kwargs)
    except Disproved as exc:
        status, detail, failure = "failed", str(exc), "disproved"
    except Exception as exc:  # a crash is a failure too, reported as such
        status, detail, failure = "failed", f"{type(exc).__name__}: {exc}", "error"
    if status == "proved":
        detail = "; ".join(report["notes"])
    return ClaimResult(label, claim.title, claim.statement, status, claim.method,
                       "; ".join(report["sizes"]), time.perf_counter() - start, detail, failure,
                       variant, list(report["tie_in"]), proof_file=f"proofs/{claim.key}.py")


def run_planted(label, quick=True, rng=None):
    """Run every planted wrong variant of a claim; each should come back ``failed``."""
    return [run_claim(label, quick=quick, variant=name, rng=rng) for name in get_claim(label).planted]


def prove_all(quick=False, labels=None, planted=True, rng=None):
    """Run the claims (all, or ``labels``) and, with ``planted``, their planted variants.

    A claim whose planted variant is *not* rejected is reported failed: its check has no
    teeth.  Returns a list of :class:`ClaimResult` (the variants under ``.planted``).
    """
    rng = as_rng(rng)
    results = []
    for label in (labels or list(CLAIMS)):
        res = run_claim(label, quick=quick, rng=rng)
        if planted:
            for p in run_planted(label, quick=True, rng=rng):
                res.seconds += p.seconds
                res.planted.append({"name": p.variant, "status": p.status, "failure": p.failure,
                                    "reason": p.detail})
                if p.status == "proved" and res.status == "proved":
                    res.status, res.failure = "failed", "disproved"
                    res.detail = f"planted wrong variant {p.variant!r} was NOT rejected: the check has no teeth"
        results.append(res)
    return results


def _planted_summary(res):
    done = [p for p in res.planted if p["status"] != "skipped"]
    rejected = sum(p["status"] == "failed" for p in done)
    return f"{rejected}/{len(done)} rejected" if done else "-"


def audit_table(results):
    """Plain-text audit table: label, claim, method, sizes, result, time, planted variants."""
    head = ("label", "claim", "method", "sizes", "result", "time", "planted")
    rows = [(r.label, r.title, r.method, r.sizes, r.status, f"{r.seconds:.1f}s", _planted_summary(r))
            for r in results]
    caps = (5, 46, 34, 44, 6, 6, 13)
    clip = lambda s, w: s if len(s) <= w else s[:w - 1] + "~"  # noqa: E731
    widths = [min(cap, max(len(head[i]), *(len(row[i]) for row in rows))) for i, cap in enumerate(caps)]
    line = lambda cells: "  ".join(clip(c, w).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(row) for row in rows]
    out.append("")
    for r in results:
        out.append(f"{r.label}: {r.claim}")
        out.append(f"    sizes: {r.sizes}")
        for t in r.tie_in:
            out.append(f"    library tie-in: {t}")
        if r.status != "proved":
            out.append(f"    FAILED: {r.detail}")
        for p in r.planted:
            out.append(f"    planted {p['name']!r}: {'rejected' if p['status'] == 'failed' else p['status']}"
                       + (f" ({_short(p['reason'], 110)})" if p["status"] == "failed" else ""))
    failed = [r.label for r in results if r.status != "proved"]
    total = sum(r.seconds for r in results)
    out.append("")
    out.append(f"{len(results)} claims, {len(results) - len(failed)} proved, "
               f"{len(failed)} failed{' (' + ', '.join(failed) + ')' if failed else ''}; {total:.1f}s")
    return "\n".join(out)


def prove_main(json_output: bool = False, quick: bool = False) -> int:
    """Entry point of ``dmf-edu prove [--json] [--quick]``.

    Runs every claim of :data:`CLAIMS` with its planted variants, prints the audit table
    (or, with ``json_output``, a JSON list with ``label``, ``claim``, ``status``, ``method``,
    ``seconds``, ...) to stdout, and returns the exit code: 0 when every claim is proved,
    1 otherwise.
    """
    results = prove_all(quick=quick)
    if json_output:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(audit_table(results))
    return 0 if all(r.status == "proved" for r in results) else 1


def proof_page_main(label, argv=None):
    """``main`` of a ``proofs/eNN_*.py`` page: run its claim and planted variants, print, exit code.

    ``--quick`` in ``argv`` (default ``sys.argv[1:]``) selects the quick sizes.
    """
    argv = sys.argv[1:] if argv is None else argv
    results = prove_all(quick="--quick" in argv, labels=[label])
    print(audit_table(results))
    return 0 if results[0].status == "proved" else 1


# =========================================================================== E1

_E1_DIMS = ([2, 2, 2], [3, 2], [3, 4, 2], [3, 1, 4, 2], [2, 3, 4, 1, 3])


def _gradient_matrix(f, M):
    """Matrix of partial derivatives ``df/dM_ab`` (entry by entry, plain ``sympy.diff``)."""
    return sp.Matrix(M.shape[0], M.shape[1], lambda a, b: sp.diff(f, M[a, b]))


def _planted_dropped_transpose(weights, G):
    m, n = G.shape
    return [_product(weights[j + 1:], _eye(G, m)).transpose() * G * _product(weights[:j], _eye(G, n))
            for j in range(len(weights))]


def _planted_reversed_order(weights, G):
    return layer_gradient_formula(weights[::-1], G)


def _bug(module, name, wrap):
    """Planted library bug: ``wrap(real_function)``, or None if the function is missing."""
    def make():
        fn = _library(module, name)
        return None if fn is None else {"library": wrap(fn)}
    return make


@_claim("E1", "e01_layer_gradients", "layer gradients dphi/dW_j",
        "d/dW_j l(W_N...W_1) = W_{N:j+1}^T G W_{j-1:1}^T, G = grad l(W), for every differentiable l",
        "exact expansion (sympy.diff)",
        planted={
            "dropped transpose": lambda: {"formula": _planted_dropped_transpose},
            "reversed product order": lambda: {"formula": _planted_reversed_order},
            "wrong factor 2": lambda: {"formula": lambda ws, G: [g + g for g in layer_gradient_formula(ws, G)]},
            "library bug: last layer halved": _bug(
                "dmf_edu.factorization", "layer_gradients",
                lambda f: lambda ws, G: f(ws, G)[:-1] + [0.5 * f(ws, G)[-1]]),
        })
def _check_e01(quick=False, rng=None, formula=layer_gradient_formula, library=None):
    """E1 at explicit sizes: the linear loss <G, W> with free G (every loss, by the chain rule)
    and the masked quadratic loss with free mask and targets; the library at rational points."""
    report = _new_report()
    grad_fn = _tie_in(report, library, "dmf_edu.factorization", "layer_gradients")
    worst = 0.0
    for dims in (_E1_DIMS[:4] if quick else _E1_DIMS):
        weights = symbolic_weights(dims)
        m, n = dims[-1], dims[0]
        W = chain_product(weights)
        G, mask, Y = symbol_matrix("g", m, n), symbol_matrix("m", m, n), symbol_matrix("y", m, n)
        free = set().union(*(w.free_symbols for w in weights), G.free_symbols, mask.free_symbols,
                           Y.free_symbols)
        point = random_rational_point(free, rng)
        # (a) linear functional <G, W>, G held fixed: its gradient is the chain rule of any loss
        phi = sp.expand(sum(G[i, k] * W[i, k] for i in range(m) for k in range(n)))
        exact = [_gradient_matrix(phi, Wj) for Wj in weights]
        for j, (e, c) in enumerate(zip(exact, formula(weights, G))):
            require_zero(e - c, f"E1 dims {dims}, layer {j + 1}, loss <G, W>", point)
        # (b) masked quadratic loss 1/2 sum m_ik (W_ik - y_ik)^2, G = mask * (W - Y)
        R = W - Y
        loss = sum(mask[i, k] * R[i, k] ** 2 for i in range(m) for k in range(n)) / 2
        Gq = mask.multiply_elementwise(R)
        for j, c in enumerate(formula(weights, Gq)):
            require_zero(_gradient_matrix(loss, weights[j]) - c,
                         f"E1 dims {dims}, layer {j + 1}, masked quadratic loss", point)
        report["sizes"].append(_dims_label(dims))
        if grad_fn is not None:
            numeric = grad_fn([_pt(w, point) for w in weights], _pt(G, point))
            for j, e in enumerate(exact):
                worst = max(worst, _compare(f"layer_gradients, dims {dims}, layer {j + 1}",
                                            numeric[j], _pt(e, point), 1e-12))
    if grad_fn is not None:
        report["tie_in"].append(f"layer_gradients at a random rational point per size: "
                                f"max relative error {worst:.1e} (tolerance 1e-12)")
    report["notes"].append("loss <G,W> with free G covers every loss (chain rule); "
                           "masked quadratic checked too")
    return report


# =========================================================================== E2

_E2_DIMS = ([2, 2, 2], [3, 4, 2], [3, 1, 4, 2], [2, 3, 4, 1, 3])


def _planted_first_layer_doubled(weights, G):
    grads = layer_gradient_formula(weights, G)
    return [grads[0] + grads[0]] + grads[1:]


def _balancedness_rate(weights, velocities, j):
    """``d/dt D_j`` for ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` given the velocities (0-based ``j``)."""
    A, B = weights[j + 1], weights[j]
    dA, dB = velocities[j + 1], velocities[j]
    return dA.T @ A + A.T @ dA - dB @ B.T - B @ dB.T      # sympy Matrix or ndarray


@_claim("E2", "e02_balancedness", "balancedness D_j conserved by the flow",
        "D_j = W_{j+1}^T W_{j+1} - W_j W_j^T satisfies dD_j/dt = -2 lambda D_j under "
        "dW_j/dt = -dphi/dW_j - lambda W_j (lambda = 0: conserved)",
        "exact expansion",
        planted={
            "dropped transpose": lambda: {"formula": _planted_dropped_transpose},
            "first layer gradient doubled": lambda: {"formula": _planted_first_layer_doubled},
            "wrong decay rate (-lambda D)": lambda: {"decay_rate": 1},
            "library bug: first layer doubled": _bug(
                "dmf_edu.factorization", "layer_gradients",
                lambda f: lambda ws, G: [2 * f(ws, G)[0]] + f(ws, G)[1:]),
        })
def _check_e02(quick=False, rng=None, formula=layer_gradient_formula, decay_rate=2, library=None):
    """E2 symbolic in the weights, in G and in the weight decay lambda; the library's
    gradients conserve D_j to rounding at rational points."""
    report = _new_report()
    grad_fn = _tie_in(report, library, "dmf_edu.factorization", "layer_gradients")
    lam = sp.Symbol("lambda", real=True)
    worst = 0.0
    for dims in (_E2_DIMS[:3] if quick else _E2_DIMS):
        weights = symbolic_weights(dims)
        G = symbol_matrix("g", dims[-1], dims[0])
        velocities = [-g - lam * w for g, w in zip(formula(weights, G), weights)]
        free = set().union(*(w.free_symbols for w in weights), G.free_symbols, {lam})
        point = random_rational_point(free, rng)
        for j in range(len(weights) - 1):
            D = weights[j + 1].T * weights[j + 1] - weights[j] * weights[j].T
            require_zero(_balancedness_rate(weights, velocities, j) + decay_rate * lam * D,
                         f"E2 dims {dims}, D_{j + 1}", point)
        report["sizes"].append(_dims_label(dims))
        if grad_fn is not None and len(weights) > 1:
            ws = [_pt(w, point) for w in weights]
            vel = [-g for g in grad_fn(ws, _pt(G, point))]
            for j in range(len(ws) - 1):
                rate = _balancedness_rate(ws, vel, j)
                scale = sum(np.linalg.norm(v) * np.linalg.norm(w) for v, w in zip(vel[j:j + 2], ws[j:j + 2]))
                err = float(np.max(np.abs(rate))) / scale
                if not err <= 1e-12:
                    raise Disproved(f"layer_gradients: dD_{j + 1}/dt = {err:.1e} (relative) at a "
                                    f"rational point of dims {dims}; E2 says 0")
                worst = max(worst, err)
    if grad_fn is not None:
        report["tie_in"].append(f"dD_j/dt from layer_gradients at rational points: max relative "
                                f"{worst:.1e} (tolerance 1e-12)")
    return report


# =========================================================================== E3

def _balanced_setup(N):
    """Symbols and field for 2x2 balanced factors ``W_j = Q_j S Q_{j-1}^T``, ``Q_j = R(t_j)``."""
    ts = sp.symbols(f"t0:{N + 1}", real=True)
    s = sp.symbols("s1 s2", positive=True)
    g = sp.symbols("g11 g12 g21 g22", real=True)
    K = sp.QQ.frac_field(*ts, *s, *g)
    Q = [field_matrix(rotation(t), K) for t in ts]
    S = field_matrix(sp.diag(*s), K)
    G = field_matrix(sp.Matrix(2, 2, g), K)
    weights = [Q[j + 1] * S * Q[j].transpose() for j in range(N)]
    return dict(ts=ts, s=s, g=g, K=K, Q=Q, S=S, G=G, weights=weights)


def _planted_operator_exponent(Q_out, Q_in, root, depth, Z):
    return _operator_sum(Q_out, Q_in, root, depth, Z, shift=1)


def _planted_operator_sides(Q_out, Q_in, root, depth, Z):
    return end_to_end_operator_formula(Q_in, Q_out, root, depth, Z)


def _planted_operator_mean(Q_out, Q_in, root, depth, Z):
    return _scaled(end_to_end_operator_formula(Q_out, Q_in, root, depth, Z), sp.Rational(1, depth))


@_claim("E3", "e03_end_to_end_dynamics", "balanced factor flow = -A_{N,W}(G)",
        "if W_j = Q_j Sigma^{1/N} Q_{j-1}^T (balanced), sum_j W_{N:j+1} (dW_j/dt) W_{j-1:1} = "
        "-sum_j (WW^T)^{(N-j)/N} G (W^T W)^{(j-1)/N}",
        "exact (rational-function field)",
        planted={
            "wrong exponent (N-j+1)/N": lambda: {"operator": _planted_operator_exponent},
            "sides swapped": lambda: {"operator": _planted_operator_sides},
            "wrong factor 1/N": lambda: {"operator": _planted_operator_mean},
            "library bug: depth off by one": _bug(
                "dmf_edu.dynamics", "end_to_end_operator", lambda f: lambda W, Z, N: f(W, Z, N + 1)),
        })
def _check_e03(quick=False, rng=None, operator=end_to_end_operator_formula, library=None):
    """E3 for 2x2 balanced factors with rotations Q_j = R(t_j), N = 2, 3, 4: the pushforward
    of the E1 factor flow equals -A_{N,W}(G) exactly; the parametrisation is balanced and its
    powers are the PSD powers; library end_to_end_operator at rational points."""
    report = _new_report()
    op_fn = _tie_in(report, library, "dmf_edu.dynamics", "end_to_end_operator")
    worst = 0.0
    for N in ((2, 3) if quick else (2, 3, 4)):
        c = _balanced_setup(N)
        Q, S, G, weights, K = c["Q"], c["S"], c["G"], c["weights"], c["K"]
        I2 = DomainMatrix.eye(2, K)
        for j in range(N - 1):                     # the parametrisation is balanced (D_j = 0)
            D = weights[j + 1].transpose() * weights[j + 1] - weights[j] * weights[j].transpose()
            require_zero(D, f"E3 N={N}: W_j = Q_j S Q_(j-1)^T is balanced (D_{j + 1} = 0)")
        W = chain_product(weights)
        require_zero(W * W.transpose() - Q[N] * S ** (2 * N) * Q[N].transpose(),
                     f"E3 N={N}: W W^T = Q_N S^(2N) Q_N^T (the powers are the PSD powers)")
        grads = layer_gradient_formula(weights, G)                      # E1
        W_dot = None
        for j in range(N):
            term = -(_product(weights[j + 1:], I2) * grads[j] * _product(weights[:j], I2))
            W_dot = term if W_dot is None else W_dot + term
        A = operator(Q[N], Q[0], S, N, G)
        require_zero(W_dot + A, f"E3 N={N}: pushforward of the factor flow + A_(N,W)(G)")
        report["sizes"].append(f"2x2 N={N}")
        if op_fn is not None:
            point = random_rational_point(c["ts"] + c["s"] + c["g"], rng)
            numeric = op_fn(_pt(W.to_Matrix(), point), _pt(G.to_Matrix(), point), N)
            worst = max(worst, _compare(f"end_to_end_operator N={N}", numeric,
                                        _pt(A.to_Matrix(), point), 1e-10))
    if op_fn is not None:
        report["tie_in"].append(f"end_to_end_operator at rational balanced points: max relative "
                                f"error {worst:.1e} (tolerance 1e-10)")
    report["notes"].append("Q_j in SO(2) via the half-angle parametrisation; G free")
    return report


# =========================================================================== E4, E5

def multiplier_summand(u, v, N, p):
    r"""``p``-th term of ``a_N`` in the variables ``u = x^{1/N}``, ``v = y^{1/N}``: ``u^{2(N-p)} v^{2(p-1)}`` (E4)."""
    return u ** (2 * (N - p)) * v ** (2 * (p - 1))


def multiplier_closed_form(u, v, N):
    r"""E4 closed form ``(x^2 - y^2)/(x^{2/N} - y^{2/N})`` in ``u = x^{1/N}``, ``v = y^{1/N}``:
    ``(u^{2N} - v^{2N})/(u^2 - v^2)``."""
    return (u ** (2 * N) - v ** (2 * N)) / (u ** 2 - v ** 2)


def _multiplier(summand, u, v, N):
    return sp.Add(*(summand(u, v, N, p) for p in range(1, N + 1)))


@_claim("E4", "e04_depth_multipliers", "depth multipliers a_N in the singular basis",
        "U^T A_{N,W}(Z) V = a_N o (U^T Z V), a_N(x,y) = sum_p x^{2(N-p)/N} y^{2(p-1)/N} = "
        "(x^2-y^2)/(x^{2/N}-y^{2/N}) (x != y), a_N(x,x) = N x^{2(N-1)/N}",
        "exact expansion + symbolic sum + limit",
        planted={
            "wrong exponent 2(N-p+1)": lambda: {
                "summand": lambda u, v, N, p: u ** (2 * (N - p + 1)) * v ** (2 * (p - 1))},
            "wrong denominator x^{1/N} - y^{1/N}": lambda: {
                "closed_form": lambda u, v, N: (u ** (2 * N) - v ** (2 * N)) / (u - v)},
            "library bug: 1e-3 relative error when x > y": _bug(
                "dmf_edu.linalg", "depth_multiplier", lambda f: lambda x, y, N: f(x, y, N) * (1 + (x > y) * 1e-3)),
        })
def _check_e04(quick=False, rng=None, summand=multiplier_summand, closed_form=multiplier_closed_form,
               library=None):
    """E4: the finite sum equals the closed form (each N, and for symbolic N by summing the
    geometric series), its diagonal value, the singular-basis identity for 2x2 W built from
    rotations (N = 2, 3), and dmf_edu.linalg.depth_multiplier at rational points."""
    report = _new_report()
    fn = _tie_in(report, library, "dmf_edu.linalg", "depth_multiplier")
    u, v = sp.symbols("u v", positive=True)
    depths = range(1, 6 if quick else 9)
    for N in depths:
        point = random_rational_point([u, v], rng)
        require_zero(_multiplier(summand, u, v, N) - closed_form(u, v, N), f"E4 N={N}: sum = closed form", point)
        require_zero(sp.limit(closed_form(u, v, N), v, u) - N * u ** (2 * (N - 1)),
                     f"E4 N={N}: limit y -> x of the closed form = N x^(2(N-1)/N)")
    report["sizes"].append(f"N=1..{depths[-1]}")
    # symbolic N: sympy sums the geometric series (a Piecewise: generic branch and u = v)
    Ns, p = sp.Symbol("N", integer=True, positive=True), sp.Symbol("p", integer=True, positive=True)
    total = sp.simplify(sp.summation(summand(u, v, Ns, p), (p, 1, Ns)))
    pieces = total.args if isinstance(total, sp.Piecewise) else ((total, sp.true),)
    generic = [e for e, cond in pieces if cond == sp.true]
    if len(generic) != 1:
        raise Disproved(f"E4 symbolic N: unexpected form of the sum {_short(total)}")
    require_zero(generic[0] - closed_form(u, v, Ns), "E4 symbolic N: geometric sum = closed form",
                 simplifier=lambda e: sp.simplify(sp.powsimp(sp.together(e), force=True)))
    report["sizes"].append("symbolic N")
    # the singular-basis identity: W = U diag(s^N) V^T, U = R(a), V = R(b)
    for N in ((2,) if quick else (2, 3)):
        a, b = sp.symbols("a b", real=True)
        s = sp.symbols("s1 s2", positive=True)
        z = sp.symbols("z11 z12 z21 z22", real=True)
        K = sp.QQ.frac_field(a, b, *s, *z)
        U, V = field_matrix(rotation(a), K), field_matrix(rotation(b), K)
        Z = field_matrix(sp.Matrix(2, 2, z), K)
        lhs = U.transpose() * end_to_end_operator_formula(U, V, field_matrix(sp.diag(*s), K), N, Z) * V
        Zt = (U.transpose() * Z * V).to_Matrix()
        mult = sp.Matrix(2, 2, lambda i, j: _multiplier(summand, s[i], s[j], N))
        require_zero(lhs - field_matrix(mult.multiply_elementwise(Zt), K),
                     f"E4 N={N}: U^T A(Z) V = a_N o (U^T Z V)")
        report["sizes"].append(f"2x2 singular basis N={N}")
    if fn is not None:
        worst = 0.0
        for N in range(1, 7):
            pt = random_rational_point([u, v], rng)
            for uu, vv in ((pt[u], pt[v]), (pt[u], pt[u]), (pt[u], sp.Integer(0))):   # x != y, x = y, y = 0
                exact = _multiplier(summand, uu, vv, N)            # 0^0 = 1 (sympy: 0**0 == 1)
                x, y = float(uu ** N), float(vv ** N)
                worst = max(worst, _compare(f"depth_multiplier({x}, {y}, {N})", fn(x, y, N), float(exact), 1e-12))
        report["tie_in"].append(f"depth_multiplier, N=1..6, x != y, x = y and y = 0: max relative "
                                f"error {worst:.1e} (tolerance 1e-12)")
    return report


def log_mean_form(x, y):
    r"""The logarithmic mean ``L(x^2, y^2) = (x^2 - y^2)/(log x^2 - log y^2)`` (E5)."""
    return (x ** 2 - y ** 2) / (sp.log(x ** 2) - sp.log(y ** 2))


def _log_simplify(e):
    return sp.simplify(sp.expand_log(sp.together(e), force=True))


@_claim("E5", "e05_infinite_depth", "a_N/N -> logarithmic mean as N -> oo",
        "lim_{N->oo} a_N(x,y)/N = L(x^2,y^2) = (x^2-y^2)/(log x^2 - log y^2), L(x^2,x^2) = x^2, "
        "L(x^2,0) = 0, and N (a_N/N - L) -> -L log(xy)  (rate O(1/N))",
        "limit (sympy)",
        planted={
            "missing factor 2 in the log": lambda: {
                "limit_form": lambda x, y: (x ** 2 - y ** 2) / (sp.log(x) - sp.log(y))},
            "wrong sign of the 1/N term": lambda: {"rate": lambda x, y, L: L * sp.log(x * y)},
            "library bug: log mean of x, y instead of x^2, y^2": _bug(
                "dmf_edu.linalg", "log_mean", lambda f: lambda a, b: f(np.sqrt(a), np.sqrt(b))),
        })
def _check_e05(quick=False, rng=None, limit_form=log_mean_form, rate=lambda x, y, L: -L * sp.log(x * y),
               library=None):
    """E5: sympy limits of a_N/N (closed form, symbolic N) and of its diagonal value, L(x^2, 0),
    the first-order correction; dmf_edu.linalg.log_mean and depth_multiplier(., ., inf)."""
    report = _new_report()
    fn = _tie_in(report, library, "dmf_edu.linalg", "log_mean")
    x, y = sp.symbols("x y", positive=True)
    N = sp.Symbol("N", positive=True)
    a_over_N = (x ** 2 - y ** 2) / (x ** (2 / N) - y ** (2 / N)) / N
    L = limit_form(x, y)
    require_zero(sp.limit(a_over_N, N, sp.oo) - L, "E5: lim a_N/N = L(x^2, y^2)", simplifier=_log_simplify)
    require_zero(sp.limit(N * x ** (2 * (N - 1) / N) / N, N, sp.oo) - x ** 2, "E5: diagonal a_N(x,x)/N -> x^2")
    require_zero(sp.limit(L, y, 0, "+"), "E5: L(x^2, 0) = 0")
    require_zero(sp.limit(L, y, x) - x ** 2, "E5: L(x^2, x^2) = x^2")
    require_zero(sp.limit(N * (a_over_N - L), N, sp.oo) - rate(x, y, L),
                 "E5: N (a_N/N - L) -> -L log(xy)", simplifier=_log_simplify)
    report["sizes"].append("symbolic x, y > 0, N -> oo")
    if fn is not None:
        dm = _library("dmf_edu.linalg", "depth_multiplier")
        worst = 0.0
        pt = random_rational_point([x, y], rng)
        for xx, yy in ((pt[x], pt[y]), (pt[x], pt[x])):
            exact = float(sp.N(L.subs({x: xx, y: yy}) if xx != yy else xx ** 2, 30))
            worst = max(worst, _compare("log_mean", fn(float(xx) ** 2, float(yy) ** 2), exact, 1e-12))
            if dm is not None:
                worst = max(worst, _compare("depth_multiplier(., ., inf)", dm(float(xx), float(yy), np.inf),
                                            exact, 1e-12))
        report["tie_in"].append(f"log_mean and depth_multiplier(inf) at rational points, x != y and "
                                f"x = y: max relative error {worst:.1e} (tolerance 1e-12)")
    return report


# =========================================================================== E6, E7

_SVD_FLOW_CACHE = {}


def _svd_flow(N):
    """Solve the 2x2 E3 flow for the velocities of its SVD parameters (cached per N).

    ``W = U(a) diag(s1^N, s2^N) V(b)^T`` with rotations ``U = R(a)``, ``V = R(b)``; the
    unknowns ``(da, db, dsigma1, dsigma2)`` solve ``dW/dt = -A_{N,W}(G)`` (a 4x4 linear system
    over the field ``QQ(a, b, s, g)``).  Returns a dict with the solution and the setting.
    """
    if N in _SVD_FLOW_CACHE:
        return _SVD_FLOW_CACHE[N]
    a, b = sp.symbols("a b", real=True)
    s = sp.symbols("s1 s2", positive=True)
    g = sp.symbols("g11 g12 g21 g22", real=True)
    unknowns = sp.symbols("da db dsigma1 dsigma2")
    U, V = rotation(a), rotation(b)
    Sigma = sp.diag(s[0] ** N, s[1] ** N)
    G = sp.Matrix(2, 2, g)
    W_dot = (U.diff(a) * unknowns[0] * Sigma * V.T + U * sp.diag(unknowns[2], unknowns[3]) * V.T
             + U * Sigma * V.diff(b).T * unknowns[1])
    K = sp.QQ.frac_field(a, b, *s, *g)
    A = end_to_end_operator_formula(field_matrix(U, K), field_matrix(V, K), field_matrix(sp.diag(*s), K),
                                    N, field_matrix(G, K)).to_Matrix()
    M, rhs = sp.linear_eq_to_matrix(list(W_dot + A), unknowns)
    Md, rd = field_matrix(M, K), field_matrix(rhs, K)
    det = sp.factor(K.to_sympy(Md.det()))
    sol = Md.lu_solve(rd).to_Matrix()
    out = dict(a=a, b=b, s=s, g=g, U=U, V=V, G=G, K=K, det=det,
               da=sol[0], db=sol[1], dsigma=(sol[2], sol[3]))
    _SVD_FLOW_CACHE[N] = out
    return out


def _svd_point(c, N, rng):
    """Random rational point of the E6/E7 setting with ``s1 > s2`` (the library's descending
    order) and the symbolic ``W = U diag(s^N) V^T``."""
    s1, s2 = c["s"]
    pt = random_rational_point([c["a"], c["b"], s1, s2, *c["g"]], rng)
    if pt[s1] < pt[s2]:
        pt[s1], pt[s2] = pt[s2], pt[s1]
    return pt, c["U"] * sp.diag(s1 ** N, s2 ** N) * c["V"].T


def singular_value_velocity_formula(N, s_r, u_r, v_r, G):
    r"""E6: :math:`\dot\sigma_r = -N (\sigma_r^2)^{1-1/N} \langle G, u_r v_r^\top\rangle` with ``sigma_r = s_r^N``."""
    return -N * s_r ** (2 * (N - 1)) * (u_r.T * G * v_r)[0, 0]


@_claim("E6", "e06_singular_values", "singular-value ODE under E3",
        "for distinct sigma_r: d sigma_r/dt = -N (sigma_r^2)^{1-1/N} <G, u_r v_r^T>; "
        "N = oo (rescaled): -sigma_r^2 <G, u_r v_r^T>",
        "exact (linear solve over QQ(a,b,s,g)) + limit",
        planted={
            "wrong exponent 1 - 2/N": lambda: {
                "velocity": lambda N, s_r, u, v, G: -N * s_r ** (2 * (N - 2)) * (u.T * G * v)[0, 0]},
            "missing factor N": lambda: {
                "velocity": lambda N, s_r, u, v, G: -s_r ** (2 * (N - 1)) * (u.T * G * v)[0, 0]},
            "G transposed": lambda: {
                "velocity": lambda N, s_r, u, v, G: singular_value_velocity_formula(N, s_r, u, v, G.T)},
            "library bug: depth off by one": _bug(
                "dmf_edu.dynamics", "singular_value_velocity", lambda f: lambda W, G, N: f(W, G, N + 1)),
        })
def _check_e06(quick=False, rng=None, velocity=singular_value_velocity_formula, library=None):
    """E6 for 2x2 W = U diag(sigma) V^T with rotations U, V: solve dW/dt = -A_{N,W}(G) for the
    SVD velocities (unique iff sigma_1 != sigma_2) and compare d sigma_r/dt with the formula;
    N -> oo by a limit; dmf_edu.dynamics.singular_value_velocity at rational points."""
    report = _new_report()
    fn = _tie_in(report, library, "dmf_edu.dynamics", "singular_value_velocity")
    worst = 0.0
    for N in ((2,) if quick else (2, 3)):
        c = _svd_flow(N)
        s1, s2 = c["s"]
        if sp.simplify(c["det"].subs(s2, s1)) != 0:
            raise Disproved(f"E6 N={N}: the SVD velocity system should be singular at sigma_1 = sigma_2")
        for r in range(2):
            claimed = velocity(N, c["s"][r], c["U"][:, r], c["V"][:, r], c["G"])
            require_zero(field_matrix([c["dsigma"][r] - claimed], c["K"]), f"E6 N={N}: d sigma_{r + 1}/dt")
        report["notes"].append(f"N={N}: determinant of the SVD-velocity system {c['det']} (zero iff "
                               f"sigma_1 = sigma_2)")
        report["sizes"].append(f"2x2 N={N}")
        if fn is not None:
            pt, W = _svd_point(c, N, rng)
            exact = [float(sp.N(d.xreplace(pt), 30)) for d in c["dsigma"]]
            worst = max(worst, _compare(f"singular_value_velocity N={N}", fn(_pt(W, pt), _pt(c["G"], pt), N),
                                        exact, 1e-10))
            if N == 2 and library is None:          # infinite depth, rescaled: -sigma^2 <G, u v^T>
                proj = [(c["U"][:, r].T * c["G"] * c["V"][:, r])[0, 0] for r in range(2)]
                inf = [-float(sp.N(((s_r ** N) ** 2 * proj[r]).xreplace(pt), 30)) for r, s_r in enumerate(c["s"])]
                worst = max(worst, _compare("singular_value_velocity N=inf", fn(_pt(W, pt), _pt(c["G"], pt), np.inf),
                                            inf, 1e-10))
    sigma, M = sp.symbols("sigma M", positive=True)
    require_zero(sp.limit(velocity(M, sigma ** (1 / M), sp.Matrix([1]), sp.Matrix([1]), sp.Matrix([1])) / M, M, sp.oo)
                 + sigma ** 2, "E6: (1/N) N (sigma^2)^(1-1/N) -> sigma^2 (rescaled N = oo)")
    report["sizes"].append("N -> oo limit")

    if fn is not None:
        report["tie_in"].append(f"singular_value_velocity at rational points (N = 2, 3, inf): max "
                                f"relative error {worst:.1e} (tolerance 1e-10)")
    return report


def singular_vector_velocity_formula(N, U, V, s, G):
    r"""E7 for square full-rank ``W = U diag(s^N) V^T``: ``(dU/dt, dV/dt)`` (complement terms vanish).

    ``F_{rr'} = 1/(s_{r'}^2 - s_r^2)`` (``= 1/((sigma_{r'}^2)^{1/N} - (sigma_r^2)^{1/N})``), ``F_rr = 0``,
    ``dU = -U (F o [Gt S + S Gt^T])``, ``dV = -V (F o [S Gt + Gt^T S])`` with ``Gt = U^T G V``.
    """
    F, S, Gt = _vector_terms(N, U, V, s, G)
    return -U * F.multiply_elementwise(Gt * S + S * Gt.T), -V * F.multiply_elementwise(S * Gt + Gt.T * S)


def _vector_terms(N, U, V, s, G):
    """``F`` (``F_rr' = 1/(s_r'^2 - s_r^2)``), ``S = diag(s^N)`` and ``G~ = U^T G V`` of E7."""
    k = len(s)
    F = sp.Matrix(k, k, lambda r, q: 0 if r == q else 1 / (s[q] ** 2 - s[r] ** 2))
    return F, sp.diag(*[x ** N for x in s]), U.T * G * V


def _planted_vectors_sides(N, U, V, s, G):
    F, S, Gt = _vector_terms(N, U, V, s, G)
    return -U * F.multiply_elementwise(S * Gt + Gt.T * S), singular_vector_velocity_formula(N, U, V, s, G)[1]


@_claim("E7", "e07_singular_vectors", "singular-vector ODE under E3",
        "dU/dt = -U (F o [G~S + SG~^T]), dV/dt = -V (F o [SG~ + G~^T S]), G~ = U^T G V, "
        "F_rr' = 1/((sigma_r'^2)^{1/N} - (sigma_r^2)^{1/N}) (square full-rank W)",
        "exact (linear solve over QQ(a,b,s,g))",
        planted={
            "F with the wrong sign": lambda: {"vectors": lambda N, U, V, s, G: tuple(
                -X for X in singular_vector_velocity_formula(N, U, V, s, G))},
            "S on the wrong side in dU": lambda: {"vectors": _planted_vectors_sides},
        })
def _check_e07(quick=False, rng=None, vectors=singular_vector_velocity_formula, library=None):
    """E7 from the same linear solve as E6: U'(a) da and V'(b) db against the formula."""
    report = _new_report()
    fn = _tie_in(report, library, "dmf_edu.dynamics", "singular_vector_velocity")
    worst = 0.0
    for N in ((2,) if quick else (2, 3)):
        c = _svd_flow(N)
        dU, dV = vectors(N, c["U"], c["V"], c["s"], c["G"])
        require_zero(field_matrix(c["U"].diff(c["a"]) * c["da"] - dU, c["K"]), f"E7 N={N}: dU/dt")
        require_zero(field_matrix(c["V"].diff(c["b"]) * c["db"] - dV, c["K"]), f"E7 N={N}: dV/dt")
        report["sizes"].append(f"2x2 N={N}")
        if fn is not None:
            pt, W = _svd_point(c, N, rng)
            out = fn(_pt(W, pt), _pt(c["G"], pt), N, return_svd=True)
            U_num = out[2][0]
            # the library's SVD may flip the sign of a pair (u_r, v_r); dU's columns flip with it
            flip = np.sign(np.sum(U_num * _pt(c["U"], pt), axis=0))
            worst = max(worst, _compare(f"singular_vector_velocity dU N={N}", out[0] * flip,
                                        _pt(c["U"].diff(c["a"]) * c["da"], pt), 1e-9))
            worst = max(worst, _compare(f"singular_vector_velocity dV N={N}", out[1] * flip,
                                        _pt(c["V"].diff(c["b"]) * c["db"], pt), 1e-9))
    if fn is not None:
        report["tie_in"].append(f"singular_vector_velocity at rational points: max relative error "
                                f"{worst:.1e} (tolerance 1e-9)")
    return report


# =========================================================================== E10

def trajectory_depth2(t, s, a0):
    r"""E10, ``N = 2``: :math:`a(t) = s e^{2st} / (e^{2st} - 1 + s/a_0)`."""
    return s * sp.exp(2 * s * t) / (sp.exp(2 * s * t) - 1 + s / a0)


def _hyper_b(N):
    return 2 / sp.S(N) - 1


def primitive_formula(a, s, N):
    r"""E10, ``N >= 3``, ``a < s``: :math:`T(a) = a^{b} {}_2F_1(1, b; b+1; a/s) / (N s b)`, ``b = 2/N - 1``."""
    b = _hyper_b(N)
    return a ** b * sp.hyper([1, b], [b + 1], a / s) / (N * s * b)


def escape_law(s, alpha, N):
    r"""E10 escape time as ``alpha -> 0``: ``1/((N-2) s alpha^{N-2})`` (``N >= 3``), ``log(1/alpha)/s`` (``N = 2``)."""
    if N == 2:
        return sp.log(1 / alpha) / s
    return 1 / ((N - 2) * s * alpha ** (N - 2))


def _primitive_derivative(T, a, N):
    r"""``dT/da`` for ``T`` built from ``F = 2F1(1, b; b+1; z)``, ``b = 2/N - 1``, using ``y(z) = z^b F(z)``
    and the proved ``y'(z) = b z^{b-1}/(1 - z)``: ``F(z)`` is replaced by ``Y / z^b`` with a fresh
    symbol ``Y`` and the chain rule is applied by hand.  The result contains ``Y`` unless the
    dependence on ``F`` cancels."""
    b = _hyper_b(N)
    Y = sp.Symbol("Y", positive=True)
    hypers = T.atoms(sp.hyper)
    if len(hypers) != 1:
        raise Disproved(f"E10: expected one 2F1 in the primitive, found {len(hypers)}")
    h = hypers.pop()
    if tuple(h.ap) != (1, b) or tuple(h.bq) != (b + 1,):
        raise Disproved(f"E10: the primitive uses {h}, not 2F1(1, b; b+1; z) with b = 2/N - 1")
    z = h.argument
    TY = T.xreplace({h: Y / z ** b})
    return sp.diff(TY, a) + sp.diff(TY, Y) * b * z ** (b - 1) / (1 - z) * sp.diff(z, a)


def _power_simplify(e):
    return sp.simplify(sp.powsimp(sp.together(e), force=True))


@_claim("E10", "e10_scalar_flow", "one-mode closed forms and escape times",
        "da/dt = N a^{2-2/N}(s-a): N=2 a(t) = s e^{2st}/(e^{2st}-1+s/a0); N>=3 t(a) = T(a)-T(a0), "
        "T = a^b 2F1(1,b;b+1;a/s)/(N s b), b = 2/N-1; escape ~ 1/((N-2) s alpha^{N-2}), ~ log(1/alpha)/s at N=2",
        "exact + series (symbolic k, N) + limit",
        planted={
            "N=2: e^{st} instead of e^{2st}": lambda: {
                "trajectory": lambda t, s, a0: s * sp.exp(s * t) / (sp.exp(s * t) - 1 + s / a0)},
            "N>=3: wrong exponent a^{b-1}": lambda: {"primitive": lambda a, s, N: a ** (_hyper_b(N) - 1) * sp.hyper(
                [1, _hyper_b(N)], [_hyper_b(N) + 1], a / s) / (N * s * _hyper_b(N))},
            "escape law alpha^{-(N-1)}": lambda: {
                "escape": lambda s, alpha, N: escape_law(s, alpha, N) / (alpha if N != 2 else 1)},
            "library bug: time_to_reach off by 1%": _bug(
                "dmf_edu.dynamics", "time_to_reach", lambda f: lambda a, s, a0, N: 1.01 * f(a, s, a0, N)),
        })
def _check_e10(quick=False, rng=None, trajectory=trajectory_depth2, primitive=primitive_formula,
               escape=escape_law, library=None):
    """E10: the N = 2 trajectory solves the ODE; for symbolic N the hypergeometric primitive
    has dT/da = 1/(N a^{2-2/N}(s-a)) (series coefficients b/(b+k), term-wise derivative,
    geometric sum; cross-checked by hyperexpand at N = 3, 4, 5); escape-time limits; the
    library's time_to_reach / scalar_trajectory / escape_time_asymptotic at rational points."""
    report = _new_report()
    t, s, a0, a, alpha, z = sp.symbols("t s a0 a alpha z", positive=True)
    N = sp.Symbol("N", positive=True)
    # N = 2: the closed form solves the ODE and starts at a0
    x = trajectory(t, s, a0)
    require_zero(sp.diff(x, t) - 2 * x * (s - x), "E10 N=2: da/dt = 2 a (s - a)", simplifier=sp.simplify)
    require_zero(x.subs(t, 0) - a0, "E10 N=2: a(0) = a0", simplifier=sp.simplify)
    # y(z) = z^b F(z) has y' = b z^(b-1)/(1-z), |z| < 1: coefficients, term-wise derivative, sum
    b, k = sp.Symbol("b", negative=True), sp.Symbol("k", integer=True, nonnegative=True)
    c_k = sp.rf(1, k) * sp.rf(b, k) / (sp.rf(b + 1, k) * sp.factorial(k))     # 2F1(1, b; b+1; z) coefficient
    require_zero(sp.gammasimp(c_k.rewrite(sp.gamma)) - b / (b + k), "E10: 2F1(1,b;b+1;z) = sum b/(b+k) z^k",
                 simplifier=sp.simplify)
    require_zero(sp.diff(b / (b + k) * z ** (b + k), z) - b * z ** (b + k - 1), "E10: term-wise derivative",
                 simplifier=sp.simplify)
    series = sp.piecewise_fold(sp.summation(b * z ** (b + k - 1), (k, 0, sp.oo)))     # branch |z| < 1
    generic = [e for e, cond in series.args if cond != sp.true] if isinstance(series, sp.Piecewise) else [series]
    require_zero(generic[0] - b * z ** (b - 1) / (1 - z), "E10: geometric sum of y'", simplifier=sp.simplify)
    # the primitive, symbolic N: dT/da * N a^(2-2/N) (s - a) = 1 with no F left
    target = 1 / (N * a ** (2 - 2 / N) * (s - a))
    require_zero(_primitive_derivative(primitive(a, s, N), a, N) - target,
                 "E10 symbolic N: dT/da = 1/(N a^(2-2/N) (s-a))", simplifier=_power_simplify)
    for n in ((3,) if quick else (3, 4, 5)):                       # independent cross-check
        require_zero(sp.hyperexpand(sp.diff(primitive(a, s, n), a)) - target.subs(N, n),
                     f"E10 N={n}: hyperexpand of dT/da", simplifier=sp.simplify)
    report["sizes"].append("N=2 exact; symbolic N (series); hyperexpand N=" + (
        "3" if quick else "3,4,5"))
    # escape times to s/2 from a0 = alpha^N
    t_half = sp.solve(sp.Eq(trajectory(t, s, a0), s / 2), t)
    if len(t_half) != 1:
        raise Disproved(f"E10 N=2: expected one time to reach s/2, got {t_half}")
    require_zero(sp.limit(t_half[0].subs(a0, alpha ** 2) / escape(s, alpha, 2), alpha, 0, "+") - 1,
                 "E10 N=2: escape time / log(1/alpha)/s -> 1")
    # N >= 3 (N = 2 + q): t_esc = T(s/2) - T(alpha^N); T(s/2) is a finite constant and
    # -T(alpha^N) / law = F(alpha^N/s) exactly, F(0) = c_0 = 1.
    q = sp.Symbol("q", positive=True)
    law = escape(s, alpha, N)
    require_zero(sp.limit((1 / law).subs(N, 2 + q), alpha, 0, "+"), "E10 N>2: 1/law -> 0 (T(s/2) negligible)")
    piece = -primitive(alpha ** N, s, N) / law
    h = piece.atoms(sp.hyper).pop()
    Y = sp.Symbol("Y", positive=True)
    require_zero(piece.xreplace({h: Y}) - Y, "E10 N>2: -T(alpha^N) / law = 2F1(1,b;b+1;alpha^N/s)",
                 simplifier=_power_simplify)
    require_zero(c_k.subs(k, 0) - 1, "E10: 2F1(...; 0) = 1")
    report["sizes"].append("escape limits N=2 and symbolic N>2")
    # library tie-ins
    ttr = _tie_in(report, library, "dmf_edu.dynamics", "time_to_reach")
    if ttr is not None:
        worst = 0.0
        pt = random_rational_point([s], rng)
        for n in (2, 3, 4):
            x0, x1 = pt[s] / 50, pt[s] * sp.Rational(3, 4)
            if n == 2:
                exact = (sp.log(x1 / (pt[s] - x1)) - sp.log(x0 / (pt[s] - x0))) / (2 * pt[s])
            else:
                exact = primitive(x1, pt[s], n) - primitive(x0, pt[s], n)
            worst = max(worst, _compare(f"time_to_reach N={n}", ttr(float(x1), float(pt[s]), float(x0), n),
                                        float(sp.N(exact, 30)), 1e-10))
        report["tie_in"].append(f"time_to_reach (N = 2, 3, 4) vs exact T(a) - T(a0): max relative "
                                f"error {worst:.1e} (tolerance 1e-10)")
    traj = _library("dmf_edu.dynamics", "scalar_trajectory") if library is None else None
    if traj is not None:
        pt = random_rational_point([s, t], rng)
        x0 = pt[s] / 40
        exact = float(sp.N(trajectory(pt[t], pt[s], x0), 30))
        err = _compare("scalar_trajectory N=2", traj(float(pt[t]), float(pt[s]), float(x0), 2), exact, 1e-12)
        report["tie_in"].append(f"scalar_trajectory N=2 vs the closed form: relative error {err:.1e}")
    asym = _library("dmf_edu.dynamics", "escape_time_asymptotic") if library is None else None
    if asym is not None:
        pt = random_rational_point([s, alpha], rng)
        err = max(_compare(f"escape_time_asymptotic N={n}", asym(float(pt[s]), float(pt[alpha]), n),
                           float(sp.N(escape(pt[s], pt[alpha], n), 30)), 1e-12) for n in (2, 3, 4))
        report["tie_in"].append(f"escape_time_asymptotic N = 2, 3, 4 vs the law: relative error {err:.1e}")
    return report


# =========================================================================== E12

def _e12_sigmas(w):
    """Singular values of ``[[w, 1], [1, 0]]`` for ``w >= 0``: ``((sqrt(w^2+4) +- w)/2)``."""
    r = sp.sqrt(w ** 2 + 4)
    return (r + w) / 2, (r - w) / 2


@_claim("E12", "e12_norms_fail", "2x2 completion where every norm fails",
        "on [[w,1],[1,0]]: det = -1, sigma_max sigma_min = 1, ||.||_* = sqrt(w^2+4), ||.||_F^2 = w^2+2, "
        "and d/dw sum sigma^p > 0 for w > 0, every p > 0 (also p = oo): the Schatten-p minimiser is w = 0",
        "exact + sign analysis",
        planted={
            "nuclear norm sqrt(w^2+2)": lambda: {"nuclear": lambda w: sp.sqrt(w ** 2 + 2)},
            "sigma_max sigma_min = det": lambda: {"product": -1},
            "derivative factor sigma^(-p) (wrong exponent)": lambda: {
                "derivative": lambda p, S, dS: p * dS * S ** (-p) * (S ** (2 * p) - 1)},
            "library bug: Schatten-p without the 1/p power": _bug(
                "dmf_edu.metrics", "schatten_norm",
                lambda f: lambda W, p: f(W, p) ** (p if np.isfinite(p) else 1)),
        })
def _check_e12(quick=False, rng=None, nuclear=lambda w: sp.sqrt(w ** 2 + 4), product=1,
               derivative=lambda p, S, dS: p * dS * S ** (-p - 1) * (S ** (2 * p) - 1), library=None):
    """E12 exactly in w (>= 0, with evenness for w < 0): characteristic polynomial, the
    singular values, their product and sum, the factorised derivative of sum sigma^p and the
    sign of each factor; dmf_edu.metrics norms at rational w and p."""
    report = _new_report()
    w, lam, p = sp.Symbol("w", real=True), sp.Symbol("lambda"), sp.Symbol("p", positive=True)
    W = sp.Matrix([[w, 1], [1, 0]])
    require_zero(W.det() + 1, "E12: det W = -1")
    char = (W.T * W).charpoly(lam).as_expr()
    require_zero(char - (lam ** 2 - (w ** 2 + 2) * lam + 1), "E12: charpoly of W^T W")
    require_zero(char - char.subs(w, -w), "E12: singular values depend on w^2 only (even in w)")
    wp = sp.Symbol("w", positive=True)                  # w > 0 (w = 0 by continuity, w < 0 by evenness)
    s1, s2 = _e12_sigmas(wp)
    for sig in (s1, s2):
        require_zero(char.subs(w, wp).subs(lam, sig ** 2), "E12: sigma^2 is an eigenvalue of W^T W",
                     simplifier=sp.simplify)
    require_zero(sp.expand(s1 * s2) - product, "E12: sigma_max sigma_min = 1")
    require_zero(s1 + s2 - nuclear(wp), "E12: nuclear norm = sqrt(w^2 + 4)", simplifier=sp.simplify)
    require_zero(sp.expand(s1 ** 2 + s2 ** 2) - (wp ** 2 + 2), "E12: ||W||_F^2 = w^2 + 2")
    # sum sigma^p = S^p + S^(-p) with S = sigma_max(w) (since sigma_min = 1/S); factorised derivative
    S = sp.Function("S")(wp)
    f = S ** p + S ** (-p)
    require_zero(sp.diff(f, wp) - derivative(p, S, sp.diff(S, wp)), "E12: d/dw (S^p + S^-p)",
                 simplifier=_power_simplify)
    dS = sp.diff(s1, wp)
    delta = (wp + wp ** 2 / (sp.sqrt(wp ** 2 + 4) + 2)) / 2          # S - 1, visibly positive
    require_zero(s1 - 1 - delta, "E12: sigma_max - 1 = (w + w^2/(sqrt(w^2+4)+2))/2", simplifier=sp.simplify)
    d = sp.Symbol("delta", positive=True)
    signs = {"dS/dw > 0": dS.is_positive, "sigma_max - 1 > 0": delta.is_positive,
             "log sigma_max^(2p) > 0 (so S^(2p) - 1 > 0)": (2 * p * sp.log(1 + d)).is_positive}
    for name, ok in signs.items():
        if ok is not True:
            raise Disproved(f"E12: sympy cannot confirm {name} for w > 0, p > 0")
    report["sizes"].append("symbolic w, p > 0")
    report["notes"].append("derivative = p S' S^(-p-1) (S^(2p) - 1), each factor positive; p = oo: S' > 0")
    norm = _tie_in(report, library, "dmf_edu.metrics", "schatten_norm")
    if norm is not None:
        pt = random_rational_point([wp], rng)
        Wn = np.array([[float(pt[wp]), 1.0], [1.0, 0.0]])
        x1, x2 = (e.xreplace(pt) for e in (s1, s2))
        worst = 0.0
        for pp in (sp.Rational(1, 2), sp.Rational(2, 3), 1, 2, 3):
            exact = float(sp.N((x1 ** pp + x2 ** pp) ** (1 / sp.S(pp)), 30))
            worst = max(worst, _compare(f"schatten_norm p={pp}", norm(Wn, float(pp)), exact, 1e-12))
        worst = max(worst, _compare("schatten_norm p=inf", norm(Wn, np.inf), float(sp.N(x1, 30)), 1e-12))
        nuc = _library("dmf_edu.metrics", "nuclear_norm") if library is None else None
        if nuc is not None:
            worst = max(worst, _compare("nuclear_norm", nuc(Wn), float(sp.N(sp.sqrt(pt[wp] ** 2 + 4), 30)), 1e-12))
        report["tie_in"].append(f"schatten_norm (p = 1/2, 2/3, 1, 2, 3, inf) and nuclear_norm at rational w: "
                                f"max relative error {worst:.1e} (tolerance 1e-12)")
    return report


if __name__ == "__main__":           # python -m dmf_edu.symbolic [--json] [--quick]
    raise SystemExit(prove_main(json_output="--json" in sys.argv[1:], quick="--quick" in sys.argv[1:]))
