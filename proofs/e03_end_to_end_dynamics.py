r"""E3 — from balanced factors, the end-to-end matrix follows ``dW/dt = -A_{N,W}(G)``.

Statement (THEORY.md E3)
------------------------
If the factors are balanced (E2: ``W_{j+1}^T W_{j+1} = W_j W_j^T``) and follow the gradient flow
``dW_j/dt = -dphi/dW_j`` (E1), then ``W = W_N ... W_1`` moves by ``dW/dt = -A_{N,W}(G)`` with

    A_{N,W}(Z) = sum_{j=1}^{N} (W W^T)^{(N-j)/N}  Z  (W^T W)^{(j-1)/N} .

Construction (fractional powers through a parametrisation, so that every power is explicit).  Balanced factors are
built from an SVD: ``W_j = Q_j Sigma_j Q_{j-1}^T`` with rational rotations ``Q_j`` (Cayley
transforms) and diagonal ``Sigma_j`` holding ``s_r = sigma_r^{1/N}``: for ``W`` of size
``m x n``, rank ``k = min(m, n)``, the hidden widths are ``k``, ``Sigma_1`` is ``k x n``,
``Sigma_N`` is ``m x k``, the others ``k x k``.  Then ``(W W^T)^{1/N} = Q_N D_out Q_N^T`` with
``D_out = diag(s^2, 0)`` (``m x m``) and ``(W^T W)^{1/N} = Q_0 D_in Q_0^T`` (``n x n``), and every
power is explicit (``D^0 = I``: on a rectangular ``W`` the ``j = 1`` and ``j = N`` terms carry the
complement of the row/column space).  ``G`` is a matrix of free symbols.

Scope: exact identities over the field ``QQ(rotation parameters, s, g)``, i.e. for every
rotation, every ``s > 0`` and every ``G``, at the sizes 2x2 (N = 2; full run also N = 3, 4)
and 3x2 (N = 2, full run).  At 3x3 (N = 2; full run also N = 3), 3x2 N = 3, 2x3 N = 4 (wide; full
run also 2x3 N = 2 and 2x2 N = 5) the rotations are exact rational rotations at a random point and
the identity is exact in ``s`` and ``G`` only: a fully symbolic 3x3 costs about a minute, over the time
budget.  Full rank (``s > 0``);
the rank-deficient case and unbalanced initialisations are not covered.

Steps
-----
S1  The parametrisation is balanced: ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T = 0``.
S2  Its powers are the PSD powers: ``W W^T = Q_N D_out^N Q_N^T`` and ``W^T W = Q_0 D_in^N Q_0^T``
    (``D`` diagonal, nonnegative), so ``Q D^k Q^T`` is ``(.)^{k/N}``.
S3  The pushforward of the factor flow, ``sum_j W_{N:j+1} (-dphi/dW_j) W_{j-1:1}`` with E1's
    gradients, plus ``A_{N,W}(G)`` is the zero matrix.
T1  Library: ``dynamics.end_to_end_operator(W, G, N)`` equals the exact ``A_{N,W}(G)`` at rational points.
T2  Library: ``dynamics.induced_velocity(weights, G)`` equals the exact pushforward at rational points.
"""

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from dmf_edu import dynamics, factorization
from dmf_edu.proofs.e01_layer_gradients import layer_gradient_formula
from dmf_edu.proofs.symbolic import (Page, Planted, at_point, cayley, chain_product, field_matrix, function_field, identity_like, orthogonal, random_rational_point)
from dmf_edu.proofs.runner import run_page

PAGE = Page(
    label="E3", title="balanced factor flow = -A_{N,W}(G)",
    statement="if W_j = Q_j Sigma_j Q_{j-1}^T (balanced), sum_j W_{N:j+1} (dW_j/dt) W_{j-1:1} = "
              "-sum_j (WW^T)^{(N-j)/N} G (W^T W)^{(j-1)/N}",
    method="exact (rational-function field)",
    steps={"S1": "the SVD parametrisation W_j = Q_j Sigma_j Q_{j-1}^T is balanced (D_j = 0)",
           "S2": "W W^T = Q_N D_out^N Q_N^T, W^T W = Q_0 D_in^N Q_0^T (the powers are the PSD powers)",
           "S3": "pushforward of the E1 factor flow + A_{N,W}(G) = 0",
           "T1": "library: dynamics.end_to_end_operator equals A_{N,W}(G) at rational points",
           "T2": "library: dynamics.induced_velocity equals the exact pushforward at rational points"})

# (m, n, N, frames); the cheap rational-frame cases first, so a wrong variant is rejected fast
# (2, 3, 4): wide W at N >= 4, where the j = 1 term carries the complement of W's row space
QUICK = [(3, 3, 2, "rational"), (2, 3, 4, "rational"), (3, 2, 3, "rational"), (2, 2, 2, "symbolic")]
FULL = [(3, 3, 2, "rational"), (3, 3, 3, "rational"), (3, 2, 3, "rational"), (2, 3, 4, "rational"),
        (2, 3, 2, "rational"), (2, 2, 5, "rational"), (2, 2, 2, "symbolic"), (2, 2, 3, "symbolic"),
        (2, 2, 4, "symbolic"), (3, 2, 2, "symbolic")]


# --------------------------------------------------------------------------- the formula

def psd_power(Q, D, k):
    """``Q D^k Q^T`` (``D^0 = I``): the ``k/N``-th power of ``Q D^N Q^T`` for ``D`` diagonal >= 0."""
    return Q * (D ** k if k else identity_like(D, D.shape[0])) * Q.transpose()


def end_to_end_operator_formula(Q_out, D_out, Q_in, D_in, N, Z, power=psd_power):
    r"""E3: :math:`A_{N,W}(Z) = \sum_{j=1}^N (WW^\top)^{(N-j)/N} Z (W^\top W)^{(j-1)/N}` for
    ``(WW^T)^{1/N} = Q_out D_out Q_out^T`` (``m x m``) and ``(W^T W)^{1/N} = Q_in D_in Q_in^T`` (``n x n``)."""
    terms = [power(Q_out, D_out, N - j) * Z * power(Q_in, D_in, j - 1) for j in range(1, N + 1)]
    return sum(terms[1:], terms[0])


def balanced_case(m, n, N, frames="symbolic", rng=None):
    """Balanced factors of an ``m x n`` rank-``min(m, n)`` ``W`` over the field ``QQ(params, s, g)``.

    ``frames="symbolic"``: Cayley rotations in free symbols; ``"rational"``: exact rotations at
    a random rational point (``rng``).  Returns a dict: ``weights`` (DomainMatrices), ``Q``
    (``Q_0..Q_N``), ``D_out``, ``D_in``, ``G``, ``K``, ``symbols``, ``s``, ``label``.
    """
    k = min(m, n)
    widths = [n] + [k] * (N - 1) + [m]
    if frames == "symbolic":
        params = [sp.symbols(f"q{j}_0:{d * (d - 1) // 2}", real=True) for j, d in enumerate(widths)]
    else:
        exact = [orthogonal(d, "q", rng)[0] for d in widths]
        params = [()] * len(widths)
    s = sp.symbols(f"s1:{k + 1}", positive=True)
    g = sp.symbols(f"g1:{m * n + 1}", real=True)
    symbols = [x for p in params for x in p] + list(s) + list(g)
    K = function_field(symbols)
    Q = [cayley(p, d, K) if frames == "symbolic" else field_matrix(exact[j], K)
         for j, (d, p) in enumerate(zip(widths, params))]
    roots = [field_matrix(sp.Matrix(widths[j + 1], widths[j], lambda a, b: s[a] if a == b else 0), K)
             for j in range(N)]
    weights = [Q[j + 1] * roots[j] * Q[j].transpose() for j in range(N)]
    diag = lambda size: field_matrix(sp.diag(*[s[r] ** 2 if r < k else 0 for r in range(size)]), K)  # noqa: E731
    return dict(weights=weights, Q=Q, D_out=diag(m), D_in=diag(n), G=field_matrix(sp.Matrix(m, n, g), K), K=K,
                symbols=symbols, s=s, label=f"{m}x{n} N={N}" + (" (rotations at a rational point)"
                                                                 if frames == "rational" else ""))


def singular_frames(m, n, frames="symbolic", seed=0, name="g"):
    """Full SVD frames of a rank-``min(m, n)`` ``m x n`` matrix over ``QQ(params, s, name)``.

    ``Q_out`` (``m x m``), ``Q_in`` (``n x n``): Cayley rotations in free symbols, or
    (``frames="rational"``) exact rotations drawn with ``numpy.random.default_rng(seed)``;
    ``s`` the positive symbols with ``(W W^T)^{1/N} = Q_out D_out Q_out^T``, ``D_out = diag(s^2, 0)``
    and ``D_in`` likewise; ``Z`` an ``m x n`` matrix of free symbols ``name1, name2, ...``.
    Returns a dict with these and ``K``, ``symbols``.
    """
    k = min(m, n)
    s = sp.symbols(f"s1:{k + 1}", positive=True)
    z = sp.symbols(f"{name}1:{m * n + 1}", real=True)
    if frames == "symbolic":
        a, b = sp.symbols(f"a0:{m * (m - 1) // 2}", real=True), sp.symbols(f"b0:{n * (n - 1) // 2}", real=True)
        symbols = [*a, *b, *s, *z]
        K = function_field(symbols)
        Q_out, Q_in = cayley(a, m, K), cayley(b, n, K)
    else:
        symbols = [*s, *z]
        K = function_field(symbols)
        rng = np.random.default_rng(seed)
        Q_out, Q_in = (field_matrix(orthogonal(d, "q", rng)[0], K) for d in (m, n))
    padded = lambda size: [s[r] ** 2 if r < k else 0 for r in range(size)]  # noqa: E731
    return dict(Q_out=Q_out, Q_in=Q_in, D_out=field_matrix(sp.diag(*padded(m)), K),
                D_in=field_matrix(sp.diag(*padded(n)), K), s=s, Z=field_matrix(sp.Matrix(m, n, z), K), K=K,
                symbols=symbols)


def factor_flow_pushforward(weights, G, formula=layer_gradient_formula):
    """``sum_j W_{N:j+1} (-dphi/dW_j) W_{j-1:1}`` with the E1 gradients ``formula(weights, G)``."""
    m, n = G.shape
    grads = formula(weights, G)
    terms = [-(chain_product(weights[j + 1:], identity_like(G, m)) * grads[j]
               * chain_product(weights[:j], identity_like(G, n))) for j in range(len(weights))]
    return sum(terms[1:], terms[0])


# --------------------------------------------------------------------------- the proof

def prove(proof, quick=False, operator=end_to_end_operator_formula, power=psd_power, case=balanced_case,
          library=dynamics.end_to_end_operator, induced=dynamics.induced_velocity):
    """S1-S3 exactly for each case of :data:`QUICK` / :data:`FULL`; T1, T2 at a rational point."""
    cases = QUICK if quick else FULL
    proof.sizes("; ".join(f"{m}x{n} N={N}" + (" (rational rotations)" if f == "rational" else "")
                          for m, n, N, f in cases))
    for m, n, N, frames in cases:
        c = case(m, n, N, frames, proof.rng)
        ws, Q, G = c["weights"], c["Q"], c["G"]
        for j in range(N - 1):
            proof.zero("S1", ws[j + 1].transpose() * ws[j + 1] - ws[j] * ws[j].transpose(),
                       f"{c['label']}: D_{j + 1}")
        W = chain_product(ws)
        proof.zero("S2", W * W.transpose() - power(Q[N], c["D_out"], N), f"{c['label']}: W W^T")
        proof.zero("S2", W.transpose() * W - power(Q[0], c["D_in"], N), f"{c['label']}: W^T W")
        pushed = factor_flow_pushforward(ws, G)
        A = operator(Q[N], c["D_out"], Q[0], c["D_in"], N, G)
        proof.zero("S3", pushed + A, f"{c['label']}: pushforward + A_(N,W)(G)")
        point = random_rational_point(c["symbols"], proof.rng)
        Wn, Gn = at_point(W, point), at_point(G, point)
        proof.close("T1", library(Wn, Gn, N), at_point(A, point), rtol=1e-10,
                    what=f"end_to_end_operator {c['label']}")
        proof.close("T2", induced([at_point(w, point) for w in ws], Gn), at_point(pushed, point), rtol=1e-10,
                    what=f"induced_velocity {c['label']}")


# --------------------------------------------------------------------------- planted wrong variants

def _exponent_shifted(Q_out, D_out, Q_in, D_in, N, Z, power=psd_power):
    terms = [power(Q_out, D_out, N - j + 1) * Z * power(Q_in, D_in, j - 1) for j in range(1, N + 1)]
    return sum(terms[1:], terms[0])


def _one_over_N(Q_out, D_out, Q_in, D_in, N, Z, power=psd_power):
    A = end_to_end_operator_formula(Q_out, D_out, Q_in, D_in, N, Z, power)
    return A.scalarmul(A.domain.convert(sp.Rational(1, N)))


def _unbalanced_case(m, n, N, frames="symbolic", rng=None):
    """Same construction with the last factor scaled by 2: not balanced."""
    c = balanced_case(m, n, N, frames, rng)
    c["weights"][-1] = c["weights"][-1].scalarmul(c["K"].convert(2))
    return c


def _drop_last_term(ws, G):
    """``induced_velocity`` without the ``j = N`` term ``-(dphi/dW_N) W_{N-1:1}`` (a planted bug)."""
    prefix = ws[0]
    for w in ws[1:-1]:
        prefix = w @ prefix
    return dynamics.induced_velocity(ws, G) + factorization.layer_gradients(ws, G)[-1] @ prefix


def _complement_columns_flipped(Q_out, D_out, Q_in, D_in, N, Z, power=psd_power):
    """The E3 sum with ``(W^T W)^0`` taken as ``I - 2 P`` (``P`` the projector onto the complement of
    W's row space): a sign error on the complement columns, invisible unless ``W`` is wide."""
    K, n = D_in.domain, D_in.shape[0]
    flip = DomainMatrix([[K.zero if r != c else (K.one if D_in.to_list()[r][r] != K.zero else -K.one)
                          for c in range(n)] for r in range(n)], (n, n), K)
    terms = [power(Q_out, D_out, N - j) * Z * (power(Q_in, D_in, j - 1) if j > 1 else Q_in * flip * Q_in.transpose())
             for j in range(1, N + 1)]
    return sum(terms[1:], terms[0])


def _library_complement_columns(W, Z, N):
    """``end_to_end_operator`` with the complement columns of the j = 1 term subtracted instead of
    added (a planted bug: zero on square and tall full-rank W)."""
    U, sv, Vt = np.linalg.svd(W, full_matrices=False)
    r = int(np.sum(sv > 1e-12 * sv[0]))
    P = np.eye(W.shape[1]) - Vt[:r].T @ Vt[:r]
    lead = (U[:, :r] * sv[:r] ** (2.0 * (N - 1) / N)) @ U[:, :r].T
    return dynamics.end_to_end_operator(W, Z, N) - 2 * lead @ Z @ P

PLANTED = {
    "unbalanced: last factor doubled": Planted("S1", lambda: dict(case=_unbalanced_case)),
    "power conjugated the wrong way (Q^T D Q)": Planted(
        "S2", lambda: dict(power=lambda Q, D, k: Q.transpose() * (D ** k if k else identity_like(D, D.shape[0])) * Q)),
    "wrong exponent (N-j+1)/N": Planted("S3", lambda: dict(operator=_exponent_shifted)),
    "wrong factor 1/N": Planted("S3", lambda: dict(operator=_one_over_N)),
    "complement columns of a wide W with the wrong sign": Planted(
        "S3", lambda: dict(operator=_complement_columns_flipped)),
    "library: end_to_end_operator, complement columns with the wrong sign": Planted(
        "T1", lambda: dict(library=_library_complement_columns)),
    "library: end_to_end_operator with depth N+1": Planted(
        "T1", lambda: dict(library=lambda W, Z, N: dynamics.end_to_end_operator(W, Z, N + 1))),
    "library: end_to_end_operator x1.01": Planted(
        "T1", lambda: dict(library=lambda W, Z, N: 1.01 * dynamics.end_to_end_operator(W, Z, N))),
    "library: induced_velocity without the last layer's term": Planted("T2", lambda: dict(induced=_drop_last_term)),
}


# --------------------------------------------------------------------------- worked example

def worked_example():
    """N = 2, diagonal 2x2 (rotations = I): A(Z) entrywise is (s_i^2 + s_j^2) Z_ij."""
    s1, s2 = sp.symbols("s1 s2", positive=True)
    z = sp.Matrix(2, 2, sp.symbols("z11 z12 z21 z22"))
    D = sp.diag(s1 ** 2, s2 ** 2)
    A = end_to_end_operator_formula(sp.eye(2), D, sp.eye(2), D, 2, z)
    print("W = diag(s1^2, s2^2), N = 2:  A(Z) =", A.applyfunc(sp.factor).tolist())
    W1 = W2 = sp.diag(s1, s2)
    print("pushforward of the factor flow  =", (-factor_flow_pushforward([W1, W2], z)).applyfunc(sp.factor).tolist())


if __name__ == "__main__":
    raise SystemExit(run_page(__name__))
