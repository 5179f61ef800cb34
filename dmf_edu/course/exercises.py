r"""Checkable exercises of lessons 1, 2 and 7: ``layer_gradients`` (E1), ``end_to_end_operator``
(E3/E4) and ``hessian_vector_product`` (E17).

A student writes a function and hands it to :func:`dmf_edu.course.check`; the report says whether
it is right and, when it is not, precisely what is wrong: which layer's gradient disagrees with
finite differences and by how much, a wrong shape, or a hint when the answer matches a
transposed, reversed or mis-scaled version of the right one.  Each checker judges the answer by
an independent numerical test (finite differences, or the E3 identity at a balanced
factorization), not only by comparison with the package's own code, and tries several cases:
rectangular shapes with hidden widths unlike the outer ones (at square or identity points a
missing transpose is invisible), equal hidden widths, depths up to 5, rank-deficient inputs.

Lessons 3-4 are in :mod:`.exercises_depth`, 5 and 8 in :mod:`.checkers`, the exercises that used
to be written-only in :mod:`.exercises_written`; the registry, :class:`Report` and the hints in
:mod:`.checking`.
"""

from __future__ import annotations

import numpy as np

from ..checks import directional_check
from ..dynamics import check_end_to_end_dynamics, end_to_end_operator
from ..factorization import end_to_end, init_weights, layer_gradients
from ..landscape.hessian import check_hessian_vector_product, hessian_vector_product
from ..linalg import psd_power
from ..problems import MatrixSensing
from .checking import Fail, as_array, call, chain, dense, diagnose, exercise, rel

__all__ = ["solution_layer_gradients", "solution_end_to_end_operator", "solution_hessian_vector_product"]


# --------------------------------------------------------------------------- E1 layer gradients

def solution_layer_gradients(weights, G):
    """E1: dphi/dW_j = W_{N:j+1}^T G W_{j-1:1}^T, for W = W_N ... W_1 (weights = [W_1, ..., W_N])."""
    N = len(weights)
    grads = []
    for j in range(N):                       # weights[j] is W_{j+1}
        below = np.eye(weights[0].shape[1])  # W_{j:1}, the product of the factors under W_{j+1}
        for w in weights[:j]:
            below = w @ below
        above = np.eye(weights[j].shape[0])  # W_{N:j+2}, the product of the factors above it
        for w in weights[j + 1:]:
            above = w @ above
        grads.append(above.T @ G @ below.T)
    return grads


_GRAD_CASES = (                 # (label, dims [d_0, ..., d_N])
    ("depth 3, dims d = (5, 4, 6, 3)", (5, 4, 6, 3)),
    ("depth 1, a 3x4 matrix", (4, 3)),
    ("depth 2, dims d = (3, 5, 4)", (3, 5, 4)),
    ("depth 4, dims d = (4, 3, 5, 2, 6)", (4, 3, 5, 2, 6)),
    ("depth 3, square 3x3 factors", (3, 3, 3, 3)),
    ("depth 4, equal hidden widths d = (3, 4, 4, 4, 2)", (3, 4, 4, 4, 2)),
    ("depth 5, tall: d = (2, 3, 3, 4, 5, 6)", (2, 3, 3, 4, 5, 6)),
)


def _no_transpose_variant(weights, G):
    """Wrong on purpose: E1 without its transposes (``None`` when the shapes do not allow it)."""
    out = []
    for j in range(len(weights)):
        above, below = chain(weights[j + 1:], weights[j].shape[0]), chain(weights[:j], weights[0].shape[1])
        if above.shape[1] != G.shape[0] or G.shape[1] != below.shape[0]:
            return None
        out.append(above @ G @ below)
    return out


@exercise("layer_gradients", 1, "E1", "fn(weights, G) -> list of arrays",
           "weights = [W_1, ..., W_N], W_j of shape (d_j, d_{j-1}); G (d_N, d_0) is grad ell at "
           "W = W_N ... W_1. Return [dphi/dW_1, ..., dphi/dW_N] for phi = ell(W_N ... W_1), "
           "each of the shape of its factor.", solution_layer_gradients)
def _check_layer_gradients(fn, rng, details):
    """E1: each layer against central differences of phi on 5 factorizations (depths 1-4)."""
    for case, dims in _GRAD_CASES:
        N = len(dims) - 1
        weights = [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j]) for j in range(N)]
        T = rng.standard_normal((dims[-1], dims[0]))

        def phi(ws):                      # ell(W) = 1/2 ||W - T||_F^2, so G = W - T
            return 0.5 * float(np.sum((end_to_end(ws) - T) ** 2))

        G = end_to_end(weights) - T
        got = call(fn, ([w.copy() for w in weights], G.copy()), case)
        if isinstance(got, np.ndarray) or not hasattr(got, "__len__"):
            raise Fail(f"{case}: return a list [dphi/dW_1, ..., dphi/dW_N] of {N} arrays, "
                        f"got {type(got).__name__}")
        if len(got) != N:
            raise Fail(f"{case}: returned {len(got)} arrays for a depth-{N} factorization; "
                        f"return one gradient per factor, [dphi/dW_1, ..., dphi/dW_{N}]")
        got = [as_array(g, f"the gradient of layer {j + 1} (W_{j + 1})", case, w.shape)
               for j, (g, w) in enumerate(zip(got, weights))]
        want = layer_gradients(weights, G)
        bad, rows = [], {}
        for j in range(N):
            def phi_j(x, j=j):
                return phi(weights[:j] + [x[0]] + weights[j + 1:])
            fd_err = directional_check(phi_j, lambda x, j=j: [got[j]], [weights[j]], rng=rng)
            rows[j + 1] = dict(finite_difference=fd_err, vs_E1=rel(got[j], want[j]))
            if fd_err > 1e-5:
                bad.append(j)
        details[case] = rows
        if bad:
            notes = {}
            for j in bad:
                variants = [(f"the gradient of layer {k + 1} (list in the wrong order: return "
                             f"[dphi/dW_1, ..., dphi/dW_N])", want[k]) for k in range(N) if k != j]
                variants.append(("the transpose of the right gradient", want[j].T))
                no_t = _no_transpose_variant(weights, G)
                if no_t is not None:
                    variants.append(("W_{N:j+1} G W_{j-1:1}: E1 needs the transposes "
                                     "W_{N:j+1}^T G W_{j-1:1}^T", no_t[j]))
                notes[j] = diagnose(got[j], want[j], variants)
            which = ", ".join(str(j + 1) for j in bad)
            gaps = ", ".join(f"{rows[j + 1]['finite_difference']:.1e}" for j in bad)
            plural = len(bad) > 1
            text = (f"{case}: the gradient{'s' if plural else ''} of layer{'s' if plural else ''} {which} "
                    f"{'are' if plural else 'is'} wrong: {'their' if plural else 'its'} directional "
                    f"derivative{'s' if plural else ''} miss{'' if plural else 'es'} central finite "
                    f"differences of phi by {gaps} (relative; a correct gradient scores ~1e-9)")
            if len(set(notes.values())) == 1 and notes[bad[0]]:
                text += f"; {notes[bad[0]]}"
            else:
                text += "".join(f"; layer {j + 1} (W_{j + 1}, shape {weights[j].shape}): {notes[j]}"
                                for j in bad if notes[j])
            good = [str(j + 1) for j in range(N) if j not in bad]
            raise Fail(text + (f". Layer{'s' if len(good) > 1 else ''} {', '.join(good)} "
                                f"{'are' if len(good) > 1 else 'is'} right." if good else "."))
    return (f"all layers of {len(_GRAD_CASES)} factorizations (depths 1-5, rectangular, square, equal widths) "
            "agree with central finite differences of phi (relative error < 1e-5)")


# --------------------------------------------------------------------------- E3/E4 end-to-end operator

def solution_end_to_end_operator(W, Z, depth):
    """E3: A_{N,W}(Z) = sum_{j=1}^N (W W^T)^{(N-j)/N} Z (W^T W)^{(j-1)/N}, with 0^0 = 1."""
    def power(S, p):                         # S symmetric PSD; p = 0 gives the identity
        lam, Q = np.linalg.eigh(S)
        lam = np.where(lam > 1e-12 * max(lam.max(), 1e-300), lam, 0.0)   # rounding noise -> exact 0
        return (Q * lam ** p) @ Q.T          # numpy: 0.0 ** 0 == 1.0
    N = depth
    left, right = W @ W.T, W.T @ W
    return sum(power(left, (N - j) / N) @ Z @ power(right, (j - 1) / N) for j in range(1, N + 1))


def _range_projector(S):
    """Orthogonal projector onto the range of a symmetric PSD matrix ``S``."""
    lam, Q = np.linalg.eigh(S)
    keep = lam > S.shape[-1] * np.finfo(float).eps * max(lam.max(), 1e-300)
    return Q[:, keep] @ Q[:, keep].T


def _operator_variants(W, Z, N):
    """Known wrong operators at ``(W, Z)``: description and value."""
    left, right = W @ W.T, W.T @ W

    def power00(S, p):                       # 0^0 taken as 0: the zeroth power is a projector
        return psd_power(S, p) if p > 0 else _range_projector(S)
    out = [("the sum with 0^0 = 0 ((W W^T)^0 the projector onto the range of W): 0^0 = 1 makes it "
            "the identity", sum(power00(left, (N - j) / N) @ Z @ power00(right, (j - 1) / N)
                                for j in range(1, N + 1))),
           ("the sum with exponents j/N on the right instead of (j-1)/N",
            sum(psd_power(left, (N - j) / N) @ Z @ psd_power(right, j / N) for j in range(1, N + 1))),
           ("the sum with powers of W W^T, W^T W halved (sigma^{k/N} instead of sigma^{2k/N})",
            sum(psd_power(left, (N - j) / (2 * N)) @ Z @ psd_power(right, (j - 1) / (2 * N))
                for j in range(1, N + 1)))]
    if W.shape[0] == W.shape[1]:
        out.append(("the sum with W^T W on the left and W W^T on the right (sides swapped)",
                    sum(psd_power(right, (N - j) / N) @ Z @ psd_power(left, (j - 1) / N)
                        for j in range(1, N + 1))))
    return out


def _rounding_power_note(got, want, W, N, err):
    """The hint for fractional powers of rounding-level eigenvalues ('' when it does not fit).

    A W W^T (m x m) or W^T W (n x n) of rank r < m or n has eigenvalues that are zero in exact
    arithmetic but come out of ``eigh`` as +-1e-16 relative; clipped at 0 and raised to p = 1/N
    they become (1e-16)^p, e.g. 5e-6 for p = 1/3: close to the right answer but not at 1e-8.
    """
    lam = np.concatenate([np.linalg.eigvalsh(W @ W.T), np.linalg.eigvalsh(W.T @ W)])
    noise = np.abs(lam) < 1e-12 * np.abs(lam).max()
    if not noise.any() or err > 1e-3 or rel(got, want) > 1e-3:
        return ""
    tiny, p = float(np.abs(lam[noise]).max()), 1.0 / max(N, 2)
    return (f"hint: your result is right up to {err:.0e}: W W^T or W^T W is singular here, and its zero "
            f"eigenvalues come out of eigh as rounding noise (up to {tiny:.0e} here); a fractional power "
            f"magnifies them (({tiny:.0e})^(1/{max(N, 2)}) = {tiny ** p:.0e}). Set eigenvalues below 1e-12 "
            "times the largest to exactly 0 before taking powers (clipping negatives at 0 is not enough)")


_OPERATOR_CASES = (             # (label, shape (m, n), depth, hidden width or None)
    ("depth 1, W of shape 4x3", (4, 3), 1, None),
    ("depth 2, W of shape 4x3", (4, 3), 2, None),
    ("depth 3, W of shape 3x5", (3, 5), 3, None),
    ("depth 5, W of shape 4x3", (4, 3), 5, None),
    ("depth 3, square 3x3 W", (3, 3), 3, None),
    ("depth 3, rank-deficient 4x3 W (rank 2)", (4, 3), 3, 2),
    ("depth 4, wide 2x5 W", (2, 5), 4, None),
)


@exercise("end_to_end_operator", 2, "E3/E4", "fn(W, Z, depth) -> array",
           "W (m, n), Z (m, n), depth N >= 1. Return A_{N,W}(Z) = sum_{j=1}^N (W W^T)^{(N-j)/N} Z "
           "(W^T W)^{(j-1)/N}, shape (m, n); 0^0 = 1, so (W W^T)^0 is the identity even for singular W. "
           "Eigenvalues of W W^T or W^T W are zero up to rounding (about 1e-16 times the largest) "
           "wherever W is rank-deficient or rectangular: set those below 1e-12 times the largest to "
           "exactly 0 before a fractional power, since (1e-16)^(1/3) is already 5e-6.",
           solution_end_to_end_operator)
def _check_end_to_end_operator(fn, rng, details):
    """E3/E4: the E3 identity at balanced factorizations (full rank, square, rank-deficient)."""
    for case, shape, N, width in _OPERATOR_CASES:
        weights = init_weights(shape, N, 1.0, kind="balanced", width=width, rng=rng)
        W = end_to_end(weights)
        G = rng.standard_normal(shape)
        box = {}

        def wrapped(W_, Z_, depth_):       # the student's answer, validated, recorded
            box["got"] = as_array(call(fn, (W_.copy(), Z_.copy(), depth_), case), "A_{N,W}(Z)",
                                   case, shape)
            return box["got"]
        err = check_end_to_end_dynamics(weights, G, operator=wrapped)
        details[case] = dict(E3_error=err)
        if err > 1e-8:
            want = end_to_end_operator(W, G, N)
            note = diagnose(box["got"], want, _operator_variants(W, G, N), depth=N)
            if not note:
                note = _rounding_power_note(box["got"], want, W, N, err)
            if not note and width is not None:
                note = ("hint: the full-rank cases pass, so look at the zero singular values: "
                        "0^0 = 1 makes (W W^T)^0 the identity, not the projector onto the range of W")
            raise Fail(f"{case}: at a balanced factorization, -A_{{N,W}}(G) must equal the velocity "
                        f"dW/dt of the factors' gradient flow (E3); yours misses it by {err:.2e} "
                        f"(relative; a correct operator scores ~1e-14)" + (f"; {note}" if note else ""))
    return (f"A_{{N,W}}(G) matches the end-to-end velocity of balanced factorizations (E3) to "
            f"< 1e-8 in {len(_OPERATOR_CASES)} cases (depths 1-5, rectangular, square, rank-deficient)")


# --------------------------------------------------------------------------- E17 Hessian-vector product

def solution_hessian_vector_product(problem, weights, V):
    """E17: (Hessian of phi) V = d/dt of the E1 gradients at the factors W_j + t V_j, at t = 0."""
    def chain(ws, size):                      # ws[-1] @ ... @ ws[0]; the size x size identity if empty
        out = np.eye(size)
        for w in ws:
            out = w @ out
        return out

    def chain_dot(ws, vs, size):              # d/dt chain(ws + t vs) by the product rule
        out = np.zeros((ws[-1].shape[0] if ws else size, size))
        for k in range(len(ws)):
            out = out + chain(ws[k + 1:], ws[k].shape[0]) @ vs[k] @ chain(ws[:k], size)
        return out

    def dense(A):
        return A.toarray() if hasattr(A, "toarray") else np.asarray(A)

    n = weights[0].shape[1]
    W, W_dot = chain(weights, n), chain_dot(weights, V, n)
    G = dense(problem.gradient(W))
    G_dot = dense(problem.gradient(W + W_dot)) - G          # exact: the loss is quadratic
    out = []
    for j in range(len(weights)):                           # E1: above^T G below^T, differentiated
        d_j = weights[j].shape[0]
        above, above_dot = chain(weights[j + 1:], d_j), chain_dot(weights[j + 1:], V[j + 1:], d_j)
        below, below_dot = chain(weights[:j], n), chain_dot(weights[:j], V[:j], n)
        out.append(above_dot.T @ G @ below.T + above.T @ G_dot @ below.T + above.T @ G @ below_dot.T)
    return out


def _gauss_newton_part(problem, weights, V):
    """Wrong on purpose: only the E1 map applied to ``G(W + W_dot) - G(W)`` (the loss is quadratic)."""
    W_dot = sum(chain(weights[j + 1:], weights[j].shape[0]) @ V[j] @ chain(weights[:j], weights[0].shape[1])
                for j in range(len(weights)))
    W = end_to_end(weights)
    return layer_gradients(weights, dense(problem.gradient(W + W_dot)) - dense(problem.gradient(W)))


@exercise("hessian_vector_product", 7, "E17", "fn(problem, weights, V) -> list of arrays",
           "problem a MatrixCompletion/MatrixSensing, weights = [W_1, ..., W_N], V = [V_1, ..., V_N] "
           "of the same shapes. Return the Hessian of phi = ell(W_N ... W_1) applied to V, "
           "as a list [H_1, ..., H_N] of the factors' shapes.", solution_hessian_vector_product)
def _check_hessian_vector_product(fn, rng, details):
    """E17: central differences of the E1 gradients at depths 1-3 (sensing losses)."""
    for case, dims in (("depth 2, dims d = (4, 3, 5)", (4, 3, 5)),
                       ("depth 3, dims d = (5, 4, 6, 3)", (5, 4, 6, 3)),
                       ("depth 1, a 3x4 matrix", (4, 3))):
        N = len(dims) - 1
        m, n = dims[-1], dims[0]
        A = rng.standard_normal((2 * m * n, m, n))
        problem = MatrixSensing(A, rng.standard_normal(2 * m * n))
        weights = [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j]) for j in range(N)]

        def wrapped(problem_, weights_, V_):
            got = call(fn, (problem_, [w.copy() for w in weights_], [v.copy() for v in V_]), case)
            if isinstance(got, np.ndarray) or not hasattr(got, "__len__") or len(got) != N:
                raise Fail(f"{case}: return a list of {N} arrays [H_1, ..., H_N], one per factor")
            return [as_array(g, f"block {j + 1} of the product", case, w.shape)
                    for j, (g, w) in enumerate(zip(got, weights_))]
        err = check_hessian_vector_product(problem, weights, hvp=wrapped, rng=rng)
        details[case] = dict(finite_difference=err)
        if err > 1e-6:
            V = [rng.standard_normal(w.shape) for w in weights]
            got, want = wrapped(problem, weights, V), hessian_vector_product(problem, weights, V)
            per = [rel(g, w) for g, w in zip(got, want)]
            bad = [str(j + 1) for j, e in enumerate(per) if e > 1e-6]
            flat = lambda xs: np.concatenate([x.ravel() for x in xs])   # noqa: E731
            note = diagnose(flat(got), flat(want), [(
                "the Gauss-Newton part only, E1 applied to the change of G: add the terms where the "
                "factors around G move (product rule on W_{N:j+1}^T and W_{j-1:1}^T)",
                flat(_gauss_newton_part(problem, weights, V)))])
            raise Fail(f"{case}: your product misses central differences of the E1 gradients by "
                        f"{err:.2e} (relative; correct ~1e-9); wrong block(s): {', '.join(bad)}"
                        + (f"; {note}" if note else ""))
    return "matches finite differences of the layer gradients (< 1e-6) at depths 1, 2, 3"
