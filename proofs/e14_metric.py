r"""E14 — the metric of the end-to-end dynamics: minimum-norm lift and gradient flow.

Statement (THEORY.md E14)
-------------------------
Let ``W = W_N ... W_1`` come from balanced factors and have full rank ``min(m, n)``.  Moving ``W``
by ``Z`` to first order costs at least

    min { sum_j ||dW_j||_F^2 :  sum_j W_{N:j+1} dW_j W_{j-1:1} = Z }  =  tr(Z^T A_{N,W}^{-1}(Z))
                                                                  =  sum_ij (U^T Z V)_ij^2 / a_N(sigma_i, sigma_j),

(the metric ``g^N_W(Z, Z)`` is the one for which the factor space submerses onto the end-to-end
matrices), and E3, ``dW/dt = -A_{N,W}(G)``, is the gradient flow of ``l`` for ``g^N``:
``g^N_W(A_{N,W}(G), X) = <G, X>`` for every ``X``.

Scope.  Balanced factors ``W_j = Q_j Sigma_j Q_{j-1}^T`` with ``Sigma_j = diag(s)`` (padded to the
shape of ``W_j``), so ``W = Q_N diag(s^N) Q_0^T`` (the construction of page E3).  2x2 with
symbolic Cayley rotations ``Q_j`` (every rotation but a half-turn), symbolic ``s`` and ``Z``,
``N = 2, 3``; 3x2 with hidden width 2, ``N = 2``, at exact rational rotations (seeded), symbolic
``s`` and ``Z``; quick: 2x2 ``N = 2`` at rational rotations.  S1 holds for arbitrary (not
balanced) factors and is checked at rectangular sizes with free symbols.  The tie-ins T1-T3 also
run at balanced factors with exact rational rotations (tie-in only, the exact value from the
solve over QQ): 2x3 N = 4 (wide, hidden widths 2), 3x2 N = 2 (tall) and 2x2 N = 4, with the
bilinear form ``g(Z, Y)`` at ``Y != Z`` (``= <A^{-1}(Z), Y>``).  Not covered:
rank-deficient ``W`` (the metric is infinite off the rank stratum), ``N = inf`` (no
factorization; ``geometry.metric(..., inf)`` is the limit ``lim N g^N`` and is not tied in here).

Steps
-----
S1  ``J^*(Y)_j = W_{N:j+1}^T Y W_{j-1:1}^T`` (the E1 map) is the adjoint of the first-order map
    ``J(dW) = sum_j W_{N:j+1} dW_j W_{j-1:1}``: ``sum_j <J^*(Y)_j, R_j> = <Y, J(R)>`` for all ``R, Y``
    and all factors.  Hence every lift ``dW = J^*(Y) + R`` (``J(R) = 0``) of ``Z = J J^*(Y)`` has
    ``||dW||^2 = ||J^*(Y)||^2 + ||R||^2``: the minimum-norm lift is ``J^*(Y)``.
S2  At balanced factors ``J J^* = A_{N,W}`` (``A`` the E3 sum of explicit powers).
S3  Writing ``Y = U Yt V^T`` (``Yt`` free) and ``Z = U (a_N o Yt) V^T`` -- that is, ``Y = A^{-1}(Z)``
    with the ``1/a_N`` multipliers of E5inv, as ``a_N > 0`` at full rank -- ``J J^*(Y) = Z`` and
    ``sum_j ||J^*(Y)_j||^2 = sum_ij (U^T Z V)_ij^2 / a_N``: the minimum is ``tr(Z^T A^{-1}(Z))``.
S4  ``g(A(G), X) = <G, X>`` for all ``G, X``, with ``g(X, Y) = sum_ij (U^T X V)_ij (U^T Y V)_ij / a_N``:
    ``A(G)`` is the Riemannian gradient, E3 its gradient flow.
T1  library: ``geometry.metric(W, Z, N)`` equals the minimum-lift value computed without
    multipliers (exact linear solve of ``J J^*(Y) = Z`` over QQ); ``rescaled=True`` is ``N`` times it;
    the bilinear form ``geometry.metric(W, Z, N, Y2)`` equals ``<Y, Y2>`` (``Y = A^{-1}(Z)``), both orders.
T2  library: ``geometry.minimum_norm_lift`` returns the exact minimiser ``J^*(Y)`` (``N`` factors).
T3  library: ``dynamics.end_to_end_operator_inverse(W, Z, N)`` equals the exact ``Y`` (square ``W``).
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu import dynamics
from dmf_edu.dynamics import geometry
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula
from dmf_edu.proofs.e03_end_to_end_dynamics import balanced_case, end_to_end_operator_formula
from dmf_edu.proofs.e04_depth_multipliers import multiplier
from dmf_edu.proofs.symbolic import (Page, Planted, chain_product, field_matrix, function_field, identity_like, random_rational_point, symbol_matrix, symbolic_weights, to_float_array)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E14", title="metric g^N: min-norm lift, E3 = gradient flow",
    statement="min over lifts of sum ||dW_j||^2 = tr(Z^T A_{N,W}^{-1} Z) = sum (U^T Z V)^2/a_N at balanced "
              "factors; g(A(G), X) = <G, X>, so E3 is the gradient flow of l for g^N",
    method="exact (rational-function field) + exact solve over QQ",
    steps={
        "S1": "J^* is the adjoint of J (any factors), so J^*(Y) is the minimum-norm lift (Pythagoras)",
        "S2": "J J^* = A_{N,W} at balanced factors (A from the E3 sum)",
        "S3": "Y = A^{-1}(Z) (1/a_N): J J^*(Y) = Z and sum ||J^*(Y)_j||^2 = sum (U^T Z V)^2/a_N",
        "S4": "g(A(G), X) = <G, X>: A(G) is the Riemannian gradient, E3 the gradient flow",
        "T1": "library: geometry.metric = exact minimum-lift value (and rescaled = N times it)",
        "T2": "library: geometry.minimum_norm_lift = exact minimiser J^*(Y)",
        "T3": "library: dynamics.end_to_end_operator_inverse = exact Y",
    })


# --------------------------------------------------------------------------- construction
#
# Shared with other pages: the E1 map (``layer_gradient_formula``, page E1) is ``J^*``; the E3 sum
# ``end_to_end_operator_formula`` and the balanced factors ``balanced_case`` (page E3:
# ``W_j = Q_j diag(s) Q_{j-1}^T`` over the field ``QQ(rotation params, s, g)``, ``W = Q_N diag(s^N) Q_0^T``,
# ``D_out, D_in = diag(s^2)`` padded); the multiplier ``a_N`` as a finite sum in ``s`` (page E4).

def push(weights, R):
    """``J(R) = sum_j W_{N:j+1} R_j W_{j-1:1}`` (first-order change of ``W_N ... W_1``)."""
    m, n = weights[-1].shape[0], weights[0].shape[1]
    terms = [chain_product(weights[j + 1:], identity_like(R[0], m)) * R[j]
             * chain_product(weights[:j], identity_like(R[0], n)) for j in range(len(weights))]
    return sum(terms[1:], terms[0])


def in_basis(U, V, X):
    """``U^T X V`` as a list of rows of field elements."""
    return (U.transpose() * X * V).to_list()


def metric_formula(U, V, s, N, X, Y, mult=multiplier):
    """``g(X, Y) = sum_ij (U^T X V)_ij (U^T Y V)_ij / a_N(s_i, s_j)`` (a field element)."""
    K, (m, n) = X.domain, X.shape
    pad = list(s) + [0] * (max(m, n) - len(s))
    x, y = in_basis(U, V, X), in_basis(U, V, Y)
    return sum((x[i][j] * y[i][j] / K.from_sympy(mult(pad[i], pad[j], N)) for i in range(m) for j in range(n)), K.zero)


def scaled(Yt, s, N, mult=multiplier):
    """``a_N o Yt`` (entry ``(i, j)`` times ``a_N(s_i, s_j)``, ``s`` padded with zeros)."""
    K, (m, n) = Yt.domain, Yt.shape
    pad = list(s) + [0] * (max(m, n) - len(s))
    y = Yt.to_list()
    rows = [[y[i][j] * K.from_sympy(mult(pad[i], pad[j], N)) for j in range(n)] for i in range(m)]
    return DomainMatrix(rows, (m, n), K)


def inner(X, Y):
    """Frobenius ``<X, Y>`` of two ``DomainMatrix`` (a field element)."""
    return sum((a * b for ra, rb in zip(X.to_list(), Y.to_list()) for a, b in zip(ra, rb)), X.domain.zero)


def decide(proof, step, R, what):
    """``R`` (a ``DomainMatrix`` over a field) is the zero matrix: exact, as its arithmetic is canonical.

    A nonzero ``R`` is reported with a witness: its value at a rational point of the field's
    symbols (cheaper than factoring a large entry for the message).
    """
    if R.is_zero_matrix:
        proof.zero(step, R, what)
        return
    proof.zero(step, R.to_Matrix(), what, point=random_rational_point(R.domain.symbols, proof.rng))


def tie_settings(rng):
    """Extra balanced settings for the tie-ins only (rotations at a rational point): wide N = 4,
    tall N = 2, square N = 4."""
    return [balanced_case(2, 3, 4, "rational", rng), balanced_case(3, 2, 2, "rational", rng),
            balanced_case(2, 2, 4, "rational", rng)]


def settings(quick, rng):
    """The balanced settings of page E3 (quick: 2x2 N = 2 with rotations at a rational point)."""
    if quick:
        return [balanced_case(2, 2, 2, "rational", rng)]
    return [balanced_case(2, 2, 2), balanced_case(2, 2, 3), balanced_case(3, 2, 2, "rational", rng)]


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, operator=end_to_end_operator_formula, lift_map=layer_gradient_formula,
          mult=multiplier, gradient=end_to_end_operator_formula, metric=geometry.metric,
          min_lift=geometry.minimum_norm_lift, inverse=dynamics.end_to_end_operator_inverse):
    rng = proof.rng
    # S1 (any factors): adjointness <J^*(Y), R> = <Y, J(R)>, free symbols, rectangular
    for dims in ([2, 3], [3, 4, 2]) if quick else ([2, 3], [3, 4, 2], [2, 3, 1, 2]):
        weights = symbolic_weights(dims)
        R = symbolic_weights(dims, name="r")
        Y = symbol_matrix("y", dims[-1], dims[0])
        lhs = sum((sum(a * b for a, b in zip(L, Rj)) for L, Rj in zip(lift_map(weights, Y), R)), sp.Integer(0))
        rhs = sum(a * b for a, b in zip(Y, push(weights, R)))
        proof.zero("S1", lhs - rhs, f"d={tuple(dims)}: <J^*(Y), R> - <Y, J(R)>")
    proof.sizes("S1 (any factors) at d=(2,3), (3,4,2)" + ("" if quick else ", (2,3,1,2)"))
    cases = settings(quick, rng)
    for c in cases:
        name, weights, K, s, N = c["label"], c["weights"], c["K"], c["s"], len(c["weights"])
        U, V, Dm, Dn, Yt = c["Q"][-1], c["Q"][0], c["D_out"], c["D_in"], c["G"]
        # S2: J J^* = A (the E3 sum), Y free
        decide(proof, "S2", push(weights, lift_map(weights, Yt)) - operator(U, Dm, V, Dn, N, Yt),
               f"{name}: J J^*(Y) - A(Y)")
        # S3: Y = U Yt V^T with free Yt and Z = U (a_N o Yt) V^T, i.e. Y = A^{-1}(Z) (a_N != 0):
        #     J J^*(Y) = Z and the cost sum ||J^*(Y)_j||^2 = sum Zt^2 / a_N (no division by a_N needed)
        Y = U * Yt * V.transpose()
        Z = U * scaled(Yt, s, N, mult) * V.transpose()
        dW = lift_map(weights, Y)
        decide(proof, "S3", push(weights, dW) - Z, f"{name}: J J^*(A^-1 Z) - Z")
        cost = sum((inner(d, d) for d in dW), K.zero) - metric_formula(U, V, s, N, Z, Z, mult)
        decide(proof, "S3", DomainMatrix([[cost]], (1, 1), K), f"{name}: sum ||J^*(Y)_j||^2 - sum (U^T Z V)^2 / a_N")
        # S4: g(A(G), X) = <G, X> for free G (= Yt) and X
        Xs = symbol_matrix("x", *Yt.shape)
        K2 = function_field([*K.symbols, *Xs])
        X, G, U2, V2 = field_matrix(Xs, K2), Yt.convert_to(K2), U.convert_to(K2), V.convert_to(K2)
        A_G = gradient(U2, Dm.convert_to(K2), V2, Dn.convert_to(K2), N, G)
        residual = metric_formula(U2, V2, s, N, A_G, X, mult) - inner(G, X)
        decide(proof, "S4", DomainMatrix([[residual]], (1, 1), K2), f"{name}: g(A(G), X) - <G, X>")
        proof.sizes(name)
    extra = tie_settings(rng)
    proof.sizes("tie-ins also at " + ", ".join(c["label"] for c in extra))
    for c in cases + extra:              # T1-T3 at a rational point, exact over QQ without multipliers
        _tie_in(proof, c, metric, min_lift, inverse)
    proof.note("the tie-in values come from an exact solve of J J^*(Y) = Z over QQ: no multiplier enters, "
               "so a wrong multiplier shared by the library's operator and metric is still seen")


def _tie_in(proof, c, metric, min_lift, inverse):
    s = c["s"]
    pt = random_rational_point(c["symbols"], proof.rng)
    values = sorted((pt[x] for x in s), reverse=True)     # descending, as the library orders them
    pt.update(zip(s, values))
    QQ = sp.QQ
    weights = [field_matrix(w.to_Matrix().xreplace(pt), QQ) for w in c["weights"]]
    Z = field_matrix(c["G"].to_Matrix().xreplace(pt), QQ)
    m, n = Z.shape
    N, name = len(weights), c["label"]
    # the minimum-lift value without multipliers: solve J J^*(Y) = Z over QQ (vec(Y) row-major)
    cols = []
    for k in range(m * n):
        E = DomainMatrix([[QQ.one if i * n + j == k else QQ.zero for j in range(n)] for i in range(m)], (m, n), QQ)
        cols.append(sum(push(weights, layer_gradient_formula(weights, E)).to_list(), []))
    M = DomainMatrix([list(r) for r in zip(*cols)], (m * n, m * n), QQ)
    y = M.lu_solve(DomainMatrix([[e] for e in sum(Z.to_list(), [])], (m * n, 1), QQ)).to_list()
    Y = DomainMatrix([[y[i * n + j][0] for j in range(n)] for i in range(m)], (m, n), QQ)
    value = QQ.to_sympy(inner(Y, Z))                    # = sum ||J^*(Y)||^2 = <Y, J J^* Y>
    dW = layer_gradient_formula(weights, Y)
    W, Zf = to_float_array(chain_product(weights)), to_float_array(Z)
    proof.close("T1", metric(W, Zf, N), value, rtol=1e-10, what=f"geometry.metric {name}")
    proof.close("T1", metric(W, Zf, N, rescaled=True), N * value, rtol=1e-10, what=f"geometry.metric rescaled {name}")
    Y2 = field_matrix(sp.Matrix(m, n, lambda i, j: sp.Rational(int(proof.rng.integers(-9, 10)), 4)), QQ)
    cross = QQ.to_sympy(inner(Y, Y2))                   # g(Z, Y2) = <A^{-1}(Z), Y2>
    proof.close("T1", metric(W, Zf, N, to_float_array(Y2)), cross, rtol=1e-10, scale=abs(value),
                what=f"geometry.metric g(Z, Y) {name}")
    proof.close("T1", metric(W, to_float_array(Y2), N, Zf), cross, rtol=1e-10, scale=abs(value),
                what=f"geometry.metric g(Y, Z) {name}")
    numeric = min_lift([to_float_array(w) for w in weights], Zf)
    proof.count("T2", numeric, N, f"geometry.minimum_norm_lift {name}")
    for j, d in enumerate(dW):
        proof.close("T2", numeric[j], d, rtol=1e-9, what=f"geometry.minimum_norm_lift {name}, layer {j + 1}")
    if m == n:                                          # the inverse is defined for square W
        proof.close("T3", inverse(W, Zf, N), Y, rtol=1e-10, what=f"dynamics.end_to_end_operator_inverse {name}")


def _lift_mean(weights, Y):
    """Planted: ``J^*`` averaged over the layers (a factor ``1/N``)."""
    c = sp.Rational(1, len(weights))
    return [X * c if isinstance(X, sp.MatrixBase) else X.scalarmul(X.domain.convert(c))
            for X in layer_gradient_formula(weights, Y)]


def _operator_shifted(Q_out, D_out, Q_in, D_in, N, Z):
    """Planted: the E3 sum with exponents ``(N-j+1)/N`` on the left."""
    return Q_out * D_out * Q_out.transpose() * end_to_end_operator_formula(Q_out, D_out, Q_in, D_in, N, Z)


PLANTED = {
    "S1: J^* averaged over layers (1/N)": Planted("S1", lambda: dict(lift_map=_lift_mean)),
    "S2: A with exponents (N-j+1)/N": Planted("S2", lambda: dict(operator=_operator_shifted)),
    "S3: multiplier a_N^2": Planted("S3", lambda: dict(mult=lambda x, y, N: multiplier(x, y, N) ** 2)),
    "S4: Riemannian gradient = Euclidean gradient G": Planted("S4", lambda: dict(
        gradient=lambda Q_out, D_out, Q_in, D_in, N, G: G)),
    "library: metric x1.01": Planted("T1", lambda: dict(metric=lambda *a, **k: 1.01 * geometry.metric(*a, **k))),
    "library: metric g(Z, Y) = g(Z, Z) (second argument ignored)": Planted("T1", lambda: dict(
        metric=lambda W, Z, N, Y=None, **k: geometry.metric(W, Z, N, **k))),
    "library: metric of depth N + 1": Planted("T1", lambda: dict(
        metric=lambda W, Z, N, **k: geometry.metric(W, Z, N + 1, **k) * (N + 1) / N)),
    "library: minimum_norm_lift, last layer x1.01": Planted("T2", lambda: dict(
        min_lift=lambda ws, Z: [(1.01 if j == len(ws) - 1 else 1.0) * d
                                for j, d in enumerate(geometry.minimum_norm_lift(ws, Z))])),
    "library: inverse x1.01": Planted("T3", lambda: dict(
        inverse=lambda W, Z, N: 1.01 * dynamics.end_to_end_operator_inverse(W, Z, N))),
}


def worked_example():
    """N = 2, W = diag(2, 1) from W_1 = W_2 = diag(sqrt 2, 1): the cost of Z = E_12."""
    w = [np.diag([np.sqrt(2.0), 1.0])] * 2
    W = w[1] @ w[0]
    Z = np.array([[0.0, 1.0], [0.0, 0.0]])
    d = geometry.minimum_norm_lift(w, Z)
    print("W = diag(2, 1), N = 2, Z = E_12; a_2(2, 1) = 2 + 1 = 3")
    print("minimum-norm lift:", [x.round(4).tolist() for x in d])
    print("sum ||dW_j||^2 =", sum(float(np.sum(x * x)) for x in d),
          " metric g(Z, Z) =", float(geometry.metric(W, Z, 2)),
          " (1/3)")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
