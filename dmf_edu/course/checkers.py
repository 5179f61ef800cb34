r"""Checkers of lessons 5 and 8 (registered in the same registry as ``dmf_edu.course.exercises``).

* ``completion_schatten_norm`` (lesson 5, E12): the Schatten-p (quasi-)norm of every solution
  ``[[w, 1], [1, 0]]`` of the 2x2 completion, from the E12 identities.
* ``heldout_error`` (lesson 8, THEORY.md §9): the error on the entries a method did *not* see.
"""

from __future__ import annotations

import numpy as np

from .checking import Fail, as_array, call, diagnose, exercise

__all__ = ["solution_completion_schatten_norm", "solution_heldout_error"]

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
