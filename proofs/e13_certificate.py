r"""E13 — the nuclear-norm certificate: weak duality, so ``status == "optimal"`` is sound.

Statement (THEORY.md E13, p = 1)
--------------------------------
Let ``A(X)_k = <A_k, X>`` (completion: ``A_k = E_{i_k j_k}``, one observed entry; sensing: any
``A_k``), ``A^*(lam) = sum_k lam_k A_k`` and ``eps >= 0``.  For every ``lam`` with
``||A^*(lam)||_2 <= 1`` and every ``X`` with ``|A(X)_k - b_k| <= eps`` for all ``k``:

    b . lam - eps ||lam||_1  <=  ||X||_* .

So the minimum ``OPT`` of ``min ||X||_*`` s.t. ``|A(X) - b| <= eps`` lies in
``[b . lam - eps ||lam||_1, ||X||_*]`` for any feasible pair: a feasible ``X`` whose gap
``||X||_* - (b . lam - eps ||lam||_1)`` is small is optimal up to that gap -- the certificate behind
``BaselineResult.status == "optimal"`` (and ``c = ||A^*(lam)||_2 > 1`` still certifies
``OPT >= (b . lam - eps ||lam||_1)/c``, as ``lam/c`` is dual feasible).

Proof.  ``b . lam = <A(X), lam> - r . lam`` with ``r = A(X) - b``; ``<A(X), lam> = <X, A^*(lam)>``
(S1); ``-r_k lam_k <= eps |lam_k|`` when ``|r_k| <= eps`` (S2); ``<X, S> <= ||X||_* ||S||_2`` (S3).
Together (S4): ``b . lam - eps ||lam||_1 <= <X, A^*(lam)> <= ||X||_*``.

Scope.  S1 for symbolic ``X`` (2x3) and ``lam`` on a completion mask and on rational sensing
matrices; S2 for symbolic ``eps, |lam_k| > 0`` and every ``r_k`` in ``(-eps, eps]`` (rational
parametrisation; ``r_k = -eps`` is its limit); S3 for 2x2 and 2x3 ``X = U diag(sigma) V^T`` with
symbolic rotations, ``sigma >= 0`` and ``S``, with the operator-norm bound ``|u^T S v| <= ||S||_2``
(unit ``u, v``) reduced to Lagrange's identity (Cauchy-Schwarz) and the definition of ``||S||_2``;
S4 symbolic.  The PSD variant (``psd=True``, minimum trace) is not covered.

Steps
-----
S1  ``<A(X), lam> = <X, A^*(lam)>`` (completion and sensing, symbolic ``X, lam``).
S2  ``|r_k| <= eps`` implies ``eps |lam_k| + lam_k r_k >= 0`` (sign decided by sympy's assumptions).
S3  ``||X||_* - <X, S> = sum_i sigma_i (1 - u_i^T S v_i)`` and ``(u^T S v)^2 <= ||S v||^2 ||u||^2``
    (Lagrange's identity), so ``<X, S> <= ||X||_*`` when ``||S||_2 <= 1``.
S4  ``b . lam - eps ||lam||_1 = <X, A^*(lam)> - sum_k (lam_k r_k + eps |lam_k|)``: with S1-S3 the
    dual objective is a lower bound on ``||X||_*`` for every feasible ``X``.
T1  library: ``baselines.nuclear_norm_kkt`` returns the exact ``primal``, ``dual``, ``gap`` and
    ``slackness`` residuals at rational pairs (2x2, 3x2, 2x3; full-rank and rank-one ``X``;
    completion and sensing; ``eps = 0`` and ``eps > 0``).
T2  library: ``baselines.nuclear_norm_minimization`` on 2x3 completion and sensing instances
    reports ``"optimal"`` only with a sound certificate: recomputed exactly from its float
    output, ``X`` is feasible, ``||A^*(lam)||_2 <= 1``, ``objective = ||X||_*``,
    ``dual_objective = b . lam - eps ||lam||_1`` and the certified interval is within ``tol``.
"""

import functools

import numpy as np
import sympy as sp

from dmf_edu.baselines import nuclear_norm as nn
from dmf_edu.problems import MatrixCompletion, MatrixSensing
from dmf_edu.proofs.symbolic import (Page, Planted, cayley, exact_singular_values, rotation, symbol_matrix,
                                     to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E13", title="nuclear-norm certificate: weak duality",
    statement="||A^*(lam)||_2 <= 1 and |A(X) - b| <= eps imply b.lam - eps||lam||_1 <= ||X||_*: a small "
              "duality gap certifies optimality",
    method="exact (sympy identities and assumptions) + exact arithmetic on the library's floats",
    steps={
        "S1": "<A(X), lam> = <X, A^*(lam)> (completion and sensing)",
        "S2": "|r_k| <= eps implies eps |lam_k| + lam_k r_k >= 0",
        "S3": "||X||_* - <X, S> = sum sigma_i (1 - u_i^T S v_i) and |u^T S v| <= ||S||_2 (Cauchy-Schwarz)",
        "S4": "b.lam - eps||lam||_1 = <X, A^*(lam)> - sum (lam_k r_k + eps|lam_k|) <= ||X||_*",
        "T1": "library: baselines.nuclear_norm_kkt = the exact KKT residuals",
        "T2": "library: nuclear_norm_minimization's 'optimal' carries a sound certificate (exact re-check)",
    })

MASK = ((0, 0), (0, 1), (1, 0), (1, 2))           # observed entries of the 2x3 completion instance


# --------------------------------------------------------------------------- the measurement map

def forward(As, X):
    """``A(X)_k = <A_k, X>``."""
    return [sum(a * x for a, x in zip(Ak, X)) for Ak in As]


def adjoint(As, lam):
    """``A^*(lam) = sum_k lam_k A_k``."""
    return sum((l * Ak for l, Ak in zip(lam, As)), sp.zeros(*As[0].shape))


def dual_objective(b, lam, eps):
    """``b . lam - eps ||lam||_1``."""
    return sum(bk * lk for bk, lk in zip(b, lam)) - eps * sum(abs(lk) for lk in lam)


def box_term(eps, lam_abs, sign, r):
    """S2's quantity ``eps |lam_k| + lam_k r_k`` with ``lam_k = sign |lam_k|``."""
    return eps * lam_abs + sign * lam_abs * r


def completion_matrices(shape, mask=MASK):
    return [sp.Matrix(*shape, lambda a, b, ij=ij: int((a, b) == ij)) for ij in mask if ij[0] < shape[0]
            and ij[1] < shape[1]]


def sensing_matrices(shape, rng, count=3):
    return [sp.Matrix(*shape, lambda a, b: sp.Rational(int(rng.integers(-4, 5)), int(rng.integers(1, 4))))
            for _ in range(count)]


# --------------------------------------------------------------------------- the proof

def nuclear_from_singular_values(sig):
    """``||X||_* = sum_i sigma_i``."""
    return sum(sig)


def prove(proof, quick=False, adj=adjoint, box=box_term, nuclear=nuclear_from_singular_values, dual=dual_objective,
          kkt=nn.nuclear_norm_kkt, solve=nn.nuclear_norm_minimization):
    rng = proof.rng
    X = symbol_matrix("x", 2, 3)
    for kind, As in (("completion", completion_matrices((2, 3))), ("sensing", sensing_matrices((2, 3), rng))):
        lam = sp.symbols(f"l1:{len(As) + 1}", real=True)
        lhs = sum(a * l for a, l in zip(forward(As, X), lam))
        proof.zero("S1", lhs - sum(x * s for x, s in zip(X, adj(As, lam))), f"2x3 {kind}: <A(X), lam> - <X, A^*(lam)>")
    eps, mu, u = sp.Symbol("eps", positive=True), sp.Symbol("mu", positive=True), sp.Symbol("u", real=True)
    r = eps * (1 - u ** 2) / (1 + u ** 2)              # every r in (-eps, eps]
    for sign in (1, -1):
        value = sp.factor(box(eps, mu, sign, r))
        proof.holds("S2", value.is_nonnegative, f"lam_k sign {sign:+d}: eps |lam_k| + lam_k r_k = {value} >= 0")
    _trace_duality(proof, nuclear)
    lam_abs = sp.symbols("m1:4", positive=True)
    for signs in ((1, 1, 1), (1, -1, 1), (-1, -1, 1)):
        lam = [s * m for s, m in zip(signs, lam_abs)]
        As = sensing_matrices((2, 3), rng)
        b = sp.symbols("b1:4", real=True)
        res = [f - bk for f, bk in zip(forward(As, X), b)]
        rhs = sum(x * s for x, s in zip(X, adjoint(As, lam))) - sum(
            box_term(eps, m, s, rk) for s, m, rk in zip(signs, lam_abs, res))
        proof.zero("S4", dual(b, lam, eps) - rhs, f"signs {signs}: dual objective split")
    proof.sizes("S1 2x3 completion and sensing; S2 symbolic; S3 2x2, 2x3 (symbolic rotations); S4 symbolic")
    _tie_kkt(proof, kkt)
    _tie_solver(proof, solve)


@functools.lru_cache(maxsize=4)
def svd_pieces(m, n):
    """S3's plant-independent parts at ``m x n`` (memoised): ``sigma``, the residual
    ``sum_i sigma_i u_i^T S v_i - <X, S>`` (cancelled), Lagrange's residual and ``U^T U - I``, ``V^T V - I``."""
    a = sp.Symbol("a", real=True)
    U = rotation(a)
    V = cayley(sp.symbols(f"c1:{n * (n - 1) // 2 + 1}", real=True), n)[:, :m] if n > 2 else rotation(
        sp.Symbol("c1", real=True))
    sig = sp.symbols(f"sigma1:{m + 1}", nonnegative=True)
    S = symbol_matrix("t", m, n)
    X = U * sp.diag(*sig) * V.T
    inner = sum(x * s for x, s in zip(X, S))
    bilinear = sp.cancel(sum(sig[i] * (U[:, i].T * S * V[:, i])[0] for i in range(m)) - inner)
    uu, vv = sp.Matrix(sp.symbols(f"u1:{m + 1}", real=True)), sp.Matrix(sp.symbols(f"v1:{n + 1}", real=True))
    Sv = S * vv
    lagrange = sum((uu[i] * Sv[j] - uu[j] * Sv[i]) ** 2 for i in range(m) for j in range(i + 1, m))
    lagrange = sp.expand((Sv.T * Sv)[0] * (uu.T * uu)[0] - (uu.T * Sv)[0] ** 2 - lagrange)
    return (sig, bilinear, lagrange, (U.T * U - sp.eye(m)).applyfunc(sp.simplify),
            (V.T * V - sp.eye(m)).applyfunc(sp.simplify))


def _trace_duality(proof, nuclear):
    """S3 at 2x2 and 2x3: the SVD identity and Lagrange's identity."""
    for m, n in ((2, 2), (2, 3)):
        sig, bilinear, lagrange, UtU, VtV = svd_pieces(m, n)
        # ||X||_* - <X, S> - sum sigma_i (1 - u_i^T S v_i) = (||X||_* - sum sigma_i) + bilinear
        proof.zero("S3", nuclear(sig) - sum(sig) + bilinear,
                   f"{m}x{n}: ||X||_* - <X, S> = sum sigma_i (1 - u_i^T S v_i)")
        proof.zero("S3", lagrange, f"{m}x{n}: ||Sv||^2 ||u||^2 - (u^T S v)^2 = sum_(i<j) (u_i (Sv)_j - u_j (Sv)_i)^2")
        proof.zero("S3", UtU, f"{m}x{n}: U^T U = I")
        proof.zero("S3", VtV, f"{m}x{n}: V^T V = I")


# --------------------------------------------------------------------------- tie-ins

def _instance(kind, shape, rng, reduction):
    """``(exact A_k list, exact b, library problem)``."""
    As = completion_matrices(shape) if kind == "completion" else sensing_matrices(shape, rng)
    b = [sp.Rational(int(rng.integers(-6, 7)), int(rng.integers(1, 4))) for _ in As]
    bf = np.array([float(v) for v in b])
    if kind == "completion":
        obs = [ij for ij in MASK if ij[0] < shape[0] and ij[1] < shape[1]]
        rows, cols = zip(*obs)
        return As, b, MatrixCompletion(shape, np.array(rows), np.array(cols), bf, reduction=reduction)
    return As, b, MatrixSensing(np.array([to_float_array(A) for A in As]), bf, reduction=reduction)


def exact_kkt(As, b, X, lam, eps):
    """The exact ``primal``, ``dual``, ``gap`` and ``slackness`` of :func:`nuclear_norm_kkt`."""
    res = [f - bk for f, bk in zip(forward(As, X), b)]
    normX = sum(exact_singular_values(X))
    spec = exact_singular_values(adjoint(As, lam))[0]
    big = lambda v: sp.Max(1, v)  # noqa: E731
    return dict(primal=sp.Max(*[sp.Max(abs(rk) - eps, 0) for rk in res]) / big(sp.Max(*[abs(v) for v in b])),
                dual=sp.Max(spec - 1, 0),
                gap=(normX - dual_objective(b, lam, eps)) / big(normX),
                slackness=sp.Max(*[eps * abs(lk) + lk * rk for lk, rk in zip(lam, res)]) / big(sp.Max(*map(abs, lam))))


# (shape, kind, reduction, eps, rank of X: None = full); square, tall, wide; rank one (degenerate)
KKT_CASES = [((2, 3), "completion", "sum", 0, None), ((3, 2), "sensing", "mean", sp.Rational(1, 10), None),
             ((2, 2), "sensing", "sum", sp.Rational(1, 5), 1), ((2, 2), "completion", "mean", 0, None)]


def _point(shape, rank, rng):
    """A rational ``X`` (rank one when ``rank == 1``), never symmetric, nonzero entries."""
    nonzero = lambda: sp.Rational(int(rng.choice([-1, 1]) * rng.integers(1, 6)), int(rng.integers(1, 4)))  # noqa: E731
    while True:
        X = sp.Matrix(*shape, lambda i, j: nonzero())
        if rank == 1:
            X = X[:, 0] * X[0, :]
        if X.shape != X.T.shape or X != X.T:
            return X


def _tie_kkt(proof, kkt):
    rng = proof.rng
    for shape, kind, reduction, eps, rank in KKT_CASES:
        As, b, problem = _instance(kind, shape, rng, reduction)
        X = _point(shape, rank, rng)
        lam = [sp.Rational(int(rng.integers(-3, 4)), int(rng.integers(2, 6))) for _ in As]
        exact = exact_kkt(As, b, X, lam, eps)
        got = kkt(problem, to_float_array(X), np.array([float(v) for v in lam]), float(eps))
        label = f"nuclear_norm_kkt {shape[0]}x{shape[1]} {kind} eps={eps}" + (" rank 1" if rank else "")
        for key, value in exact.items():
            proof.close("T1", got[key], value, rtol=1e-10, scale=1.0, what=f"{label}: {key}")
    proof.sizes("T1 " + "; ".join(f"{s[0]}x{s[1]} {k} eps={e}" + (" rank 1" if r else "")
                                  for s, k, _, e, r in KKT_CASES))


SOLVER_CASES = [("completion", "sum", 0), ("sensing", "mean", sp.Rational(1, 10))]
SOLVER_TOL = 1e-7


def _tie_solver(proof, solve):
    rng = proof.rng
    for kind, reduction, eps in SOLVER_CASES:
        As, b, problem = _instance(kind, (2, 3), rng, reduction)
        result = solve(problem, float(eps), tol=SOLVER_TOL)
        label = f"nuclear_norm_minimization 2x3 {kind} {reduction} eps={eps}"
        if result.status != "optimal":
            proof.fail("T2", f"{label}: status {result.status!r} on a 2x3 instance")
        X = sp.Matrix(np.asarray(result.X).tolist()).applyfunc(sp.Rational)      # the floats, exactly
        lam = [sp.Rational(float(v)) for v in result.dual]
        res = [f - bk for f, bk in zip(forward(As, X), b)]
        worst = max(abs(rk) - eps for rk in res)
        proof.close("T2", max(float(worst), 0.0), 0, rtol=SOLVER_TOL, scale=max(1, max(abs(v) for v in b)),
                    what=f"{label}: violation of |A(X) - b| <= eps")
        spec = exact_singular_values(adjoint(As, lam))[0]
        proof.close("T2", max(float(sp.N(spec, 30)) - 1, 0.0), 0, rtol=1e-12, scale=1.0,
                    what=f"{label}: ||A^*(lam)||_2 <= 1")
        normX = sum(exact_singular_values(X))
        lower = dual_objective(b, lam, eps)
        proof.close("T2", result.objective, normX, rtol=1e-10, what=f"{label}: objective = ||X||_*")
        proof.close("T2", result.dual_objective, lower, rtol=1e-10, scale=max(1, abs(float(normX))),
                    what=f"{label}: dual objective = b.lam - eps||lam||_1")
        proof.close("T2", float(sp.N(normX - lower, 30)), 0, rtol=2 * SOLVER_TOL, scale=max(1.0, float(normX)),
                    what=f"{label}: certified interval [dual objective, ||X||_*] within tol")
    proof.sizes("T2 2x3 completion (sum, eps = 0) and sensing (mean, eps = 1/10)")


# --------------------------------------------------------------------------- planted wrong variants

def _kkt_gap_without_eps(problem, X, dual, eps=0.0, psd=False):
    """Planted: the gap without the ``eps ||lam||_1`` term."""
    out = dict(nn.nuclear_norm_kkt(problem, X, dual, eps, psd))
    normX = float(np.sum(np.linalg.svd(X, compute_uv=False)))
    out["gap"] -= eps * float(np.sum(np.abs(dual))) / max(1.0, normX)
    return out


def _solver_dual_unscaled(problem, eps=0.0, **kw):
    """Planted: the returned multipliers 1 % outside the dual feasible set."""
    result = nn.nuclear_norm_minimization(problem, eps, **kw)
    result.dual = 1.01 * result.dual
    return result


def _solver_optimal_too_early(problem, eps=0.0, **kw):
    """Planted: 'optimal' after 3 iterations, the certificate unchecked."""
    result = nn.nuclear_norm_minimization(problem, eps, **dict(kw, max_iter=3))
    result.status = "optimal"
    return result


PLANTED = {
    "S1: adjoint without the last measurement": Planted("S1", lambda: dict(
        adj=lambda As, lam: adjoint(As[:-1], lam[:-1]))),
    "S2: eps lam_k instead of eps |lam_k|": Planted("S2", lambda: dict(
        box=lambda eps, lam_abs, sign, r: sign * lam_abs * (eps + r))),
    "S3: trace duality with ||X||_F in place of ||X||_*": Planted("S3", lambda: dict(
        nuclear=lambda sig: sp.sqrt(sum(x ** 2 for x in sig)))),
    "S4: dual objective b.lam + eps||lam||_1": Planted("S4", lambda: dict(
        dual=lambda b, lam, eps: dual_objective(b, lam, -eps))),
    "library: kkt gap without eps||lam||_1": Planted("T1", lambda: dict(kkt=_kkt_gap_without_eps)),
    "library: kkt dual residual of 1.01 A^*(lam)": Planted("T1", lambda: dict(
        kkt=lambda p, X, lam, eps=0.0, psd=False: nn.nuclear_norm_kkt(p, X, 1.01 * lam, eps, psd) | dict(
            primal=nn.nuclear_norm_kkt(p, X, lam, eps, psd)["primal"]))),
    "library: multipliers 1% outside the dual set": Planted("T2", lambda: dict(solve=_solver_dual_unscaled)),
    "library: 'optimal' after 3 iterations": Planted("T2", lambda: dict(solve=_solver_optimal_too_early)),
}


def worked_example():
    """2x2 completion of three ones: X = [[1, 1], [1, 1]] and lam = (0, 1, 1) close the gap (OPT = 2)."""
    As = completion_matrices((2, 2), ((0, 0), (0, 1), (1, 0)))
    X, lam, b = sp.Matrix([[1, 1], [1, 1]]), [0, 1, 1], [1, 1, 1]
    print("A^*(lam) =", adjoint(As, lam).tolist(), " ||.||_2 =", exact_singular_values(adjoint(As, lam))[0])
    print("||X||_* =", sum(exact_singular_values(X)), " b.lam =", dual_objective(b, lam, 0),
          " -> gap 0: X is a minimum nuclear norm completion")
    problem = MatrixCompletion((2, 2), np.array([0, 0, 1]), np.array([0, 1, 0]), np.ones(3))
    print("library kkt:", {k: round(v, 12) for k, v in nn.nuclear_norm_kkt(problem, to_float_array(X),
                                                                           np.array(lam, float)).items()})


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
