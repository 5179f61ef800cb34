r"""Checkers of lessons 5, 8 and 9 (registered in the same registry as ``dmf_edu.course.exercises``).

* ``completion_schatten_norm`` (lesson 5, E12): the Schatten-p (quasi-)norm of every solution
  ``[[w, 1], [1, 0]]`` of the 2x2 completion, from the E12 identities.
* ``heldout_error`` (lesson 8, THEORY.md §9): the error on the entries a method did *not* see.
* ``cp_gradient`` (lesson 9, E20): the factor gradients of a CP factorization, against the
  package's :func:`~dmf_edu.tensors.cp_gradients` at orders 2-4 with distinct dimensions.
* ``component_norm_velocity`` (lesson 9, E22): ``d sigma_r/dt`` of balanced components, against
  central differences of the component norms along the gradient flow.
"""

from __future__ import annotations

import numpy as np

from ..tensors import component_norms, cp_gradients, khatri_rao, unfold
from .checking import Fail, as_array, call, diagnose, exercise, rel

__all__ = ["solution_completion_schatten_norm", "solution_heldout_error", "solution_cp_gradient",
           "solution_component_norm_velocity"]

# --------------------------------------------------------------------------- E12 Schatten profile


def solution_completion_schatten_norm(w, p):
    """E12: sigma_1 sigma_2 = |det| = 1 and sigma_1^2 + sigma_2^2 = w^2 + 2, so
    sigma_{1,2} = (sqrt(w^2 + 4) +- |w|) / 2; then (sigma_1^p + sigma_2^p)^(1/p), or sigma_1 at p = inf."""
    w = np.abs(np.asarray(w, dtype=float))
    root = np.sqrt(w ** 2 + 4.0)
    s1 = (root + w) / 2.0
    s2 = 2.0 / (root + w)          # = (root - w) / 2 = 1 / s1, without cancellation at large |w|
    if p == np.inf:
        return s1
    return (s1 ** p + s2 ** p) ** (1.0 / p)


def _schatten_by_svd(w, p):
    X = np.zeros(np.shape(w) + (2, 2))
    X[..., 0, 0], X[..., 0, 1], X[..., 1, 0] = w, 1.0, 1.0
    s = np.linalg.svd(X, compute_uv=False)
    return s[..., 0] if p == np.inf else np.sum(s ** p, axis=-1) ** (1.0 / p)


_SCHATTEN_P = (1.0, 0.5, 2.0, 3.0, 2.0 / 3.0, np.inf)


@exercise("completion_schatten_norm", 5, "E12", "fn(w, p) -> array",
           "w an array of reals (any shape), p > 0 or numpy.inf. Return ||[[w, 1], [1, 0]]||_{S_p} = "
           "(sigma_1^p + sigma_2^p)^(1/p) elementwise (p = inf: sigma_1), the same shape as w, with "
           "sigma_1, sigma_2 from the E12 identities sigma_1 sigma_2 = 1, sigma_1^2 + sigma_2^2 = w^2 + 2.",
           solution_completion_schatten_norm)
def _check_completion_schatten_norm(fn, rng, details):
    """E12: against SVDs of the 2x2 completions, negative, zero, large and random w, six p."""
    w = np.concatenate([[0.0, -3.0, 3.0, -0.5, 40.0], rng.uniform(-5, 5, 7)]).reshape(3, 4)
    for p in _SCHATTEN_P:
        case = f"p = {p:g}"
        got = as_array(call(fn, (w.copy(), p), case), "the norms", case, w.shape)
        want = _schatten_by_svd(w, p)
        err = float(np.max(np.abs(got - want) / want))
        details[case] = dict(max_relative_error=err)
        if err > 1e-9:
            s = np.linalg.svd(np.stack([np.array([[x, 1.0], [1.0, 0.0]]) for x in w.ravel()]),
                              compute_uv=False).reshape(w.shape + (2,))
            variants = []
            if np.isfinite(p):
                variants += [("sigma_1^p + sigma_2^p, the p-th power of the norm: take the 1/p-th root",
                              np.sum(s ** p, axis=-1)),
                             ("(sigma_1^(1/p) + sigma_2^(1/p))^p: the exponents p and 1/p are swapped",
                              np.sum(s ** (1.0 / p), axis=-1) ** p)]
            variants += [("the nuclear norm sqrt(w^2 + 4) whatever p", np.sqrt(w ** 2 + 4.0)),
                         ("the Frobenius norm sqrt(w^2 + 2) whatever p", np.sqrt(w ** 2 + 2.0)),
                         ("lambda_1 + lambda_2 = w, the trace: the eigenvalues of the symmetric X "
                          "are +-sigma, so use their absolute values", w + 0.0)]
            worst = np.unravel_index(np.argmax(np.abs(got - want) / want), w.shape)
            note = diagnose(got, want, variants)
            raise Fail(f"{case}: at w = {w[worst]:.6g} you return {got[worst]:.10g}, the Schatten-{p:g} "
                        f"norm is {want[worst]:.10g} (largest relative error {err:.1e})"
                        + (f"; {note}" if note else ""))
    return ("right to 1e-9 for p = 1, 1/2, 2, 3, 2/3 and inf at negative, zero, large and random w; "
            "every profile grows with |w| (E12)")


# --------------------------------------------------------------------------- held-out error (lesson 8)


def solution_heldout_error(W, M, test_mask):
    """THEORY.md §9: the mean of (W_ij - M_ij)^2 over the held-out entries only (M may be NaN elsewhere)."""
    mask = np.asarray(test_mask, dtype=bool)
    diff = np.asarray(W, dtype=float)[mask] - np.asarray(M, dtype=float)[mask]
    return float(np.mean(diff ** 2))


def _heldout_cases(rng):
    W, M = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    mask = np.zeros((6, 7), dtype=bool)
    mask.flat[rng.choice(42, 13, replace=False)] = True
    one = np.zeros((4, 5), dtype=bool)
    one[2, 3] = True
    hidden = np.where(mask, M, np.nan)                        # real data: M unknown off the mask
    return (("a 6x7 matrix, 13 held-out entries", W, M, mask),
            ("a 4x5 matrix, 1 held-out entry", rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), one),
            ("M known only on the 13 held-out entries (NaN elsewhere, as with real data)", W, hidden, mask))


@exercise("heldout_error", 8, "THEORY §9", "fn(W, M, test_mask) -> float",
           "W (m, n) a completed matrix, M (m, n) the data (possibly NaN outside the mask), test_mask a "
           "boolean (m, n) array of the held-out entries. Return the held-out mean squared error "
           "(1/|test|) sum over the held-out (i, j) of (W_ij - M_ij)^2, a float.", solution_heldout_error)
def _check_heldout_error(fn, rng, details):
    """The held-out MSE on three cases, with hints for sums, all-entry errors, RMSE and wrong masks."""
    for case, W, M, mask in _heldout_cases(rng):
        got = as_array(call(fn, (W.copy(), M.copy(), mask.copy()), case), "the held-out error", case, ())
        want = solution_heldout_error(W, M, mask)
        got = float(got)
        details[case] = dict(got=got, want=want)
        if abs(got - want) > 1e-10 * want:
            full = not np.isnan(M).any()
            variants = [("the root mean squared error: the exercise asks for the mean squared error "
                         "(no square root)", np.sqrt(want)),
                        ("half the mean squared error: the 1/2 of a training loss 1/2 ||.||^2 does not "
                         "belong in an error measure", want / 2),
                        (f"the held-out sum divided by m n = {W.size}, the size of the matrix: divide by the "
                         f"number of held-out entries, {int(mask.sum())}", want * mask.sum() / W.size)]
            if full:
                variants += [("the error over all entries: on real data only the held-out entries are known, "
                              "and the training entries would flatter the score", float(np.mean((W - M) ** 2))),
                             ("the error on the entries outside test_mask (the training entries): use the "
                              "held-out ones", float(np.mean((W - M)[~mask] ** 2)) if (~mask).any() else None)]
            note = diagnose(np.array([got]), np.array([want]),
                             [(t, np.array([v])) for t, v in variants if v is not None],
                             counts={"held-out entries": int(mask.sum())})
            raise Fail(f"{case}: you return {got:.10g}, the held-out MSE is {want:.10g}"
                        + (f"; {note}" if note else ""))
    return "right on 3 cases (13 held-out entries, a single one, and M unknown off the mask)"


# --------------------------------------------------------------------------- E20 CP gradient (lesson 9)


def solution_cp_gradient(factors, G):
    """E20: dphi/dA_n[i, r] = sum over the other indices of G[i_1, .., i, .., i_N] prod_{n' != n} A_n'[i_n', r]."""
    N = len(factors)
    letters = "abcdefghijklmnopqrstuvwxy"[:N]
    grads = []
    for n in range(N):
        others = [m for m in range(N) if m != n]
        spec = letters + "," + ",".join(letters[m] + "z" for m in others) + "->" + letters[n] + "z"
        grads.append(np.einsum(spec, G, *[factors[m] for m in others]))    # G contracted with every other mode
    return grads


_CP_CASES = (       # (label, dims, R): distinct dimensions, so that a pairing of the wrong modes shows
    ("order 3, dims 3x4x5, R = 1", (3, 4, 5), 1),
    ("order 3, dims 5x2x4, R = 3", (5, 2, 4), 3),
    ("order 4, dims 2x3x4x5, R = 1", (2, 3, 4, 5), 1),
    ("order 4, dims 4x2x5x3, R = 2", (4, 2, 5, 3), 2),
    ("order 2 (the depth-2 matrix case W = A_1 A_2^T), dims 4x3, R = 2", (4, 3), 2),
)


def _cp_cases(rng):
    """The fixed hard cases, then three drawn from the grading seed (orders 3-4, dims 2-5, R 1-4)."""
    drawn = []
    for _ in range(3):
        dims = tuple(int(x) for x in rng.choice(np.arange(2, 6), size=int(rng.integers(3, 5)), replace=False))
        R = int(rng.integers(1, 5))
        drawn.append((f"random order {len(dims)}, dims {'x'.join(map(str, dims))}, R = {R}", dims, R))
    return _CP_CASES + tuple(drawn)


def _cp_variants(factors, G, n):
    """Known wrong versions of dphi/dA_n (each computed, so a hint is given only when it is exact)."""
    N = len(factors)
    others = factors[:n] + factors[n + 1:]
    kolda = khatri_rao(others[::-1])                                    # reversed mode order
    count = int(np.prod([A.shape[0] for A in others]))
    out = [("the Khatri-Rao product of the other factors in the reverse order of your unfolding's columns "
            "(Kolda-Bader order with a row-major unfolding): unfold and Khatri-Rao must order the other "
            "modes the same way", unfold(G, n) @ kolda),
           (f"the right one divided by {count}, the number of entries summed over: a mean over the other "
            "indices where E20 has a sum", unfold(G, n) @ khatri_rao(others) / count)]
    if N > 2:
        swapped = list(factors)
        swapped[(n + 1) % N], swapped[(n + 2) % N] = swapped[(n + 2) % N], swapped[(n + 1) % N]
        if all(a.shape == b.shape for a, b in zip(swapped, factors)):
            out.append(("the gradient with two of the other factors swapped: each factor A_m pairs with "
                        "the index i_m of its own mode", cp_gradients(swapped, G)[n]))
    return out


def _cp_list(got, want, N, case):
    """The student's list of N gradients, with a hint for a list that stops one mode short."""
    if isinstance(got, np.ndarray) or not hasattr(got, "__len__"):
        raise Fail(f"{case}: return a list [dphi/dA_1, ..., dphi/dA_N] of {N} arrays, got {type(got).__name__}")
    if len(got) != N:
        hint = ""
        if len(got) == N - 1 and all(np.shape(g) == w.shape and rel(np.asarray(g, float), w) < 1e-8
                                     for g, w in zip(got, want)):
            hint = ("; they are the right gradients of A_1 ... A_{N-1}: the last mode is dropped (a loop "
                    "over range(N - 1), or a Khatri-Rao product written for order 3?)")
        raise Fail(f"{case}: returned {len(got)} arrays for an order-{N} tensor; return one gradient per "
                   f"factor, [dphi/dA_1, ..., dphi/dA_{N}]{hint}")
    shapes, right = [np.shape(g) for g in got], [w.shape for w in want]
    if shapes != right and shapes == right[::-1]:
        raise Fail(f"{case}: your arrays have the shapes {shapes}, those of the factors in reverse order: "
                   "return [dphi/dA_1, ..., dphi/dA_N] in the order of the factors")
    return list(got)


@exercise("cp_gradient", 9, "E20", "fn(factors, G) -> list of arrays",
          "factors = [A_1, ..., A_N], A_n of shape (d_n, R), W[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]; "
          "G (d_1, ..., d_N) the gradient of ell at W. Return [dphi/dA_1, ..., dphi/dA_N] for "
          "phi = ell(W), each of the shape (d_n, R) of its factor (E20).", solution_cp_gradient)
def _check_cp_gradient(fn, rng, details):
    """E20 against the package's cp_gradients: orders 2-4, distinct dimensions, R = 1 and R > 1."""
    cases = _cp_cases(rng)
    for case, dims, R in cases:
        factors = [rng.standard_normal((d, R)) for d in dims]
        G = rng.standard_normal(dims)
        want = cp_gradients(factors, G)
        got = _cp_list(call(fn, ([A.copy() for A in factors], G.copy()), case), want, len(dims), case)
        got = [as_array(g, f"dphi/dA_{n + 1}", case, A.shape) for n, (g, A) in enumerate(zip(got, factors))]
        errors = [rel(g, w) for g, w in zip(got, want)]
        details[case] = dict(relative_error=errors)
        bad = [n for n, e in enumerate(errors) if e > 1e-8]
        if bad:
            n = bad[0]
            variants = _cp_variants(factors, G, n)
            variants += [(f"the gradient of A_{m + 1} (list in the wrong order: return [dphi/dA_1, ..., "
                          f"dphi/dA_N])", want[m]) for m in range(len(dims)) if m != n]
            note = diagnose(got[n], want[n], variants)
            which = ", ".join(f"A_{m + 1}" for m in bad)
            raise Fail(f"{case}: the gradient of {which} is wrong: dphi/dA_{n + 1} misses E20 by "
                       f"{errors[n]:.2e} (relative; a right answer scores ~1e-15)" + (f"; {note}" if note else ""))
    return (f"right on {len(cases)} CP factorizations (orders 2-4, distinct dimensions, R = 1 to 4), "
            "every factor's gradient within 1e-8 of E20")


# --------------------------------------------------------------------------- E22 component norms (lesson 9)


def solution_component_norm_velocity(factors, G):
    """E22 (balanced components): d sigma_r/dt = -N sigma_r^{2-2/N} <G, W_hat_r>, W_hat_r the unit rank-one tensor."""
    N = len(factors)
    units = [A / np.linalg.norm(A, axis=0) for A in factors]            # w_r^(n) / ||w_r^(n)||
    sigma = np.prod([np.linalg.norm(A, axis=0) for A in factors], axis=0)
    letters = "abcdefghijklmnopqrstuvwxy"[:N]
    spec = letters + "," + ",".join(c + "z" for c in letters) + "->z"
    projection = np.einsum(spec, G, *units)                              # <G, W_hat_r>
    return -N * sigma ** (2 - 2 / N) * projection


_VELOCITY_CASES = (("order 2, dims 4x3, R = 2", (4, 3), 2), ("order 3, dims 3x4x5, R = 3", (3, 4, 5), 3),
                   ("order 4, dims 2x3x4x3, R = 2", (2, 3, 4, 3), 2), ("order 5, dims 2x3x2x4x3, R = 1",
                                                                        (2, 3, 2, 4, 3), 1))


def _balanced(rng, dims, R):
    """Balanced factors: every component's mode norms equal (sigma_r^{1/N}), sigma_r spread over 0.2-3."""
    sigma = rng.uniform(0.2, 3.0, R)
    factors = [rng.standard_normal((d, R)) for d in dims]
    return [A / np.linalg.norm(A, axis=0) * sigma ** (1 / len(dims)) for A in factors]


def _unit_projections(factors, G):
    """``<G, W_hat_r>`` for every component: G contracted with the unit vectors of every mode."""
    N = len(factors)
    letters = "abcdefghijklmnopqrstuvwxy"[:N]
    units = [A / np.linalg.norm(A, axis=0) for A in factors]
    return np.einsum(letters + "," + ",".join(c + "z" for c in letters) + "->z", G, *units)


def _flow_velocity(factors, G, h=1e-6):
    """Central differences of the component norms along dA_n/dt = -dphi/dA_n (E20), G held fixed."""
    grads = cp_gradients(factors, G)
    plus = component_norms([A - h * g for A, g in zip(factors, grads)])
    minus = component_norms([A + h * g for A, g in zip(factors, grads)])
    return (plus - minus) / (2 * h)


@exercise("component_norm_velocity", 9, "E22", "fn(factors, G) -> array",
          "factors = [A_1, ..., A_N], A_n of shape (d_n, R), balanced: for every component r the mode "
          "norms ||w_r^(n)|| (column r of A_n) are equal; G (d_1, ..., d_N) the gradient of ell at the CP "
          "tensor W. Return d sigma_r/dt, sigma_r = prod_n ||w_r^(n)||, under the gradient flow "
          "dA_n/dt = -dphi/dA_n: shape (R,), in the order of the columns (E22).",
          solution_component_norm_velocity)
def _check_component_norm_velocity(fn, rng, details):
    """E22 against central differences of sigma_r along the flow, orders 2-5, balanced components."""
    for case, dims, R in _VELOCITY_CASES:
        factors = _balanced(rng, dims, R)
        G = rng.standard_normal(dims)
        got = as_array(call(fn, ([A.copy() for A in factors], G.copy()), case), "the velocities", case, (R,))
        fd = _flow_velocity(factors, G)
        err = rel(got, fd)
        details[case] = dict(finite_difference=err)
        if err > 1e-6:
            N = len(dims)
            sigma, proj = component_norms(factors), _unit_projections(factors, G)
            variants = [(f"-2 sigma_r^(2 - 2/N) <G, W_hat_r>: the factor in front is N = {N}, the order, "
                         "not the 2 of the matrix case", -2 * sigma ** (2 - 2 / N) * proj),
                        (f"-2 sigma_r <G, W_hat_r>, the depth-2 matrix formula (E6 at N = 2): at order N = {N} "
                         "the factor is N sigma_r^(2 - 2/N)", -2 * sigma * proj),
                        ("-N sigma_r^(1 - 1/N) <G, W_hat_r>: the power is sigma_r^(2 - 2/N) = (sigma_r^2)^(1 - 1/N)",
                         -N * sigma ** (1 - 1 / N) * proj),
                        ("-N sigma_r^(2 - 2/N) <G, W_r> with the unnormalised component W_r: use the unit "
                         "tensor W_hat_r = W_r / sigma_r", -N * sigma ** (2 - 2 / N) * sigma * proj)]
            note = diagnose(got, -N * sigma ** (2 - 2 / N) * proj, variants, depth=N)
            raise Fail(f"{case}: your velocities miss central differences of sigma_r along the gradient flow "
                       f"by {err:.2e} (relative; a right answer scores ~1e-9)" + (f"; {note}" if note else ""))
    return (f"velocities agree with finite differences of the component norms along the flow (< 1e-6) in "
            f"{len(_VELOCITY_CASES)} cases, orders 2-5")
