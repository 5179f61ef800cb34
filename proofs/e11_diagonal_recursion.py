r"""E11 — from ``W_j(0) = alpha I`` with ``A`` symmetric, gradient descent is a per-eigenvalue recursion.

Statement (THEORY.md E11, Chou-Gieshoff-Maly-Rauhut arXiv 2011.13772)
--------------------------------------------------------------------
Loss ``phi = 1/2 ||W_N ... W_1 - A||_F^2`` with ``A = Q diag(lambda) Q^T`` symmetric, plain gradient
descent ``W_j <- W_j - eta dphi/dW_j`` from ``W_j(0) = alpha I`` (every layer).  Then at every step
every factor equals ``Q diag(x) Q^T`` with the same ``x``, and

    x  <-  x + eta x^{N-1} (lambda - x^N)        (entry by entry),

so the end-to-end matrix is ``Q diag(x^N) Q^T``.

Scope.  S1, S2: ``d = 2`` with a symbolic rotation ``Q = R(t)`` and symbolic ``x``, ``lambda``,
``eta``; ``N = 2, 3`` (``N = 2, 3, 4`` full) -- the factor count is explicit, the sizes small.  S3:
exact rational arithmetic, full matrices (no structure used by the iteration), ``d = 2``
(``N = 2, 3, 4``) and ``d = 3`` (``N = 3, 5``, full run) at rational ``Q`` (Cayley), ``lambda``, ``alpha``,
``eta``, for 2 steps (3 in the full run).  Square factors only (``d x d``) for S1-S3; the layer
gradients are those of E1 (proved on its page).  The tie-ins T2, T3 also run the library at
general points (non-symmetric, non-commuting factors; every weight regime; batched).  Not covered: non-symmetric ``A``, unequal or
non-scalar initial factors (then the factors need not commute with ``A``: the planted variant
of S3 shows the recursion failing).

Steps
-----
S1  at ``W_j = Q diag(x) Q^T`` (all ``j``) every layer gradient (E1 with ``G = W - A``) equals
    ``Q diag(x^{N-1}(x^N - lambda)) Q^T``.
S2  hence one step maps the common factor to ``Q diag(x + eta x^{N-1}(lambda - x^N)) Q^T``:
    the set {all factors equal to ``Q diag(x) Q^T``} is invariant, and ``alpha I = Q (alpha I) Q^T`` is in it.
S3  full-matrix GD in exact rationals from ``W_j(0) = alpha I`` equals ``Q diag(x_k) Q^T`` step by step.
T1  library: ``dynamics.diagonal_recursion`` equals the exact recursion (rationals).
T2  library: ``training.gradient_descent`` (plain GD, fully observed completion, sum loss) gives the
    exact factors ``Q diag(x_k) Q^T``; and, beyond E11's structure, it equals exact full-matrix GD
    (E1 gradients, rationals) from non-symmetric, non-commuting rational factors: N = 2, 3, 4;
    square, tall, wide W; completion and sensing; sum and mean; two trials batched in one call.
T3  library: ``factorization.layer_gradients`` at ``W_j = Q diag(x) Q^T`` equals S1's gradient, and
    E1's gradient at rational points of every weight regime (E1's tie-in, batched included).
"""

import numpy as np
import sympy as sp

from dmf_edu import dynamics, factorization
from dmf_edu.training import loop as training
from dmf_edu.problems import MatrixCompletion, MatrixSensing
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula as layer_gradients, tie_layer_gradients
from dmf_edu.proofs.symbolic import (Page, Planted, cayley, chain_product, field_matrix, function_field, rotation, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E11", title="W_j(0) = alpha I, A symmetric: GD = eigenvalue recursion",
    statement="from W_j(0) = alpha I, GD on 1/2||W_N...W_1 - A||^2 (A = Q diag(lambda) Q^T) keeps every "
              "W_j = Q diag(x) Q^T with x <- x + eta x^{N-1}(lambda - x^N)",
    method="exact (rational-function field) + exact rational GD",
    steps={
        "S1": "at W_j = Q diag(x) Q^T every layer gradient is Q diag(x^{N-1}(x^N - lambda)) Q^T",
        "S2": "one GD step gives Q diag(x + eta x^{N-1}(lambda - x^N)) Q^T (invariant set)",
        "S3": "full-matrix GD in exact rationals from alpha I = Q diag(x_k) Q^T",
        "T1": "library: dynamics.diagonal_recursion = exact recursion",
        "T2": "library: training.gradient_descent (plain GD) = exact factors (and exact GD at general points)",
        "T3": "library: factorization.layer_gradients = S1's gradient (and E1 at every weight regime)",
    })


# --------------------------------------------------------------------------- construction

def claimed_gradient(x, lam, N):
    """S1: the eigenvalues of every layer gradient, ``x^{N-1}(x^N - lambda)``."""
    return [xi ** (N - 1) * (xi ** N - li) for xi, li in zip(x, lam)]


def recursion(x, lam, N, eta):
    """S2: ``x + eta x^{N-1}(lambda - x^N)`` (entry by entry)."""
    return [xi + eta * xi ** (N - 1) * (li - xi ** N) for xi, li in zip(x, lam)]


def gd(weights, A, eta, steps):
    """Full-matrix gradient descent with E1 gradients, exact (``sympy.Matrix`` of rationals)."""
    out = [list(weights)]
    for _ in range(steps):
        ws = out[-1]
        grads = layer_gradients(ws, chain_product(ws) - A)
        out.append([w - eta * g for w, g in zip(ws, grads)])
    return out


def scalar_init(alpha, d):
    """``W_j(0) = alpha I``."""
    return alpha * sp.eye(d)


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, grad=claimed_gradient, step=recursion, init=scalar_init,
          diag_rec=dynamics.diagonal_recursion, descent=training.gradient_descent,
          layer_grads=factorization.layer_gradients):
    t, eta = sp.symbols("t eta", real=True)
    x, lam = sp.symbols("x1 x2", real=True), sp.symbols("lambda1 lambda2", real=True)
    K = function_field([t, eta, *x, *lam])
    Q = field_matrix(rotation(t), K)
    D = lambda v: field_matrix(sp.diag(*v), K)  # noqa: E731
    A = Q * D(lam) * Q.transpose()
    for N in ((2, 3) if quick else (2, 3, 4)):
        ws = [Q * D(x) * Q.transpose()] * N
        grads = layer_gradients(ws, chain_product(ws) - A)
        for j, g in enumerate(grads):                              # S1
            proof.zero("S1", g - Q * D(grad(x, lam, N)) * Q.transpose(), f"d=2 N={N}: layer {j + 1} gradient")
        for j, (w, g) in enumerate(zip(ws, grads)):                # S2
            new = w - g.scalarmul(K.convert(eta))
            proof.zero("S2", new - Q * D(step(x, lam, N, eta)) * Q.transpose(),
                       f"d=2 N={N}: layer {j + 1} after one step")
        proof.sizes(f"d=2 symbolic N={N}")
    # S3: exact rational GD on full matrices, no structure used
    rng = proof.rng
    steps = 2 if quick else 3
    cases = [(2, 2), (2, 3), (2, 4)] if quick else [(2, 2), (2, 3), (2, 4), (3, 3), (3, 5)]
    rational = lambda lo, hi, q: sp.Rational(int(rng.integers(lo, hi)), q)  # noqa: E731
    records = []
    for d, N in cases:
        Qr = rotation(rational(-5, 6, 3)) if d == 2 else cayley([rational(-5, 6, 3) for _ in range(3)], 3)
        lam_r = [rational(1, 10, 4) for _ in range(d)]
        alpha, eta_r = sp.Rational(1, 2), sp.Rational(1, 8)
        Ar = Qr * sp.diag(*lam_r) * Qr.T
        traj = gd([init(alpha, d)] * N, Ar, eta_r, steps)
        xs = [[alpha] * d]
        for k in range(1, steps + 1):
            xs.append(step(xs[-1], lam_r, N, eta_r))
            for j, w in enumerate(traj[k]):
                proof.zero("S3", w - Qr * sp.diag(*xs[-1]) * Qr.T, f"d={d} N={N}: step {k}, layer {j + 1}")
        proof.sizes(f"S3 d={d} N={N}, {steps} steps")
        records.append((d, N, Qr, lam_r, alpha, eta_r, Ar, xs))
    _tie_in(proof, records, steps, diag_rec, descent, layer_grads)


def _tie_in(proof, records, steps, diag_rec, descent, layer_grads):
    for d, N, Qr, lam_r, alpha, eta_r, Ar, xs in records:
        lam_f = np.array([float(v) for v in lam_r])
        proof.close("T1", diag_rec(lam_f, float(alpha), N, float(eta_r), steps), sp.Matrix(xs), rtol=1e-12,
                    what=f"diagonal_recursion d={d} N={N}")
        rows, cols = np.divmod(np.arange(d * d), d)
        problem = MatrixCompletion((d, d), rows, cols, to_float_array(Ar).ravel(), reduction="sum")
        run = descent(problem, [float(alpha) * np.eye(d)] * N, lr=float(eta_r), max_steps=steps)
        for j, w in enumerate(run.weights):
            proof.close("T2", w, Qr * sp.diag(*xs[-1]) * Qr.T, rtol=1e-12,
                        what=f"gradient_descent d={d} N={N} layer {j + 1}")
        ws = [to_float_array(Qr * sp.diag(*xs[1]) * Qr.T)] * N
        G = np.linalg.multi_dot(ws) - to_float_array(Ar) if N > 1 else ws[0] - to_float_array(Ar)
        exact = Qr * sp.diag(*claimed_gradient(xs[1], lam_r, N)) * Qr.T
        for j, g in enumerate(layer_grads(ws, G)):
            proof.close("T3", g, exact, rtol=1e-12, what=f"layer_gradients d={d} N={N} layer {j + 1}")
    _tie_general_gd(proof, descent)
    tie_layer_gradients(proof, "T3", layer_grads, proof.quick)


# (dims, problem kind, reduction, trials): N = 2, 3, 4; square, tall, wide W; both kinds and reductions
GD_CASES = [([2, 2, 2, 2, 2], "completion", "sum", 1), ([2, 3, 3], "completion", "mean", 1),
            ([3, 2, 1, 2], "sensing", "sum", 1), ([2, 3, 2], "sensing", "mean", 1),
            ([2, 3, 2], "completion", "sum", 2)]
GD_MASK = ((0, 0), (0, 1), (1, 0), (2, 1), (1, 1))
GD_STEPS, GD_LR = 2, sp.Rational(1, 16)


def small_rational(rng):
    """``p/q`` with ``1 <= |p| <= 3``, ``2 <= q <= 5`` (factors of moderate size: GD stays tame)."""
    return sp.Rational(int(rng.choice([-1, 1]) * rng.integers(1, 4)), int(rng.integers(2, 6)))


def exact_problem(kind, red, shape, rng):
    """``(exact gradient map W -> G, exact loss map W -> l, library problem)`` of a completion (mask)
    or sensing (2 A_k) problem with reduction ``red`` (sum: ``1/2 sum r_k^2``; mean: ``(1/K) sum r_k^2``)."""
    m, n = shape
    if kind == "completion":
        obs = [(i, j) for i, j in GD_MASK if i < m and j < n]
        A = [sp.Matrix(m, n, lambda a, b, ij=ij: int((a, b) == ij)) for ij in obs]
    else:
        A = [sp.Matrix(m, n, lambda a, b: small_rational(rng)) for _ in range(2)]
    y = [small_rational(rng) for _ in A]
    c = sp.Integer(1) if red == "sum" else sp.Rational(2, len(A))
    res = lambda W: [sum(a * w for a, w in zip(Ak, W)) - yk for Ak, yk in zip(A, y)]  # noqa: E731
    grad = lambda W: sum((r * c * Ak for r, Ak in zip(res(W), A)), sp.zeros(m, n))  # noqa: E731
    loss = lambda W: sum(r ** 2 for r in res(W)) * c / 2  # noqa: E731
    yf = np.array([float(v) for v in y])
    if kind == "completion":
        rows, cols = zip(*obs)
        return grad, loss, MatrixCompletion((m, n), np.array(rows), np.array(cols), yf, reduction=red)
    return grad, loss, MatrixSensing(np.array([to_float_array(Ak) for Ak in A]), yf, reduction=red)


def exact_gd(weights, grad, eta, steps):
    """Full-matrix GD with E1's layer gradients and the loss gradient ``grad(W)``, exact rationals."""
    ws = list(weights)
    for _ in range(steps):
        gs = layer_gradients(ws, grad(chain_product(ws)))
        ws = [w - eta * g for w, g in zip(ws, gs)]
    return ws


def _tie_general_gd(proof, descent):
    """T2 beyond E11's structure: library GD = exact GD from non-symmetric, non-commuting factors."""
    rng = proof.rng
    for dims, kind, red, trials in GD_CASES:
        grad, _, problem = exact_problem(kind, red, (dims[-1], dims[0]), rng)
        starts = [[sp.Matrix(dims[j + 1], dims[j], lambda a, b: small_rational(rng)) for j in range(len(dims) - 1)]
                  for _ in range(trials)]
        exact = [exact_gd(ws, grad, GD_LR, GD_STEPS) for ws in starts]
        floats = [np.stack([to_float_array(ws[j]) for ws in starts]) if trials > 1 else to_float_array(starts[0][j])
                  for j in range(len(dims) - 1)]
        run = descent(problem, floats, lr=float(GD_LR), max_steps=GD_STEPS)
        label = f"gradient_descent d={tuple(dims)} {kind} {red}" + (f" batched x{trials}" if trials > 1 else "")
        proof.count("T2", run.weights, len(dims) - 1, label)
        for b, ex in enumerate(exact):
            for j, e in enumerate(ex):
                num = run.weights[j][b] if trials > 1 else run.weights[j]
                proof.close("T2", num, e, rtol=1e-10, what=f"{label} trial {b} layer {j + 1}")
    proof.sizes("T2 general GD: " + "; ".join(f"d={tuple(d)} {k} {r}" + (" batched" if t > 1 else "")
                                              for d, k, r, t in GD_CASES) + f", {GD_STEPS} steps")


def _gd_transposed(which):
    """Planted: plain GD with a transpose that cancels only for symmetric, commuting factors --
    ``which="factors"``: ``W_j^T`` in place of the square ``W_j`` in the backward pass;
    ``which="G"``: the loss gradient ``G^T`` on square ``W``."""
    def descent(problem, weights, lr, max_steps):
        ws = [np.array(w, dtype=float) for w in weights]
        for _ in range(max_steps):
            G = problem.gradient(factorization.end_to_end(ws))
            if which == "G" and G.shape[-1] == G.shape[-2]:
                G = np.swapaxes(G, -1, -2)
            back = [np.swapaxes(w, -1, -2) if which == "factors" and w.shape[-1] == w.shape[-2] else w for w in ws]
            ws = [w - lr * g for w, g in zip(ws, factorization.layer_gradients(back, G))]
        out = type("Run", (), {})()
        out.weights = ws
        return out
    return descent


def _gd_frozen_last(problem, weights, lr, max_steps):
    """Planted: GD whose last factor is never updated (its gradient dropped)."""
    run = training.gradient_descent(problem, weights, lr=lr, max_steps=max_steps)
    out = type("Run", (), {})()
    out.weights = list(run.weights[:-1]) + [np.array(weights[-1], dtype=float)]
    return out


PLANTED = {
    "S1: gradient x^N (x^N - lambda)": Planted("S1", lambda: dict(
        grad=lambda x, lam, N: [xi ** N * (xi ** N - li) for xi, li in zip(x, lam)])),
    "S2: recursion with the sign of the residual flipped": Planted("S2", lambda: dict(
        step=lambda x, lam, N, eta: [xi + eta * xi ** (N - 1) * (xi ** N - li) for xi, li in zip(x, lam)])),
    "S3: init alpha diag(1, 2, ...) (not a multiple of I)": Planted("S3", lambda: dict(
        init=lambda alpha, d: alpha * sp.diag(*range(1, d + 1)))),
    "library: diagonal_recursion lr x1.01": Planted("T1", lambda: dict(
        diag_rec=lambda lam, a, N, lr, k: dynamics.diagonal_recursion(lam, a, N, 1.01 * lr, k))),
    "library: gradient_descent lr x1.01": Planted("T2", lambda: dict(
        descent=lambda p, w, lr, max_steps: training.gradient_descent(p, w, lr=1.01 * lr, max_steps=max_steps))),
    "library: GD with W_j^T in the backward pass (square factors)": Planted("T2", lambda: dict(
        descent=_gd_transposed("factors"))),
    "library: GD with G^T (square W)": Planted("T2", lambda: dict(descent=_gd_transposed("G"))),
    "library: GD without the last layer's update": Planted("T2", lambda: dict(descent=_gd_frozen_last)),
    "library: layer_gradients drops the last gradient": Planted("T3", lambda: dict(
        layer_grads=lambda ws, G: factorization.layer_gradients(ws, G)[:-1])),
    "library: layer_gradients x1.01": Planted("T3", lambda: dict(
        layer_grads=lambda ws, G: [1.01 * g for g in factorization.layer_gradients(ws, G)])),
}


def worked_example():
    """d = 1 view: lambda = 1, alpha = 1/2, N = 2, eta = 1/8: x_1 = 1/2 + (1/8)(1/2)(1 - 1/4) = 35/64."""
    x1 = recursion([sp.Rational(1, 2)], [1], 2, sp.Rational(1, 8))[0]
    print("x_1 = 1/2 + (1/8) (1/2) (1 - (1/2)^2) =", x1)
    print("dynamics.diagonal_recursion([1.0], 0.5, 2, 0.125, 1) =",
          dynamics.diagonal_recursion([1.0], 0.5, 2, 0.125, 1)[:, 0])


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
