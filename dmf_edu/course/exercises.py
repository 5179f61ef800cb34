r"""Checkable exercises of the course (``dmf_edu/course/lessons_md``); also importable as ``dmf_edu.course.exercises``.

A student writes a function and hands it to :func:`check`; the report says whether it is
right and, when it is not, precisely what is wrong: which layer's gradient disagrees with
finite differences and by how much, a wrong shape, or a hint when the answer matches a
transposed, reversed or mis-scaled version of the right one.  Each checker judges the
answer by an independent numerical test (finite differences, or the E3 identity at a
balanced factorization), not only by comparison with the package's own code, and tries
several cases: rectangular shapes with hidden widths unlike the outer ones (at square or
identity points a missing transpose is invisible), several depths, rank-deficient inputs.

>>> from dmf_edu.course import exercises
>>> exercises.names()                                      # doctest: +SKIP
>>> report = exercises.check("layer_gradients", my_fn)     # doctest: +SKIP
>>> report.passed, report.message                          # doctest: +SKIP
>>> exercises.solution("layer_gradients")                  # prints the worked solution  # doctest: +SKIP
>>> exercises.solution("2.3")                              # any exercise by number  # doctest: +SKIP

Reference solutions are written for reading (short, direct numpy), and shown only on an
explicit call to :func:`solution`; the worked solutions of all exercises, written ones
included, live in ``dmf_edu/course/solutions_md``.  ``dmf-edu check FILE.py`` grades a file
of answers (:mod:`dmf_edu.course.grader`).

Exercises (lesson, label): ``layer_gradients`` (1, E1), ``end_to_end_operator`` (2, E3/E4),
``singular_value_velocity`` (3, E6), ``depth_multiplier`` (3, E4), ``effective_rank`` (4,
THEORY.md §0), ``hessian_vector_product`` (7, E17) here; ``completion_schatten_norm`` (5, E12)
and ``heldout_error`` (8, THEORY.md §9) in :mod:`dmf_edu.course.checkers`.  The registry,
:class:`Report` and the hint machinery are in :mod:`dmf_edu.course.checking`.
"""

from __future__ import annotations

import numpy as np

from ..checks import directional_check
from ..dynamics import check_end_to_end_dynamics, check_svd_velocities, end_to_end_operator, singular_value_velocity
from ..factorization import end_to_end, init_weights, layer_gradients
from ..landscape.hessian import check_hessian_vector_product, hessian_vector_product
from ..linalg import depth_multiplier, psd_power
from ..metrics import effective_rank
from ..problems import MatrixSensing
from .checking import (REGISTRY, Fail, Report, as_array, call, chain, check, dense, describe,  # noqa: F401
                       diagnose, exercise, names, reference, rel)
from .solutions import solution

__all__ = ["Report", "names", "describe", "check", "solution", "reference"]


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
    hint = "Remember W = W_N ... W_1 with weights = [W_1, ..., W_N]: weights[0] acts first"
    for case, dims in _GRAD_CASES:
        N = len(dims) - 1
        weights = [rng.standard_normal((dims[j + 1], dims[j])) / np.sqrt(dims[j]) for j in range(N)]
        T = rng.standard_normal((dims[-1], dims[0]))

        def phi(ws):                      # ell(W) = 1/2 ||W - T||_F^2, so G = W - T
            return 0.5 * float(np.sum((end_to_end(ws) - T) ** 2))

        G = end_to_end(weights) - T
        got = call(fn, ([w.copy() for w in weights], G.copy()), case, hint)
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
    return (f"all layers of {len(_GRAD_CASES)} factorizations (depths 1-4, rectangular and square) "
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


# --------------------------------------------------------------------------- E6 singular value velocity

def solution_singular_value_velocity(W, G, depth):
    """E6: d sigma_r/dt = -N (sigma_r^2)^{1 - 1/N} <G, u_r v_r^T>, sigma in descending order."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    projection = np.array([U[:, r] @ G @ Vt[r] for r in range(s.size)])    # <G, u_r v_r^T>
    return -depth * (s ** 2) ** (1 - 1 / depth) * projection


_SIGMA_CASES = (("depth 1", (4, 3), 1), ("depth 2", (4, 3), 2), ("depth 3", (3, 5), 3),
                ("depth 6", (4, 4), 6))


@exercise("singular_value_velocity", 3, "E6", "fn(W, G, depth) -> array",
           "W (m, n) with distinct nonzero singular values, G (m, n) the loss gradient at W, depth N >= 1. "
           "Return d sigma_r/dt under dW/dt = -A_{N,W}(G), shape (min(m, n),), singular values in "
           "descending order (as numpy.linalg.svd).", solution_singular_value_velocity)
def _check_singular_value_velocity(fn, rng, details):
    """E6: finite differences of the SVD along the E3 flow, depths 1-6."""
    for case, shape, N in _SIGMA_CASES:
        k = min(shape)
        U, _ = np.linalg.qr(rng.standard_normal((shape[0], k)))
        V, _ = np.linalg.qr(rng.standard_normal((shape[1], k)))
        s = np.sort(rng.uniform(0.5, 2.0, k))[::-1] + np.arange(k)[::-1] * 0.3   # well separated
        W = (U * s) @ V.T
        G = rng.standard_normal(shape)
        case = f"{case}, W of shape {shape[0]}x{shape[1]}"
        box = {}

        def wrapped(W_, G_, depth_):
            box["got"] = as_array(call(fn, (W_.copy(), G_.copy(), depth_), case),
                                   "the velocity vector", case, (k,))
            return box["got"]
        err = check_svd_velocities(W, G, N, sigma_fn=wrapped)["sigma"]
        details[case] = dict(finite_difference=err)
        if err > 1e-6:
            want = singular_value_velocity(W, G, N)
            s_true = np.linalg.svd(W, compute_uv=False)
            U_, _, Vt_ = np.linalg.svd(W, full_matrices=False)
            proj = np.einsum("ir,ij,rj->r", U_, G, Vt_)
            variants = [("the right velocities in ascending order: return them in the descending "
                         "order of the singular values", want[::-1]),
                        ("-N sigma^{1-1/N} <G, u v^T>: the factor is (sigma^2)^{1-1/N}",
                         -N * s_true ** (1 - 1 / N) * proj),
                        ("-N (sigma^2)^{1/N} <G, u v^T>: the exponent is 1 - 1/N",
                         -N * (s_true ** 2) ** (1 / N) * proj)]
            note = diagnose(box["got"], want, variants, depth=N)
            raise Fail(f"{case}: your velocities miss finite differences of the singular values "
                        f"along dW/dt = -A_{{N,W}}(G) by {err:.2e} (relative; correct ~1e-10)"
                        + (f"; {note}" if note else ""))
    return (f"velocities agree with finite differences of the SVD along the E3 flow (< 1e-6) in "
            f"{len(_SIGMA_CASES)} cases, depths 1-6")


# --------------------------------------------------------------------------- effective rank

def solution_effective_rank(W):
    """Roy & Vetterli: exp(-sum_i p_i log p_i), p_i = sigma_i / sum(sigma), with 0 log 0 = 0."""
    s = np.linalg.svd(W, compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]                             # 0 log 0 = 0
    return float(np.exp(-np.sum(p * np.log(p))))


def _erank_cases(rng):
    A = rng.standard_normal((6, 4))
    u, v = rng.standard_normal(5), rng.standard_normal(7)
    return (("a Gaussian 6x4 matrix", A),
            ("the 5x5 identity (answer 5)", np.eye(5)),
            ("a rank-one 5x7 matrix (answer 1)", np.outer(u, v)),
            ("diag(3, 1, 0, 0) (exact zero singular values)", np.diag([3.0, 1.0, 0.0, 0.0])),
            ("a 3x8 matrix with singular values 4, 2, 1", (np.linalg.qr(rng.standard_normal((3, 3)))[0]
                                                           * [4.0, 2.0, 1.0]) @ np.linalg.qr(
                rng.standard_normal((8, 3)))[0].T))


@exercise("effective_rank", 4, "THEORY §0", "fn(W) -> float",
           "W (m, n), not zero. Return the effective rank exp(-sum_i p_i log p_i) with "
           "p_i = sigma_i / sum_k sigma_k (Roy & Vetterli 2007; 0 log 0 = 0).", solution_effective_rank)
def _check_effective_rank(fn, rng, details):
    """Effective rank on five matrices, with hints for the usual look-alikes."""
    for case, W in _erank_cases(rng):
        got = as_array(call(fn, (W.copy(),), case), "the effective rank", case, ())
        want = float(effective_rank(W))
        details[case] = dict(got=float(got), want=want)
        if abs(got - want) > 1e-8 * want:
            s = np.linalg.svd(W, compute_uv=False)

            def entropy(p):
                p = p[p > 0]
                return float(-np.sum(p * np.log(p)))
            variants = [("the Shannon entropy of p; the effective rank is its exponential",
                         entropy(s / s.sum())),
                        ("the stable rank ||W||_F^2 / ||W||_2^2, not the effective rank",
                         float(np.sum(s ** 2) / s[0] ** 2)),
                        ("exp(entropy) with p_i = sigma_i^2 / sum sigma^2: normalise the singular "
                         "values, not their squares", float(np.exp(entropy(s ** 2 / np.sum(s ** 2))))),
                        ("exp of the entropy in bits (log2); use the natural logarithm",
                         float(np.exp(entropy(s / s.sum()) / np.log(2)))),
                        ("the numerical rank (a count of nonzero singular values)",
                         float(np.sum(s > 1e-10 * s[0])))]
            note = next((f"hint: your result equals {t}" for t, v in variants
                         if abs(float(got) - v) <= 1e-8 * max(abs(v), 1e-300)), "")
            raise Fail(f"{case}: you return {float(got):.10g}, the effective rank is {want:.10g}"
                        + (f"; {note}" if note else ""))
    return "right on 5 matrices (Gaussian, identity, rank one, exact zeros, rectangular)"


# --------------------------------------------------------------------------- E4/E5 multiplier

def solution_depth_multiplier(x, y, depth):
    """E4: a_N(x, y) = sum_{p=1}^N x^{2(N-p)/N} y^{2(p-1)/N} (the finite sum: no 0/0 when x = y)."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    N = depth
    return sum(x ** (2 * (N - p) / N) * y ** (2 * (p - 1) / N) for p in range(1, N + 1))


@exercise("depth_multiplier", 3, "E4", "fn(x, y, depth) -> array",
           "x, y arrays of singular values >= 0 (same shape), depth N >= 1. Return a_N(x, y) = "
           "sum_{p=1}^N x^{2(N-p)/N} y^{2(p-1)/N} elementwise; it must stay finite and exact when "
           "x = y and when x or y is 0 (0^0 = 1).", solution_depth_multiplier)
def _check_depth_multiplier(fn, rng, details):
    """E4: a_N at generic, equal, nearly equal and zero arguments, depths 1, 2, 3, 7."""
    x = np.concatenate([rng.uniform(0.1, 3.0, 6), [1.5, 2.0, 0.7, 0.0, 0.0, 1.0]])
    y = np.concatenate([rng.uniform(0.1, 3.0, 6), [1.5, 2.0 * (1 + 1e-9), 0.0, 0.9, 0.0, 1.0]])
    kinds = ["x != y"] * 6 + ["x = y", "x ~ y (relative gap 1e-9)", "y = 0", "x = 0", "x = y = 0", "x = y = 1"]
    for N in (1, 2, 3, 7):
        case = f"depth {N}"
        got = call(fn, (x.copy(), y.copy(), N), case)
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise Fail(f"{case}: return an array of numbers, got {type(got).__name__}") from None
        if got.shape != x.shape:
            raise Fail(f"{case}: result has shape {got.shape} for inputs of shape {x.shape}; work elementwise")
        want = depth_multiplier(x, y, N)
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
        err = np.where(np.isnan(got), np.inf, err)
        details[case] = dict(max_relative_error=float(np.max(err)))
        worst = int(np.argmax(err))
        if err[worst] > 1e-9:
            what = ("NaN" if np.isnan(got[worst]) else f"{got[worst]:.12g}")
            note = ""
            if kinds[worst] in ("x = y", "x ~ y (relative gap 1e-9)", "x = y = 1"):
                note = ("; the closed form (x^2 - y^2)/(x^{2/N} - y^{2/N}) is 0/0 or loses all digits "
                        "there: use the finite sum (or N x^{2(N-1)/N} at x = y)")
            elif "0" in kinds[worst]:
                note = "; remember 0^0 = 1 (a_N(x, 0) = x^{2(N-1)/N}, a_N(0, 0) = 0 for N >= 2, a_1 = 1)"
            raise Fail(f"{case}, {kinds[worst]} (x = {x[worst]:.12g}, y = {y[worst]:.12g}): you return "
                        f"{what}, a_N is {want[worst]:.12g} (relative error {err[worst]:.1e})" + note)
    return "a_N is right to 1e-9 for depths 1, 2, 3, 7 at generic, equal, nearly equal and zero arguments"


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
