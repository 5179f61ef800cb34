r"""E19 — the reference code's adaptive optimizer, step by step.

Statement (THEORY.md E19)
-------------------------
With the mean loss ``l(W) = (1/|Omega|) sum_{(i,j) in Omega} (W_ij - M_ij)^2`` and the layer
gradients ``g_j = dphi/dW_j`` (E1 with ``G = (2/|Omega|) P_Omega(W - M)``), one global step per update:

    s_t   = beta s_{t-1} + (1 - beta) sum_j ||g_j||_F^2,        s_0 = 0,
    eta_t = lr / (sqrt(s_t / (1 - beta^t)) + eps),
    W_j  <- W_j - eta_t g_j .

``s_t/(1 - beta^t)`` is a weighted mean of the past squared gradient norms (weights summing to 1),
so the first step has length ``lr ||g|| / (||g|| + eps)``, and with ``eps = 0`` the iterates do not
change when the loss is multiplied by a constant ``c > 0`` (learning rates carry over between the
sum and the mean losses, unlike plain GD where ``lr_sum = 2 lr_mean / |Omega|``).

Scope.  S1 for symbolic ``t`` (the weights) and ``t = 1, 2, 3`` (the unrolled recursion); S2 at
``d = (2,3,2)`` (and ``(2,2,3,2)`` in the full run) with free factors, mask and targets; S3 for
the first two steps with free squared norms; T1 two steps of the library from rational factors
(depth 2, and depth 3 in the full run): the formula's iterates are exact polynomials over QQ in
the step sizes ``eta_1, eta_2``, which are the algebraic numbers of the formula (square roots),
evaluated to 50 digits; compared to the float64 library at ``rtol 1e-12`` (factors) and ``1e-9``
(their displacement).  T2 six steps at depth N = 4 (square and wide W; completion with the mean
loss, sensing with the sum loss; the full run adds the other two pairings), the formula evaluated
in 50-digit arithmetic (the step sizes are irrational): two trials batched in one call, the first
reaching ``loss_tol`` after a few updates and freezing (its factors and ``s``) while the second goes
on; and a run of 3 steps resumed (``resume=run``) to 6, equal to the uninterrupted run of 6.

Steps
-----
S1  ``s_t = (1 - beta) sum_{k<=t} beta^{t-k} q_k`` (``q_k = sum_j ||g_j(k)||^2``) and the weights
    ``(1 - beta) beta^{t-k} / (1 - beta^t)`` sum to 1 (symbolic ``t``).
S2  the layer gradients of the mean loss are E1 with ``G = (2/|Omega|) P_Omega(W - M)``.
S3  with ``eps = 0`` the steps ``eta_t g`` are unchanged when every ``q_k`` is scaled by ``c^2`` and ``g``
    by ``c`` (loss times ``c``), ``t = 1, 2``.
T1  library: two steps of ``training.gradient_descent(optimizer="adaptive")`` equal the formula
    (factors after steps 1 and 2, their displacement, and the state ``s_2``).
T2  library: six adaptive steps at N = 4 equal the formula per trial: a trial whose loss reaches
    ``loss_tol`` stops (factors, ``s`` and its update count frozen; the others go on with their own
    bias correction ``1 - beta^t``), and a resumed run (3 + 3 steps) equals the uninterrupted one
    (factors, ``s``, ``t``).
"""

import copy

import numpy as np
import sympy as sp

from dmf_edu.training import loop as training
from dmf_edu.training.run import problem_digest
from dmf_edu.problems import MatrixCompletion
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula as layer_gradients
from dmf_edu.proofs.e11_diagonal_recursion import exact_problem, small_rational
from dmf_edu.proofs.symbolic import (Page, Planted, chain_product, random_rational_point, symbol_matrix,
                                     symbolic_weights, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E19", title="adaptive optimizer: exact steps, frozen trials, resume",
    statement="s_t = beta s_{t-1} + (1-beta) sum ||g_j||^2, eta_t = lr/(sqrt(s_t/(1-beta^t)) + eps), "
              "W_j <- W_j - eta_t g_j with mean-loss gradients",
    method="exact (sympy; algebraic numbers for the two library steps)",
    steps={
        "S1": "s_t/(1-beta^t) is a weighted mean of the squared gradient norms (weights sum to 1)",
        "S2": "mean-loss layer gradients = E1 with G = (2/|Omega|) P_Omega(W - M)",
        "S3": "eps = 0: the steps do not change when the loss is scaled by c > 0",
        "T1": "library: two adaptive steps of training.gradient_descent = the formula",
        "T2": "library: six steps at N = 4 (batched, one trial frozen at loss_tol; resumed run) = the formula",
    })

MASK = ((0, 0), (0, 1), (1, 0))                   # observed entries of the 2x2 end-to-end matrix


# --------------------------------------------------------------------------- the formula

def correction(t, beta):
    """Bias correction ``1 - beta^t``."""
    return 1 - beta ** t


def step_size(s, t, lr, beta, eps):
    """``eta_t = lr / (sqrt(s_t / (1 - beta^t)) + eps)``."""
    return lr / (sp.sqrt(s / correction(t, beta)) + eps)


def mean_loss_gradient(W, mask, M, K):
    """``G = (2/K) P_Omega(W - M)``, ``mask`` the 0/1 matrix of ``Omega``, ``K = |Omega|``."""
    return (W - M).multiply_elementwise(mask) * 2 / K


def adaptive_steps(weights, mask, M, lr, beta, eps, steps, gradient=mean_loss_gradient, eta=step_size):
    """The E19 iteration with the step sizes kept as symbols ``eta_1, eta_2, ...``.

    The factors after each step are then polynomials in the ``eta_t`` with rational coefficients
    (exact, for rational inputs), and ``s_t`` likewise; the ``eta_t`` themselves are the algebraic
    numbers ``eta(s_t, t)`` (square roots), evaluated in turn to 50 digits.  Returns the factors
    after each step, ``s`` after the last step (both as expressions) and ``{eta_t: value}``.
    """
    ws, s, out, values = list(weights), sp.Integer(0), [list(weights)], {}
    for t in range(1, steps + 1):
        grads = layer_gradients(ws, gradient(chain_product(ws), mask, M, sum(mask)))
        s = sp.expand(beta * s + (1 - beta) * sp.Add(*(e ** 2 for g in grads for e in g)))
        e = sp.Symbol(f"eta_{t}", positive=True)
        values[e] = sp.N(eta(sp.N(s.xreplace(values), 50), t, lr, beta, eps), 50)
        ws = [(w - e * g).applyfunc(sp.expand) for w, g in zip(ws, grads)]
        out.append(ws)
    return out, s, values


DIGITS = 50


def adaptive_trajectory(weights, grad, loss, lr, beta, eps, steps, loss_tol=None, eta=step_size):
    """E19 for one trial in ``DIGITS``-digit arithmetic, with the library's stopping rule: at each
    step ``k = 0..steps`` the loss is evaluated; the trial stops when it is ``<= loss_tol`` or
    ``k = steps``, else it updates.  ``grad``, ``loss``: exact maps of ``W``.  Returns a dict with the
    final ``weights``, ``s``, ``nit`` (updates applied) and the ``losses`` seen."""
    ws, s, losses = list(weights), sp.Integer(0), []
    for k in range(steps + 1):
        losses.append(sp.N(loss(chain_product(ws)), DIGITS))
        if k == steps or (loss_tol is not None and losses[-1] <= loss_tol):
            break
        grads = layer_gradients(ws, grad(chain_product(ws)))
        s = sp.N(beta * s + (1 - beta) * sp.Add(*(e ** 2 for g in grads for e in g)), DIGITS)
        e = sp.N(eta(s, k + 1, lr, beta, eps), DIGITS)
        ws = [(w - e * g).applyfunc(lambda v: sp.N(v, DIGITS)) for w, g in zip(ws, grads)]
    return dict(weights=ws, s=s, nit=len(losses) - 1, losses=losses)


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, corr=correction, gradient=mean_loss_gradient, eta=step_size,
          descent=training.gradient_descent):
    # S1: the unrolled recursion and the weights of the bias-corrected mean
    beta = sp.Symbol("beta", positive=True)
    t, k = sp.Symbol("t", integer=True, positive=True), sp.Symbol("k", integer=True)
    q = sp.symbols("q1:4", positive=True)
    s = sp.Integer(0)
    for T in (1, 2, 3):
        s = beta * s + (1 - beta) * q[T - 1]
        proof.zero("S1", sp.expand(s - (1 - beta) * sum(beta ** (T - i) * q[i - 1] for i in range(1, T + 1))),
                   f"t={T}: unrolled s_t")
    weights_sum = sp.summation((1 - beta) * beta ** (t - k), (k, 1, t))
    proof.zero("S1", sp.simplify(weights_sum / corr(t, beta) - 1),
               "sum_k (1-beta) beta^(t-k) = 1 - beta^t (symbolic t)")
    proof.sizes("S1 symbolic t")
    # S2: gradients of the mean loss by sympy.diff
    for dims in ([2, 3, 2],) if quick else ([2, 3, 2], [2, 2, 3, 2]):
        ws = symbolic_weights(dims)
        W = chain_product(ws)
        mask = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"m{i}{j}", positive=True))   # free weights (0/1 for a mask)
        M = symbol_matrix("y", 2, 2)
        size = sp.Symbol("K", positive=True)              # |Omega|, a free positive number here
        loss = sp.Add(*(mask[i, j] * (W[i, j] - M[i, j]) ** 2 for i in range(2) for j in range(2))) / size
        G = gradient(W, mask, M, size)
        for j, (Wj, g) in enumerate(zip(ws, layer_gradients(ws, G))):
            exact = sp.Matrix(*Wj.shape, lambda a, b: sp.diff(loss, Wj[a, b]))
            proof.zero("S2", exact - g, f"d={tuple(dims)} layer {j + 1}: mean-loss gradient")
        proof.sizes(f"S2 d={tuple(dims)}")
    # S3: scale invariance of the first two steps at eps = 0
    c, lr, g = sp.Symbol("c", positive=True), sp.Symbol("lr", positive=True), sp.Symbol("g", real=True)
    for T in (1, 2):
        sT = (1 - beta) * sum(beta ** (T - i) * q[i - 1] for i in range(1, T + 1))
        scaled = (1 - beta) * sum(beta ** (T - i) * c ** 2 * q[i - 1] for i in range(1, T + 1))
        proof.zero("S3", sp.simplify(eta(scaled, T, lr, beta, 0) * c * g - eta(sT, T, lr, beta, 0) * g),
                   f"t={T}: eta(c^2 q) c g = eta(q) g")
    _tie_in(proof, quick, gradient, eta, descent)
    _tie_long_runs(proof, quick, eta, descent)


def _tie_in(proof, quick, gradient, eta, descent):
    lr, beta, eps = sp.Rational(1, 1000), sp.Rational(99, 100), sp.Rational(1, 10000)
    for dims in ([2, 3, 2],) if quick else ([2, 3, 2], [2, 2, 3, 2]):
        ws = symbolic_weights(dims)
        pt = random_rational_point(set().union(*(w.free_symbols for w in ws)), proof.rng)
        w0 = [w.xreplace(pt) for w in ws]
        M = sp.Matrix(2, 2, lambda i, j: sp.Rational(int(proof.rng.integers(-9, 10)), 3))
        mask = sp.Matrix(2, 2, lambda i, j: 1 if (i, j) in MASK else 0)
        traj, s2, values = adaptive_steps(w0, mask, M, lr, beta, eps, 2, gradient, eta)
        rows, cols = zip(*MASK)
        problem = MatrixCompletion((2, 2), np.array(rows), np.array(cols),
                                   np.array([float(M[i, j]) for i, j in MASK]), reduction="mean")
        start = [np.array(w.tolist(), dtype=float) for w in w0]
        for k in (1, 2):
            run = descent(problem, start, lr=float(lr), max_steps=k, optimizer="adaptive", beta=float(beta),
                          eps=float(eps))
            for j, (wn, we) in enumerate(zip(run.weights, traj[k])):
                proof.close("T1", wn, we.xreplace(values), rtol=1e-12,
                            what=f"adaptive step {k}, d={tuple(dims)}, layer {j + 1}")
                proof.close("T1", wn - start[j], (we - w0[j]).xreplace(values), rtol=1e-9,
                            what=f"adaptive step {k}, d={tuple(dims)}, layer {j + 1}: displacement")
        proof.close("T1", run.state["s"], s2.xreplace(values), rtol=1e-12, what=f"state s_2, d={tuple(dims)}")
    proof.note("lr = 1e-3, beta = 0.99, eps = 1e-4 (the reference code's constants); the displacement "
               "check sees a 1e-4 change of eps")


# (dims, problem kind, reduction, how): N = 4; "batched": two trials, the first frozen at loss_tol;
# "resumed": 3 steps, then resume=run to 6, against the uninterrupted 6
LONG_CASES = [([2, 3, 2, 2, 3], "completion", "mean", "batched"), ([3, 2, 2, 3, 2], "sensing", "sum", "resumed")]
LONG_CASES_FULL = [([2, 2, 3, 2, 2], "sensing", "mean", "batched"), ([3, 2, 3, 2, 2], "completion", "sum", "resumed")]
LONG_STEPS, LONG_LR = 6, sp.Rational(1, 20)
_TRAJECTORIES = {}


def _tie_long_runs(proof, quick, eta, descent):
    """T2: six steps at N = 4, batched with a frozen trial, and a resumed run, against the formula."""
    beta, eps, rng = sp.Rational(99, 100), sp.Rational(1, 10000), proof.rng
    settings = dict(lr=float(LONG_LR), optimizer="adaptive", beta=float(beta), eps=float(eps))
    for dims, kind, red, how in LONG_CASES + ([] if quick else LONG_CASES_FULL):
        grad, loss, problem = exact_problem(kind, red, (dims[-1], dims[0]), rng)
        start = [sp.Matrix(dims[j + 1], dims[j], lambda a, b: small_rational(rng)) for j in range(len(dims) - 1)]
        label = f"d={tuple(dims)} {kind} {red}"
        key = (kind, red, problem_digest(problem))

        def traj(ws, k, tol=None, grad=grad, loss=loss, key=key):
            """The formula's trajectory, memoised on the problem's data, start, steps, tol and ``eta``
            (the planted variants and regime plants reuse the claim's 50-digit work)."""
            memo = (key, tuple(sp.ImmutableMatrix(w) for w in ws), k, tol, eta)
            if memo not in _TRAJECTORIES:
                _TRAJECTORIES[memo] = adaptive_trajectory(ws, grad, loss, LONG_LR, beta, eps, k, tol, eta)
            return _TRAJECTORIES[memo]
        if how == "batched":
            starts = [start, start[:-1] + [3 * start[-1]]]          # the second trial starts farther away
            tol = traj(start, 3)["losses"][3] * (1 + sp.Rational(1, 10 ** 6))
            exact = [traj(ws, LONG_STEPS, tol) for ws in starts]
            if not exact[0]["nit"] < LONG_STEPS == exact[1]["nit"]:
                raise ValueError(f"E19 T2 construction: trial 0 must stop early, trial 1 not ({label})")
            run = descent(problem, [np.stack([to_float_array(ws[j]) for ws in starts]) for j in range(len(dims) - 1)],
                          max_steps=LONG_STEPS, loss_tol=float(tol), **settings)
            _compare_runs(proof, run, exact, f"{label} batched, trial 0 frozen at loss_tol")
        else:
            floats = [to_float_array(w) for w in start]
            first = descent(problem, floats, max_steps=3, **settings)
            _compare_runs(proof, first, [traj(start, 3)], f"{label} first 3 steps")
            exact = [traj(start, LONG_STEPS)]
            _compare_runs(proof, descent(problem, floats, max_steps=LONG_STEPS, resume=first, **settings), exact,
                          f"{label} resumed 3 -> {LONG_STEPS}")
            _compare_runs(proof, descent(problem, floats, max_steps=LONG_STEPS, **settings), exact,
                          f"{label} uninterrupted {LONG_STEPS}")
    proof.sizes("T2: " + "; ".join(f"d={tuple(d)} {k} {r} {h}" for d, k, r, h in
                                   LONG_CASES + ([] if quick else LONG_CASES_FULL)) + f", {LONG_STEPS} steps")


def _compare_runs(proof, run, exact, label):
    """A (batched, if ``len(exact) > 1``) library ``Run`` against per-trial formula trajectories."""
    batched = len(exact) > 1
    proof.count("T2", run.weights, len(exact[0]["weights"]), label)
    for b, ex in enumerate(exact):
        for j, w in enumerate(ex["weights"]):
            proof.close("T2", run.weights[j][b] if batched else run.weights[j], w, rtol=1e-10,
                        what=f"{label}: trial {b} layer {j + 1}")
    proof.close("T2", np.ravel(run.state["s"]), [ex["s"] for ex in exact], rtol=1e-10, what=f"{label}: state s")
    proof.close("T2", np.ravel(run.nit), [ex["nit"] for ex in exact], rtol=0, what=f"{label}: updates per trial (nit)")
    proof.close("T2", float(run.state["t"]), max(ex["nit"] for ex in exact), rtol=0, what=f"{label}: t")


def _descent_resume_t0(problem, weights, resume=None, **kw):
    """Planted: a resumed run restarts the bias correction (``t = 0``; ``s`` kept)."""
    if resume is not None:
        resume = copy.copy(resume)
        resume.state = dict(resume.state, t=0)
    return training.gradient_descent(problem, weights, resume=resume, **kw)


def _descent_no_freeze(problem, weights, loss_tol=None, **kw):
    """Planted: a trial that reaches ``loss_tol`` keeps updating (the tolerance ignored)."""
    return training.gradient_descent(problem, weights, **kw)


PLANTED = {
    "S1: bias correction t (1 - beta)": Planted("S1", lambda: dict(corr=lambda t, beta: t * (1 - beta))),
    "S2: mean-loss gradient without the factor 2": Planted("S2", lambda: dict(
        gradient=lambda W, mask, M, K: mean_loss_gradient(W, mask, M, K) / 2)),
    "S3: step without the square root": Planted("S3", lambda: dict(
        eta=lambda s, t, lr, beta, eps: lr / (s / correction(t, beta) + eps))),
    "library: lr x1.01": Planted("T1", lambda: dict(
        descent=lambda p, w, lr, **k: training.gradient_descent(p, w, lr=1.01 * lr, **k))),
    "library: beta 0.98": Planted("T1", lambda: dict(
        descent=lambda p, w, beta, **k: training.gradient_descent(p, w, beta=beta - 0.01, **k))),
    "library: eps 2e-4": Planted("T1", lambda: dict(
        descent=lambda p, w, eps, **k: training.gradient_descent(p, w, eps=2 * eps, **k))),
    "library: resume restarts the bias correction (t = 0)": Planted("T2", lambda: dict(descent=_descent_resume_t0)),
    "library: a trial at loss_tol keeps updating": Planted("T2", lambda: dict(descent=_descent_no_freeze)),
}


def worked_example():
    """One step from W_1 = W_2 = 1 (1x1), target 2, lr = 1e-3: eta_1 = lr/(||g|| + eps)."""
    g = 2 * (1 - 2)                               # dl/dW at W = 1 for the mean loss (W - 2)^2
    q = 2 * g ** 2                                # both layers have gradient g
    eta1 = 1e-3 / (np.sqrt(q) + 1e-4)
    print(f"g_1 = g_2 = {g}, q_1 = {q}, eta_1 = lr/(sqrt(q_1) + eps) = {eta1:.6e}; W_j -> {1 - eta1 * g:.8f}")
    problem = MatrixCompletion((1, 1), np.array([0]), np.array([0]), np.array([2.0]), reduction="mean")
    run = training.gradient_descent(problem, [np.ones((1, 1)), np.ones((1, 1))], lr=1e-3, max_steps=1,
                                    optimizer="adaptive")
    print("library:", [float(w[0, 0]) for w in run.weights])


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
