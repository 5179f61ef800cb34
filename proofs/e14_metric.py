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
shape of ``W_j``), so ``W = Q_N diag(s^N) Q_0^T``.  2x2 with symbolic rotations ``Q_j = R(t_j)``,
symbolic ``s`` and ``Z`` (every rotation but the half-turn), ``N = 2, 3`` (quick: ``N = 2`` at rational
rotations, exact in ``s`` and ``Z``); 3x2 with
hidden width 2, ``N = 2``, at exact rational orthogonal ``Q_j`` (Cayley, seeded), symbolic ``s``
and ``Z`` (full run).  S1 holds for arbitrary (not balanced) factors and is checked at
rectangular sizes with free symbols.  Not covered: rank-deficient ``W`` (the metric is infinite
off the rank stratum), ``N = inf`` (no factorization; ``geometry.metric(..., inf)`` is the
limit ``lim N g^N`` and is not tied in here).

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
    multipliers (exact linear solve of ``J J^*(Y) = Z`` over QQ); ``rescaled=True`` is ``N`` times it.
T2  library: ``geometry.minimum_norm_lift`` returns the exact minimiser ``J^*(Y)``.
T3  library: ``dynamics.end_to_end_operator_inverse(W, Z, N)`` equals the exact ``Y``.
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu import dynamics, geometry
from dmf_edu.symbolic import (Page, Planted, cayley, chain_product, field_matrix, function_field, identity_like,
                              random_rational_point, rotation, run_page, symbol_matrix, symbolic_weights,
                              to_float_array)

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

def multiplier(x, y, N):
    r"""``a_N(sigma_i, sigma_j)`` of E4 in ``x = sigma_i^{1/N}``: ``sum_p x^{2(N-p)} y^{2(p-1)}`` (``0^0 = 1``)."""
    return sp.Add(*(x ** (2 * (N - p)) * y ** (2 * (p - 1)) for p in range(1, N + 1)))


def padded_diag(s, rows, cols):
    """``rows x cols`` matrix with ``s`` on the diagonal."""
    return sp.Matrix(rows, cols, lambda i, j: s[i] if i == j and i < len(s) else 0)


def balanced_factors(Q, s, dims, K):
    """``W_j = Q_j diag(s) Q_{j-1}^T`` (``DomainMatrix`` over ``K``), ``Q = [Q_0, ..., Q_N]``, ``dims = [d_0..d_N]``."""
    return [field_matrix(Q[j + 1] * padded_diag(s, dims[j + 1], dims[j]) * Q[j].T, K) for j in range(len(dims) - 1)]


def lift(weights, Y):
    """``J^*(Y) = [W_{N:j+1}^T Y W_{j-1:1}^T]_j`` (the E1 map)."""
    m, n = Y.shape
    return [chain_product(weights[j + 1:], identity_like(Y, m)).transpose() * Y
            * chain_product(weights[:j], identity_like(Y, n)).transpose() for j in range(len(weights))]


def push(weights, R):
    """``J(R) = sum_j W_{N:j+1} R_j W_{j-1:1}`` (first-order change of ``W_N ... W_1``)."""
    m, n = weights[-1].shape[0], weights[0].shape[1]
    terms = [chain_product(weights[j + 1:], identity_like(R[0], m)) * R[j]
             * chain_product(weights[:j], identity_like(R[0], n)) for j in range(len(weights))]
    return sum(terms[1:], terms[0])


def operator_sum(U, V, s, N, Z):
    r"""E3 with explicit powers: ``sum_j U D_m^{N-j} U^T Z V D_n^{j-1} V^T``, ``D = diag(s^2)`` padded (``0^0 = 1``)."""
    K, (m, n) = Z.domain, Z.shape

    def power(Q, size, k):
        return Q * field_matrix(sp.diag(*[x ** (2 * k) for x in list(s) + [0] * (size - len(s))]), K) * Q.transpose()

    return sum((power(U, m, N - j) * Z * power(V, n, j - 1) for j in range(2, N + 1)), power(U, m, N - 1) * Z)


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
    return DomainMatrix([[y[i][j] * K.from_sympy(mult(pad[i], pad[j], N)) for j in range(n)] for i in range(m)], (m, n), K)


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


def rational_orthogonal(d, rng):
    """Exact rational orthogonal ``d x d`` matrix (:func:`cayley` at random rationals)."""
    return cayley([sp.Rational(int(rng.integers(-5, 6)), int(rng.integers(1, 5))) for _ in range(d * (d - 1) // 2)], d)


def settings(quick, rng):
    """The symbolic settings: ``(name, dims, Q, s, Z, K, N)`` (quick: 2x2 N = 2 at rational rotations)."""
    out = []
    s = sp.symbols("s1 s2", positive=True)
    Z = symbol_matrix("z", 2, 2)
    if quick:
        Q = [rotation(sp.Rational(int(rng.integers(-5, 6)), int(rng.integers(1, 5)))) for _ in range(3)]
        return [("2x2 N=2 (rational rotations)", [2, 2, 2], Q, s, Z, function_field([*s, *Z]), 2)]
    for N in (2, 3):
        t = sp.symbols(f"t0:{N + 1}", real=True)
        out.append((f"2x2 N={N}", [2] * (N + 1), [rotation(x) for x in t], s, Z, function_field([*t, *s, *Z]), N))
    Z = symbol_matrix("z", 3, 2)
    Q = [rational_orthogonal(2, rng), rational_orthogonal(2, rng), rational_orthogonal(3, rng)]
    out.append(("3x2 N=2 (width 2)", [2, 2, 3], Q, s, Z, function_field([*s, *Z]), 2))
    return out


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, operator=operator_sum, lift_map=lift, mult=multiplier, gradient=operator_sum,
          metric=geometry.metric, min_lift=geometry.minimum_norm_lift,
          inverse=dynamics.end_to_end_operator_inverse):
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
    for name, dims, Q, s, Zs, K, N in settings(quick, rng):
        weights = balanced_factors(Q, s, dims, K)
        U, V, Y = field_matrix(Q[-1], K), field_matrix(Q[0], K), field_matrix(Zs, K)
        # S2: J J^* = A (the E3 sum), Y free
        decide(proof, "S2", push(weights, lift_map(weights, Y)) - operator(U, V, s, N, Y), f"{name}: J J^*(Y) - A(Y)")
        # S3: Y = U Yt V^T with free Yt and Z = U (a_N o Yt) V^T, i.e. Y = A^{-1}(Z) (a_N != 0):
        #     J J^*(Y) = Z and the cost sum ||J^*(Y)_j||^2 = sum Zt^2 / a_N (no division by a_N needed)
        Yt = field_matrix(Zs, K)
        Y = U * Yt * V.transpose()
        Z = U * scaled(Yt, s, N, mult) * V.transpose()
        dW = lift_map(weights, Y)
        decide(proof, "S3", push(weights, dW) - Z, f"{name}: J J^*(A^-1 Z) - Z")
        cost = sum((inner(d, d) for d in dW), K.zero) - metric_formula(U, V, s, N, Z, Z, mult)
        decide(proof, "S3", DomainMatrix([[cost]], (1, 1), K), f"{name}: sum ||J^*(Y)_j||^2 - sum (U^T Z V)^2 / a_N")
        # S4: g(A(G), X) = <G, X> for free G and X
        Xs = symbol_matrix("x", *Zs.shape)
        K2 = function_field([*K.symbols, *Xs])
        X, G, U2, V2 = field_matrix(Xs, K2), Yt.convert_to(K2), U.convert_to(K2), V.convert_to(K2)
        residual = metric_formula(U2, V2, s, N, gradient(U2, V2, s, N, G), X, mult) - inner(G, X)
        decide(proof, "S4", DomainMatrix([[residual]], (1, 1), K2), f"{name}: g(A(G), X) - <G, X>")
        proof.sizes(name)
        # T1-T3 at a rational point of this setting, exact over QQ without multipliers
        _tie_in(proof, name, dims, Q, s, Zs, N, metric, min_lift, inverse)
    proof.note("the tie-in values come from an exact solve of J J^*(Y) = Z over QQ: no multiplier enters, "
               "so a wrong multiplier shared by the library's operator and metric is still seen")


def _tie_in(proof, name, dims, Q, s, Zs, N, metric, min_lift, inverse):
    free = set().union(*(q.free_symbols for q in Q), s, Zs.free_symbols)
    pt = random_rational_point(free, proof.rng)
    if pt[s[0]] < pt[s[1]]:
        pt[s[0]], pt[s[1]] = pt[s[1]], pt[s[0]]
    QQ = sp.QQ
    Qp = [q.xreplace(pt) for q in Q]
    weights = balanced_factors(Qp, [x.xreplace(pt) for x in s], dims, QQ)
    Z = field_matrix(Zs.xreplace(pt), QQ)
    m, n = Z.shape
    # the minimum-lift value without multipliers: solve J J^*(Y) = Z over QQ, column by column of vec
    cols = []
    for k in range(m * n):
        E = DomainMatrix([[QQ.one if i * n + j == k else QQ.zero for j in range(n)] for i in range(m)], (m, n), QQ)
        cols.append(sum(push(weights, lift(weights, E)).to_list(), []))
    M = DomainMatrix([list(r) for r in zip(*cols)], (m * n, m * n), QQ)
    y = M.lu_solve(DomainMatrix([[e] for e in sum(Z.to_list(), [])], (m * n, 1), QQ))
    Y = DomainMatrix([[y.to_list()[i * n + j][0] for j in range(n)] for i in range(m)], (m, n), QQ)
    value = QQ.to_sympy(inner(Y, Z))                    # = sum ||J^*(Y)||^2 = <Y, J J^* Y>
    dW = lift(weights, Y)
    W, Zf = to_float_array(chain_product(weights)), to_float_array(Z)
    proof.close("T1", metric(W, Zf, N), value, rtol=1e-10, what=f"geometry.metric {name}")
    proof.close("T1", metric(W, Zf, N, rescaled=True), N * value, rtol=1e-10, what=f"geometry.metric rescaled {name}")
    numeric = min_lift([to_float_array(w) for w in weights], Zf)
    for j, d in enumerate(dW):
        proof.close("T2", numeric[j], d, rtol=1e-9, what=f"geometry.minimum_norm_lift {name}, layer {j + 1}")
    proof.close("T3", inverse(W, Zf, N), Y, rtol=1e-10, what=f"dynamics.end_to_end_operator_inverse {name}")


def _lift_mean(weights, Y):
    return [X * sp.Rational(1, len(weights)) if isinstance(X, sp.MatrixBase) else X.scalarmul(X.domain.convert(
        sp.Rational(1, len(weights)))) for X in lift(weights, Y)]


def _operator_shifted(U, V, s, N, Z):
    """E3 sum with exponents (N-j+1)/N on the left: a wrong A."""
    K, (m, n) = Z.domain, Z.shape
    D = field_matrix(sp.diag(*[x ** 2 for x in list(s) + [0] * (m - len(s))]), K)
    return U * D * U.transpose() * operator_sum(U, V, s, N, Z)


PLANTED = {
    "S1: J^* averaged over layers (1/N)": Planted("S1", lambda: dict(lift_map=_lift_mean)),
    "S2: A with exponents (N-j+1)/N": Planted("S2", lambda: dict(operator=_operator_shifted)),
    "S3: multiplier a_N^2": Planted("S3", lambda: dict(mult=lambda x, y, N: multiplier(x, y, N) ** 2)),
    "S4: Riemannian gradient = Euclidean gradient G": Planted("S4", lambda: dict(gradient=lambda U, V, s, N, G: G)),
    "library: metric x1.01": Planted("T1", lambda: dict(metric=lambda *a, **k: 1.01 * geometry.metric(*a, **k))),
    "library: metric of depth N + 1": Planted("T1", lambda: dict(
        metric=lambda W, Z, N, **k: geometry.metric(W, Z, N + 1, **k) * (N + 1) / N)),
    "library: minimum_norm_lift, last layer x1.01": Planted("T2", lambda: dict(
        min_lift=lambda ws, Z: geometry.minimum_norm_lift(ws, Z)[:-1] + [1.01 * geometry.minimum_norm_lift(ws, Z)[-1]])),
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
    print("sum ||dW_j||^2 =", sum(float(np.sum(x * x)) for x in d), " metric g(Z, Z) =", float(geometry.metric(W, Z, 2)),
          " (1/3)")


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
