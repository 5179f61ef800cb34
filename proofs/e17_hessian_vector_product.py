r"""E17hvp — the hand-written Hessian-vector product of ``phi(W_1..W_N) = l(W_N ... W_1)``.

Statement (E17 needs second-order information; the formula is the one documented in
``dmf_edu.landscape.hessian_vector_product``)
------------------------------------------------------------------------------------------
For a quadratic loss ``l(W) = c_l sum_k (<A_k, W> - y_k)^2`` (matrix sensing; completion is
``A_k = E_ij``), with ``G = grad l(W) = c_g sum_k r_k A_k`` and ``H_l[Z] = c_g sum_k <A_k, Z> A_k``
(``c_l, c_g = 1/2, 1`` for the sum, ``1/K, 2/K`` for the mean), the Hessian of ``phi`` applied to
``V = [V_1..V_N]`` is obtained by differentiating the E1 pass along ``W_j + t V_j``:

    forward   P_j = W_j P_{j-1} (P_0 = I),       dP_j = V_j P_{j-1} + W_j dP_{j-1},   dW = dP_N;
    backward  B_N = G, dB_N = H_l[dW],           B_{j-1} = W_j^T B_j,   dB_{j-1} = V_j^T B_j + W_j^T dB_j;
    result    (Hess phi . V)_j = dB_j P_{j-1}^T + B_j dP_{j-1}^T .

Scope.  Exact polynomial identities in free symbols (factors, directions, targets, measurement
matrices).  S1 at ``d = (2,3,2)``, ``(2,3,2,3)``; S2 for completion (a fixed rectangular mask) and
sensing (two symbolic ``A_k``), both reductions; S3 against ``sympy.hessian`` of ``phi`` at depth 2
(``d = (2,3,2)``) and depth 3 (``d = (2,3,2,3)``), completion with symbolic targets, plus sensing
with one symbolic ``A`` at depth 2 (quick: completion at ``d = (2,3,2)`` and ``(1,2,2,3)``; the
sensing Hessian of ``l`` is still checked in S2).  Not covered: non-quadratic losses (the
recursion uses only ``G`` and ``H_l``, but only these losses are checked), batched factors.

Steps
-----
S1  forward tangent: ``dP_N = d/dt (W_N + tV_N) ... (W_1 + tV_1)`` at ``t = 0``.
S2  ``H_l[Z] = c_g sum_k <A_k, Z> A_k`` equals ``sympy.hessian`` of ``l`` applied to ``Z``.
S3  the recursion equals ``sympy.hessian(phi)`` applied to ``vec(V)``, layer by layer.
T1  library: ``landscape.hessian_vector_product(problem, weights, V)`` equals the exact Hessian
    applied to ``V`` at rational points (completion sum and mean; sensing in the full run); and,
    at square, tall and wide W and sensing with the mean loss (quick mode too), equals
    ``d/dt`` of E1's exact gradient at ``W_j + t V_j`` (a polynomial in ``t``).
"""

import numpy as np
import sympy as sp

from dmf_edu.landscape import hessian as landscape
from dmf_edu.problems import MatrixCompletion, MatrixSensing
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula
from dmf_edu.proofs.symbolic import (Page, Planted, at_point, chain_product, random_rational_point, rational_matrix,
                                     rational_weights, symbol_matrix, symbolic_weights, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E17hvp", title="Hessian-vector product of phi (tangent of E1)",
    statement="the forward/backward tangent recursion gives (Hess phi) V for phi = l(W_N...W_1), l quadratic "
              "(completion, sensing; sum and mean)",
    method="exact expansion (sympy.hessian)",
    steps={
        "S1": "forward tangent dP_N = d/dt (W_N + tV_N)...(W_1 + tV_1) at 0",
        "S2": "H_l[Z] = c_g sum_k <A_k, Z> A_k = sympy.hessian(l) . vec(Z)",
        "S3": "the recursion = sympy.hessian(phi) . vec(V), depths 2 and 3",
        "T1": "library: landscape.hessian_vector_product = exact Hessian . V at rational points",
    })

MASK = ((0, 0), (0, 1), (1, 1), (2, 0))          # observed entries of a 3x2 (or 2x2 / 2x1 ...) W


# --------------------------------------------------------------------------- construction

def forward_tangent(weights, V):
    """``[dP_1, ..., dP_N]`` with ``dP_1 = V_1``, ``dP_j = V_j P_{j-1} + W_j dP_{j-1}``."""
    P, dP = [weights[0]], [V[0]]
    for j in range(1, len(weights)):
        dP.append(V[j] * P[-1] + weights[j] * dP[-1])
        P.append(weights[j] * P[-1])
    return P, dP


def hvp_formula(weights, G, V, hess_apply, tangent=forward_tangent):
    """The recursion of the statement: ``[(Hess phi . V)_1, ..., (Hess phi . V)_N]``."""
    N = len(weights)
    P, dP = tangent(weights, V)
    B, dB = G, hess_apply(dP[-1])
    out = [None] * N
    for j in range(N - 1, -1, -1):                   # 0-based j is W_{j+1}
        if j == 0:
            out[0] = dB
        else:
            out[j] = dB * P[j - 1].T + B * dP[j - 1].T
            dB = V[j].T * B + weights[j].T * dB
            B = weights[j].T * B
    return out


def measurements_completion(shape, mask=MASK):
    """Completion as sensing: ``A_k = E_ij`` for the observed ``(i, j)`` inside ``shape``."""
    m, n = shape
    return [sp.Matrix(m, n, lambda a, b: 1 if (a, b) == (i, j) else 0) for i, j in mask if i < m and j < n]


def loss(W, A, y, c_loss):
    """``c_l sum_k (<A_k, W> - y_k)^2``."""
    return c_loss * sp.Add(*((sum(a * w for a, w in zip(Ak, W)) - yk) ** 2 for Ak, yk in zip(A, y)))


def loss_gradient(W, A, y, c_grad):
    """``G = c_g sum_k (<A_k, W> - y_k) A_k``."""
    return sum(((sum(a * w for a, w in zip(Ak, W)) - yk) * c_grad * Ak for Ak, yk in zip(A, y)), sp.zeros(*W.shape))


def loss_hessian(A, c_grad):
    """Claimed S2: ``Z -> c_g sum_k <A_k, Z> A_k``."""
    return lambda Z: sum((c_grad * sum(a * z for a, z in zip(Ak, Z)) * Ak for Ak in A), sp.zeros(*Z.shape))


def reduction(name, K):
    """``(c_l, c_g)`` for ``"sum"`` and ``"mean"`` over ``K`` measurements."""
    return (sp.Rational(1, 2), sp.Integer(1)) if name == "sum" else (sp.Rational(1, K), sp.Rational(2, K))


def hessian_times(f, variables, V):
    """``sympy.hessian(f, variables) * vec(V)``, as a list of values in the order of ``variables``."""
    H = sp.hessian(f, variables)
    return list(H * sp.Matrix(V))


# --------------------------------------------------------------------------- the proof

def _flat(ms):
    return [e for M in ms for e in M]


def prove(proof, quick=False, tangent=forward_tangent, hess=loss_hessian, hvp=hvp_formula,
          library=landscape.hessian_vector_product):
    # S1: the forward tangent
    t = sp.Symbol("t")
    for dims in ([2, 3, 2], [2, 3, 2, 3]):
        ws, V = symbolic_weights(dims), symbolic_weights(dims, name="v")
        moved = chain_product([w + t * v for w, v in zip(ws, V)])
        proof.zero("S1", moved.diff(t).xreplace({t: 0}) - tangent(ws, V)[1][-1], f"d={tuple(dims)}: dP_N")
    # S2: the Hessian of the loss, completion and sensing, sum and mean
    W, Z = symbol_matrix("w", 3, 2), symbol_matrix("z", 3, 2)
    for kind, A in (("completion", measurements_completion((3, 2))),
                    ("sensing", [symbol_matrix("a", 3, 2), symbol_matrix("b", 3, 2)])):
        y = sp.symbols(f"y1:{len(A) + 1}")
        for red in ("sum", "mean"):
            c_loss, c_grad = reduction(red, len(A))
            exact = hessian_times(loss(W, A, y, c_loss), list(W), list(Z))
            proof.zero("S2", sp.Matrix(exact) - sp.Matrix(list(hess(A, c_grad)(Z))), f"{kind} {red}: H_l[Z]")
    proof.sizes("S1 d=(2,3,2), (2,3,2,3); S2 3x2 completion and sensing, sum and mean")
    # S3: the recursion against sympy.hessian of phi
    cases = [([2, 3, 2], "completion"), ([1, 2, 2, 3], "completion")] if quick else [
        ([2, 3, 2], "completion"), ([2, 3, 2], "sensing"), ([2, 3, 2, 3], "completion")]
    exact_cache = []
    for dims, kind in cases:
        ws, V = symbolic_weights(dims), symbolic_weights(dims, name="v")
        Wp = chain_product(ws)
        A = measurements_completion(Wp.shape) if kind == "completion" else [symbol_matrix("a", *Wp.shape)]
        y = sp.symbols(f"y1:{len(A) + 1}")
        c_loss, c_grad = reduction("sum", len(A))
        phi = sp.expand(loss(Wp, A, y, c_loss))
        exact = hessian_times(phi, _flat(ws), _flat(V))
        claim = _flat(hvp(ws, loss_gradient(Wp, A, y, c_grad), V, hess(A, c_grad), tangent))
        proof.zero("S3", sp.Matrix(exact) - sp.Matrix(claim), f"N={len(ws)} d={tuple(dims)} {kind}: Hess(phi) V")
        proof.sizes(f"S3 N={len(ws)} d={tuple(dims)} {kind}")
        exact_cache.append((dims, kind, ws, V, A, y, exact))
    # T1: the library at rational points (completion also with the mean reduction)
    for dims, kind, ws, V, A, y, exact in exact_cache:
        free = set().union(*(w.free_symbols for w in ws + V + A), y)
        pt = random_rational_point(free, proof.rng)
        wn, vn = [at_point(w, pt) for w in ws], [at_point(v, pt) for v in V]
        yn = np.array([float(pt[s]) for s in y])
        m, n = dims[-1], dims[0]
        if kind == "completion":
            rows, cols = zip(*[(i, j) for i, j in MASK if i < m and j < n])
            for red in ("sum", "mean"):
                scale = 1 if red == "sum" else sp.Rational(2, len(A))
                problem = MatrixCompletion((m, n), np.array(rows), np.array(cols), yn, reduction=red)
                num = library(problem, wn, vn)
                proof.close("T1", np.concatenate([x.ravel() for x in num]),
                            [float(sp.N(scale * e.xreplace(pt), 30)) for e in exact], rtol=1e-10,
                            what=f"hessian_vector_product N={len(ws)} completion {red}")
        else:
            problem = MatrixSensing(np.array([at_point(a, pt) for a in A]), yn)
            num = library(problem, wn, vn)
            proof.close("T1", np.concatenate([x.ravel() for x in num]),
                        [float(sp.N(e.xreplace(pt), 30)) for e in exact],
                        rtol=1e-10, what=f"hessian_vector_product N={len(ws)} sensing")
    _tie_regimes(proof, library)
    proof.note("the mean reduction multiplies the Hessian of the sum loss by 2/K (c_g), checked in S2 and T1")


# T1 at the regimes the symbolic Hessian is too slow for: (dims, kind, reduction)
REGIME_CASES = [([2, 2, 2], "sensing", "mean"), ([3, 2, 2], "completion", "sum"), ([3, 1, 2, 2], "sensing", "sum"),
                ([2, 2, 3], "completion", "mean")]
REGIME_CASES_FULL = [([2, 3, 2, 3], "sensing", "mean"), ([4, 2, 3], "completion", "mean")]


def directional_hessian(ws, V, A, y, c_grad):
    """Exact ``(Hess phi) . V`` at rational factors: ``d/dt`` at ``t = 0`` of E1's gradient at
    ``W_j + t V_j`` (E1 proved on its page; a polynomial in the one symbol ``t``)."""
    t = sp.Symbol("t")
    moved = [w + t * v for w, v in zip(ws, V)]
    grads = layer_gradient_formula(moved, loss_gradient(chain_product(moved), A, y, c_grad))
    return [g.diff(t).xreplace({t: 0}) for g in grads]


def _tie_regimes(proof, library):
    """T1 at square and wide W and sensing with the mean loss (exact rational points)."""
    for dims, kind, red in REGIME_CASES + ([] if proof.quick else REGIME_CASES_FULL):
        m, n = dims[-1], dims[0]
        ws, V = rational_weights(dims, proof.rng), rational_weights(dims, proof.rng)
        A = measurements_completion((m, n)) if kind == "completion" else [rational_matrix(m, n, proof.rng)
                                                                          for _ in range(2)]
        y = [sp.Rational(int(proof.rng.integers(-9, 10)), int(proof.rng.integers(1, 6))) for _ in A]
        yn = np.array([float(v) for v in y])
        if kind == "completion":
            rows, cols = zip(*[(i, j) for i, j in MASK if i < m and j < n])
            problem = MatrixCompletion((m, n), np.array(rows), np.array(cols), yn, reduction=red)
        else:
            problem = MatrixSensing(np.array([to_float_array(a) for a in A]), yn, reduction=red)
        exact = directional_hessian(ws, V, A, y, reduction(red, len(A))[1])
        num = library(problem, [to_float_array(w) for w in ws], [to_float_array(v) for v in V])
        for j, e in enumerate(exact):
            proof.close("T1", num[j], e, rtol=1e-10, what=f"hessian_vector_product d={tuple(dims)} {kind} {red}, "
                        f"layer {j + 1}")
    proof.sizes("T1 " + "; ".join(f"d={tuple(d)} {k} {r}" for d, k, r in REGIME_CASES))


def _gauss_newton_only(weights, G, V, hess_apply, tangent=forward_tangent):
    """Planted: drop the curvature of the product (keep only J^* H_l J V)."""
    return hvp_formula(weights, G * 0, V, hess_apply, tangent)


def _no_transport_of_B(weights, G, V, hess_apply, tangent=forward_tangent):
    """Planted: the backward tangent without ``V_j^T B_j`` (``dB_{j-1} = W_j^T dB_j``)."""
    P, dP = tangent(weights, V)
    B, dB = G, hess_apply(dP[-1])
    out = [None] * len(weights)
    for j in range(len(weights) - 1, 0, -1):
        out[j] = dB * P[j - 1].T + B * dP[j - 1].T
        dB, B = weights[j].T * dB, weights[j].T * B
    out[0] = dB
    return out


PLANTED = {
    "S1: dP_j = V_j P_{j-1} (W_j dP_{j-1} dropped)": Planted("S1", lambda: dict(
        tangent=lambda ws, V: (forward_tangent(ws, V)[0], [V[0]] + [V[j] * chain_product(ws[:j])
                                                               for j in range(1, len(ws))]))),
    "S2: mean reduction with c_g = 1/K": Planted("S2", lambda: dict(
        hess=lambda A, c: loss_hessian(A, c / 2 if c != 1 else c))),
    "S3: Gauss-Newton part only": Planted("S3", lambda: dict(hvp=_gauss_newton_only)),
    "S3: V_j^T B_j term forgotten": Planted("S3", lambda: dict(hvp=_no_transport_of_B)),
    "library: x1.01": Planted("T1", lambda: dict(
        library=lambda p, ws, V: [1.01 * x for x in landscape.hessian_vector_product(p, ws, V)])),
    "library: first direction doubled": Planted("T1", lambda: dict(
        library=lambda p, ws, V: landscape.hessian_vector_product(p, ws, [2 * V[0]] + list(V[1:])))),
}


def worked_example():
    """Depth 2, 1x1 factors, l = (w2 w1 - y)^2 / 2: the 2x2 Hessian and the recursion."""
    w1, w2, v1, v2, y = sp.symbols("w1 w2 v1 v2 y")
    phi = (w2 * w1 - y) ** 2 / 2
    H = sp.hessian(phi, [w1, w2])
    print("Hessian of (w2 w1 - y)^2/2:", H.tolist())
    ws, V = [sp.Matrix([[w1]]), sp.Matrix([[w2]])], [sp.Matrix([[v1]]), sp.Matrix([[v2]])]
    out = hvp_formula(ws, sp.Matrix([[w2 * w1 - y]]), V, lambda Z: Z)
    print("recursion:", [sp.expand(o[0]) for o in out])
    print("Hessian . V:", [sp.expand(e) for e in H * sp.Matrix([v1, v2])])


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
