r"""Machinery shared by the proof pages ``dmf_edu.proofs.eNN_*`` (the ``proofs/`` folder of a checkout).

A proof lives on its page; this module holds only what several pages share:

* **symbols**: :func:`symbol_matrix`, :func:`symbolic_weights`, :func:`chain_product` (the
  product order ``W = W_N ... W_1``), rational orthogonal matrices (:func:`rotation`,
  :func:`cayley`), the function field of a set of symbols (:func:`field_matrix`);
* **exact decisions**: :func:`is_zero` (``expand``, then the numerator of ``together``; a
  ``DomainMatrix`` over a field is zero exactly when it is) and :func:`random_rational_point`;
* **the page contract**: :class:`Page`, :class:`Planted`, the :class:`Proof` recorder passed to
  a page's ``prove(proof, quick, **overrides)``, :class:`Disproved`;
* the entry points :func:`run_page` (a page's ``__main__``) and :func:`prove_main`
  (``dmf-edu prove``); the runner itself (discovery, planted variants, coverage rule, audit
  table) is :mod:`dmf_edu.proofs.runner`.

How identities are decided: explicit ``sympy.Matrix`` objects of symbols at small
rectangular sizes; ``expand(residual) == 0`` for polynomials and the numerator of
``together(residual)`` for rational functions; rational-function matrices live in a
``DomainMatrix`` over ``QQ(symbols)``, whose arithmetic is canonical.  A random rational point is
tried first: a nonzero value there disproves at once and names a witness.  ``MatrixSymbol``
derivatives are never used (unreliable in sympy 1.14 for sums and Hadamard products).

A page checks every step under its label (``proof.zero("S1", ...)``, ``proof.close("T1", ...)``)
and lists planted wrong variants (:class:`Planted`), each naming the step that must reject it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu._validate import as_rng

__all__ = [
    "Disproved", "Page", "Planted", "Proof", "symbol_matrix", "symbolic_weights", "chain_product",
    "identity_like", "rotation", "cayley", "orthogonal", "function_field", "field_matrix", "hadamard",
    "random_rational_point", "is_zero", "power_simplify", "at_point", "to_float_array", "weight_grid",
    "matrix_grid", "rational_matrix", "rational_weights", "exact_singular_values",
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
    rng = as_rng(rng)
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


def shorten(e, limit=160):
    """``str(e)`` cut to ``limit`` characters (a witness or residual in a failure message)."""
    text = str(e)
    return text if len(text) <= limit else text[:limit] + " ..."


# =========================================================================== the regime grid

# dims [d_0, ..., d_N] of weights W_j (d_j x d_{j-1}); W = W_N ... W_1 is d_N x d_0.  Every regime
# of proofs/regimes.py: square / tall / wide W, N = 1, 2, 3, >= 4, equal and distinct widths.
_WEIGHT_GRID = ([3, 2], [2, 3], [2, 2, 2], [3, 2, 2], [2, 3, 1, 3], [2, 2, 2, 2, 2], [3, 1, 2, 2, 2],
                [2, 3, 2, 1, 3])
_WEIGHT_GRID_FULL = ([3, 3, 3, 3], [4, 3, 2, 3, 4, 2], [2, 4, 4, 4, 4, 3])
_MATRIX_GRID = ((2, 2), (3, 2), (2, 3))
_MATRIX_GRID_FULL = ((5, 2), (2, 4))


def weight_grid(quick=True):
    """The dims of the weight regimes (square, tall, wide W; N = 1, 2, 3, >= 4; equal and distinct
    widths); full mode adds larger sizes."""
    return list(_WEIGHT_GRID) + ([] if quick else list(_WEIGHT_GRID_FULL))


def matrix_grid(quick=True):
    """Matrix shapes ``(m, n)``: square, tall, wide (full mode adds larger ones)."""
    return list(_MATRIX_GRID) + ([] if quick else list(_MATRIX_GRID_FULL))


def rational_matrix(rows, cols, rng, rank=None):
    """Exact random rational ``rows x cols`` matrix (generically non-symmetric and non-normal);
    ``rank`` given: a product of two random factors, so it has ``min(rows, cols) - rank`` zero
    singular values."""
    rng = as_rng(rng)

    def entries(r, c):
        return sp.Matrix(r, c, lambda i, j: sp.Rational(int(rng.choice([-1, 1]) * rng.integers(1, 10)),
                                                         int(rng.integers(1, 6))))
    if rank is None:
        return entries(rows, cols)
    return entries(rows, rank) * entries(rank, cols)


def rational_weights(dims, rng):
    """Exact random rational factors ``[W_1, ..., W_N]`` for ``dims = [d_0, ..., d_N]``."""
    return [rational_matrix(dims[j + 1], dims[j], rng) for j in range(len(dims) - 1)]


def exact_singular_values(M):
    """Exact singular values (descending, ``min(m, n)`` of them) of a rational matrix with
    ``min(m, n) <= 2``: square roots of the roots of the 2x2 (or 1x1) Gram matrix."""
    M = sp.Matrix(M)
    G = M.T * M if M.cols <= M.rows else M * M.T
    lam = sp.Symbol("lambda")
    roots = sp.Poly(G.charpoly(lam).as_expr(), lam).all_roots() if G.rows <= 2 else None
    if roots is None:
        raise ValueError("exact_singular_values handles min(m, n) <= 2")
    values = [sp.sqrt(sp.Max(r, 0)) for r in roots]
    return sorted(values, key=lambda v: -float(sp.N(v, 30)))


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
    ``quick`` (bool), ``tie_only`` (bool: exact steps are counted, not decided -- the runner's
    regime plants change only library functions, so only the tie-ins can see them).
    """

    def __init__(self, page, rng=None, quick=False, tie_only=False):
        self.page, self.quick, self.tie_only = page, quick, tie_only
        self.rng = as_rng(rng)
        self.checks = {step: 0 for step in page.steps}
        self.errors = {}                    # tie-in step -> largest relative error seen
        self.tolerances = {}
        self.covered, self.notes = [], []

    def __repr__(self):
        """One screen: the page, how many of its steps have been checked, the largest tie-in error."""
        done = sum(1 for n in self.checks.values() if n)
        worst = max(self.errors.values(), default=None)
        worst = "None" if worst is None else f"{worst:.2e}"
        return (f"Proof(label={self.page.label!r}, quick={self.quick}, steps_checked={done}/"
                f"{len(self.checks)}, largest_tie_in_error={worst}, sizes={'; '.join(self.covered)[:80]!r})")

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
        if self.tie_only:                      # a regime plant run: the exact steps were decided already
            return
        if condition is not True:
            raise Disproved(f"{what}: does not hold ({condition})", step=step)

    def zero(self, step, residual, what, point=None, simplifier=None):
        r"""Step ``step`` decides that ``residual`` (scalar, Matrix or DomainMatrix) is identically 0.

        ``point`` (exact rationals for the free symbols) is tried first: a nonzero value there
        disproves at once and is reported as a witness.  ``simplifier`` decides non-rational
        expressions (logs, roots, hypergeometric): zero when ``simplifier(residual) == 0``.
        """
        self._step(step)
        if self.tie_only:
            return
        if isinstance(residual, DomainMatrix):
            if not residual.is_zero_matrix:          # report one nonzero entry (never factored: slow)
                (i, j), e = next(((i, j), e) for i, row in enumerate(residual.to_list())
                                 for j, e in enumerate(row) if e)
                raise Disproved(f"{what}: not identically zero; entry {(i, j)} is "
                                f"{shorten(residual.domain.to_sympy(e))}", step=step)
            return
        entries = list(residual) if isinstance(residual, sp.MatrixBase) else [residual]
        if point is not None:
            for k, e in enumerate(entries):
                v = sp.sympify(e).xreplace(point)
                if v.free_symbols == set() and not is_zero(v, simplifier):
                    witness = ", ".join(f"{x}={v}" for x, v in point.items())
                    raise Disproved(f"{what}: nonzero ({shorten(sp.nsimplify(v))}) at the rational point "
                                    f"{shorten(witness, 200)} (entry {k})", step=step)
        for k, e in enumerate(entries):
            if not is_zero(e, simplifier):
                raise Disproved(f"{what}: not identically zero (entry {k}: {shorten(e)})", step=step)

    def count(self, step, items, expected, what):
        """Tie-in step: the library returned ``expected`` items (a list of residuals, of gradients)."""
        self._step(step)
        if len(items) != expected:
            raise Disproved(f"{what}: library returned {len(items)} items, the claim has {expected}", step=step)

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


# =========================================================================== entry points (in dmf_edu.proofs.runner)
