r"""Checkers of lessons 5 and 8 (registered in the same registry as ``dmf_edu.exercises``).

* ``completion_schatten_norm`` (lesson 5, E12): the Schatten-p (quasi-)norm of every solution
  ``[[w, 1], [1, 0]]`` of the 2x2 completion, from the E12 identities.
* ``heldout_error`` (lesson 8): the error on the entries a method did *not* see.
"""

from __future__ import annotations

import numpy as np

from .checking import _as_array, _call, _diagnose, _exercise, _Fail

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


@_exercise("completion_schatten_norm", 5, "E12", "fn(w, p) -> array",
           "w an array of reals (any shape), p > 0 or numpy.inf. Return ||[[w, 1], [1, 0]]||_{S_p} = "
           "(sigma_1^p + sigma_2^p)^(1/p) elementwise (p = inf: sigma_1), the same shape as w, with "
           "sigma_1, sigma_2 from the E12 identities sigma_1 sigma_2 = 1, sigma_1^2 + sigma_2^2 = w^2 + 2.",
           solution_completion_schatten_norm)
def _check_completion_schatten_norm(fn, rng, details):
    """E12: against SVDs of the 2x2 completions, negative, zero, large and random w, six p."""
    w = np.concatenate([[0.0, -3.0, 3.0, -0.5, 40.0], rng.uniform(-5, 5, 7)]).reshape(3, 4)
    for p in _SCHATTEN_P:
        case = f"p = {p:g}"
        got = _as_array(_call(fn, (w.copy(), p), case), "the norms", case, w.shape)
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
            note = _diagnose(got, want, variants)
            raise _Fail(f"{case}: at w = {w[worst]:.6g} you return {got[worst]:.10g}, the Schatten-{p:g} "
                        f"norm is {want[worst]:.10g} (largest relative error {err:.1e})"
                        + (f"; {note}" if note else ""))
    return ("right to 1e-9 for p = 1, 1/2, 2, 3, 2/3 and inf at negative, zero, large and random w; "
            "every profile grows with |w| (E12)")
