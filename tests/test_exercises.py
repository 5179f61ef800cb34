"""Exercise checkers (dmf_edu.course.exercises): each passes the right answers and rejects planted wrong
ones with a message that names the fault (E1, E3/E4, E6, effective rank, E4 multiplier, E12, E17):
the common wrong answers of each exercise and the hint each must get."""

import numpy as np
import pytest

import dmf_edu as d
import dmf_edu.course as ex
from dmf_edu.course.checking import REGISTRY
from dmf_edu.course.exercises import _gauss_newton_part, _no_transpose_variant  # noqa: PLC2701  (planted variants)
from dmf_edu.baselines.schatten import schatten_profile
from dmf_edu.landscape.hessian import hessian_vector_product
from dmf_edu.linalg import depth_multiplier, psd_power
from dmf_edu import tensors

def _exact_sigma_velocity(factors, G):
    """d sigma_r/dt from the library's E20: sum_n sigma_r <w_r^(n), -g_r^(n)> / ||w_r^(n)||^2 (any factors)."""
    grads = tensors.cp_gradients(factors, G)
    sigma = tensors.component_norms(factors)
    return -sigma * sum(np.sum(A * g, axis=0) / np.sum(A * A, axis=0) for A, g in zip(factors, grads))


LIBRARY = {"layer_gradients": d.layer_gradients, "end_to_end_operator": d.end_to_end_operator,
           "singular_value_velocity": d.singular_value_velocity, "effective_rank": d.effective_rank,
           "depth_multiplier": depth_multiplier, "hessian_vector_product": hessian_vector_product,
           "heldout_error": lambda W, M, m: float(d.heldout_error(W, d.MatrixCompletion.from_mask(M, m, reduction="mean"))),
           "completion_schatten_norm": lambda w, p: (schatten_profile(w, p) if p == np.inf
                                                     else schatten_profile(w, p) ** (1 / p)),
           "two_layer_gradients": lambda W1, W2, G: d.layer_gradients([W1, W2], G),
           "decayed_balancedness": lambda D0, lam, t: np.exp(-2 * lam * t) * D0,
           "log_mean_limit": lambda x, y: np.where((x > 0) & (y > 0), d.log_mean(
               np.maximum(x, 1e-300) ** 2, np.maximum(y, 1e-300) ** 2), 0.0),
           "cp_gradient": tensors.cp_gradients,
           "component_norm_velocity": lambda f, G: _exact_sigma_velocity(f, G),
           "origin_hessian_eigenvalues": lambda G, k: np.sort(np.concatenate(
               [np.repeat(np.linalg.svd(G, compute_uv=False), k), -np.repeat(np.linalg.svd(G, compute_uv=False), k),
                np.zeros(k * (sum(G.shape) - 2 * min(G.shape)))]))}


def test_names_cover_the_required_exercises_in_course_order():
    names = ex.names()
    assert {"layer_gradients", "end_to_end_operator", "singular_value_velocity", "effective_rank"} <= set(names)
    assert set(names) == set(LIBRARY)
    lessons = [REGISTRY[n].lesson for n in names]
    assert lessons == sorted(lessons)
    for n in names:
        assert n in ex.describe(n) and "implement" in ex.describe(n)


@pytest.mark.parametrize("name", sorted(LIBRARY))
@pytest.mark.parametrize("seed", [0, 1])
def test_right_answers_pass(name, seed):
    """Both the printed reference solution and the package's own function pass, for any seed."""
    for fn in (REGISTRY[name].reference, LIBRARY[name]):
        report = ex.check(name, fn, seed=seed)
        assert report.success, report.message
        assert str(report).startswith("[PASSED]")


def test_solution_prints_source_and_returns_a_passing_function(capsys):
    fn = ex.solution("layer_gradients")
    printed = capsys.readouterr().out
    assert "def solution_layer_gradients" in printed and "E1" in printed
    assert ex.check("layer_gradients", fn).success


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="unknown exercise.*layer_gradients"):
        ex.check("layer_gradient", d.layer_gradients)
    with pytest.raises(TypeError, match="fn must be a function"):
        ex.check("effective_rank", 3.0)


def _failing(name, fn, *fragments):
    """Assert ``fn`` fails exercise ``name`` with a message containing every fragment."""
    report = ex.check(name, fn, seed=0)
    assert not report.success, f"planted bug passed: {report.message}"
    for fragment in fragments:
        assert fragment in report.message, report.message
    return report


# --------------------------------------------------------------------------- E1

def _scaled_layer(k, c):
    def fn(weights, G):
        grads = d.layer_gradients(weights, G)
        if k < len(grads):
            grads[k] = c * grads[k]
        return grads
    return fn


def test_e1_planted_bugs_name_the_layer_and_the_fault():
    # one layer doubled: the message names layer 2 only, the factor 2, and the finite-difference gap
    _failing("layer_gradients", _scaled_layer(1, 2.0), "of layer 2 is wrong", "finite differences",
             "exactly 2 times the right one", "Layers 1, 3 are right")
    _failing("layer_gradients", _scaled_layer(0, 0.5), "of layer 1 is wrong", "0.5 times")
    _failing("layer_gradients", lambda w, G: [-g for g in d.layer_gradients(w, G)], "sign flipped")
    _failing("layer_gradients", lambda w, G: d.layer_gradients(w, G)[::-1], "shape")   # reversed list
    _failing("layer_gradients", lambda w, G: d.layer_gradients(w, G)[:-1], "returned 2 arrays")
    _failing("layer_gradients", lambda w, G: np.zeros(3), "return a list")
    _failing("layer_gradients", lambda w, G: [g.T for g in d.layer_gradients(w, G)], "transposed shape")


def test_e1_square_factors_expose_missing_transposes_and_reversed_lists():
    """At square factors the shapes hide these bugs; the values do not."""
    def no_transposes(weights, G):                  # raises on rectangular factors, wrong on square
        variant = _no_transpose_variant(weights, G)
        return d.layer_gradients(weights, G) if variant is None else variant

    def reversed_if_square(weights, G):
        grads = d.layer_gradients(weights, G)
        return grads[::-1] if all(w.shape == weights[0].shape for w in weights) else grads

    def transposed_if_square(weights, G):
        grads = d.layer_gradients(weights, G)
        return [g.T if g.shape[0] == g.shape[1] else g for g in grads]
    _failing("layer_gradients", no_transposes, "square", "E1 needs the transposes")
    _failing("layer_gradients", reversed_if_square, "square", "wrong order")
    _failing("layer_gradients", transposed_if_square, "transpose of the right gradient")


def test_e1_exceptions_and_nan_are_reported():
    def raises(weights, G):
        return [weights[1] @ weights[0] @ G]          # product order confused: matmul error
    rep = _failing("layer_gradients", raises, "raised ValueError", "of test_exercises.py)")
    assert rep.status == "error" and "W = W_N" not in rep.message      # no unrelated note on exceptions
    _failing("layer_gradients", lambda w, G: [g * np.nan for g in d.layer_gradients(w, G)], "NaN")


# --------------------------------------------------------------------------- E3 / E4

def _eig_power_dropping_zeros(S, p):
    lam, Q = np.linalg.eigh(S)
    keep = lam > 1e-12 * lam.max()
    return (Q[:, keep] * lam[keep] ** p) @ Q[:, keep].T          # (W W^T)^0 = projector: 0^0 = 0


def test_e3_planted_operators_are_rejected_with_hints():
    def rescaled(W, Z, N):
        return d.end_to_end_operator(W, Z, N) / N
    _failing("end_to_end_operator", rescaled, "depth 2", "divided by N", "a factor N is missing", "1/N")
    _failing("end_to_end_operator", lambda W, Z, N: -d.end_to_end_operator(W, Z, N), "sign flipped")

    def shifted(W, Z, N):
        return sum(psd_power(W @ W.T, (N - j) / N) @ Z @ psd_power(W.T @ W, j / N) for j in range(1, N + 1))
    _failing("end_to_end_operator", shifted, "exponents j/N")

    def halved(W, Z, N):
        return sum(psd_power(W @ W.T, (N - j) / (2 * N)) @ Z @ psd_power(W.T @ W, (j - 1) / (2 * N))
                   for j in range(1, N + 1))
    _failing("end_to_end_operator", halved, "halved")

    def swapped(W, Z, N):
        if W.shape[0] != W.shape[1]:
            return d.end_to_end_operator(W, Z, N)
        return sum(psd_power(W.T @ W, (N - j) / N) @ Z @ psd_power(W @ W.T, (j - 1) / N) for j in range(1, N + 1))
    _failing("end_to_end_operator", swapped, "square", "sides swapped")

    def zero_to_the_zero_is_zero(W, Z, N):
        return sum(_eig_power_dropping_zeros(W @ W.T, (N - j) / N) @ Z
                   @ _eig_power_dropping_zeros(W.T @ W, (j - 1) / N) for j in range(1, N + 1))
    _failing("end_to_end_operator", zero_to_the_zero_is_zero, "0^0 = 1")

    def closed_form(W, Z, N):                      # (x^2 - y^2)/(x^{2/N} - y^{2/N}): 0/0 on the diagonal
        U, s, Vt = np.linalg.svd(W)
        x, y = np.zeros(W.shape[0]), np.zeros(W.shape[1])
        x[:s.size], y[:s.size] = s, s
        X, Y = x[:, None], y[None, :]
        with np.errstate(all="ignore"):
            a = (X ** 2 - Y ** 2) / (X ** (2 / N) - Y ** (2 / N))
        return U @ (a * (U.T @ Z @ Vt.T)) @ Vt
    _failing("end_to_end_operator", closed_form, "NaN")
    _failing("end_to_end_operator", lambda W, Z, N: (W @ Z.T), "shape")


# --------------------------------------------------------------------------- E6

def test_e6_planted_velocities_are_rejected_with_hints():
    sv = d.singular_value_velocity
    _failing("singular_value_velocity", lambda W, G, N: sv(W, G, N)[::-1], "ascending order")
    _failing("singular_value_velocity", lambda W, G, N: -sv(W, G, N), "sign flipped")
    _failing("singular_value_velocity", lambda W, G, N: sv(W, G, N) / N, "depth 2", "a factor N is missing")
    _failing("singular_value_velocity", lambda W, G, N: sv(W, G, N) * N, "depth 2", "a factor N too many")
    _failing("singular_value_velocity", lambda W, G, N: 0 * W[0, :min(W.shape)], "all zeros")

    def exponent_swapped(W, G, N):                  # (sigma^2)^{1/N} instead of (sigma^2)^{1-1/N}
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        return -N * (s ** 2) ** (1 / N) * np.einsum("ir,ij,rj->r", U, G, Vt)
    _failing("singular_value_velocity", exponent_swapped, "the exponent is 1 - 1/N")

    def sigma_not_squared(W, G, N):
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        return -N * s ** (1 - 1 / N) * np.einsum("ir,ij,rj->r", U, G, Vt)
    _failing("singular_value_velocity", sigma_not_squared, "(sigma^2)^{1-1/N}")
    _failing("singular_value_velocity", lambda W, G, N: sv(W, G, N)[:-1], "shape")


# --------------------------------------------------------------------------- effective rank

def _entropy_rank(W, squares=False, base=np.e, exponentiate=True):
    s = np.linalg.svd(W, compute_uv=False)
    s = s ** 2 if squares else s
    p = s / s.sum()
    p = p[p > 0]
    H = -np.sum(p * np.log(p)) / np.log(base)
    return float(np.exp(H)) if exponentiate else float(H)


def test_effective_rank_planted_variants_get_their_hints():
    _failing("effective_rank", lambda W: _entropy_rank(W, exponentiate=False), "Shannon entropy")
    _failing("effective_rank", lambda W: _entropy_rank(W, squares=True), "not their squares")
    _failing("effective_rank", lambda W: _entropy_rank(W, base=2), "natural logarithm")

    def stable_rank(W):
        s = np.linalg.svd(W, compute_uv=False)
        return float(np.sum(s ** 2) / s[0] ** 2)
    _failing("effective_rank", stable_rank, "stable rank")

    def naive(W):                                   # 0 * log 0 = nan
        s = np.linalg.svd(W, compute_uv=False)
        p = s / s.sum()
        with np.errstate(all="ignore"):
            return float(np.exp(-np.sum(p * np.log(p))))
    _failing("effective_rank", naive, "diag(3, 1, 0, 0)", "NaN")
    _failing("effective_rank", lambda W: np.ones(2), "shape")


# --------------------------------------------------------------------------- E4 multiplier, E17

def test_depth_multiplier_planted_variants():
    def closed(x, y, N):
        with np.errstate(all="ignore"):
            return (x ** 2 - y ** 2) / (x ** (2 / N) - y ** (2 / N))
    _failing("depth_multiplier", closed, "depth 1", "finite sum")   # N = 1 is the first case

    def zero_power_zero(x, y, N):                   # 0^0 taken as 0
        return sum(np.where(x > 0, x, 0) ** (2 * (N - p) / N) * np.where(y > 0, y ** (2 * (p - 1) / N), 0.0)
                   for p in range(1, N + 1))
    _failing("depth_multiplier", zero_power_zero, "0^0 = 1")
    _failing("depth_multiplier", lambda x, y, N: depth_multiplier(x, y, N) / N, "depth 2")


def test_hessian_vector_product_planted_bugs():
    def half(problem, weights, V):
        return [0.5 * h for h in hessian_vector_product(problem, weights, V)]
    _failing("hessian_vector_product", half, "0.5 times")

    rep = _failing("hessian_vector_product", _gauss_newton_part, "depth 2", "wrong block(s)",
                   "Gauss-Newton part only")
    assert rep.details


def test_report_details_give_the_exact_error_of_a_doubled_answer():
    # a doubled a_N scores |2a - a| / |a| = 1 exactly (up to rounding) in the report's numbers
    rep = ex.check("depth_multiplier", lambda x, y, N: 2 * depth_multiplier(x, y, N), seed=0)
    assert not rep.success
    assert rep.details["depth 1"]["max_relative_error"] == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------- clear messages for common slips

def _clipped_power(S, p):
    lam, Q = np.linalg.eigh(S)
    return (Q * np.clip(lam, 0, None) ** p) @ Q.T       # negatives clipped, rounding-level positives kept


def test_e3_eigh_with_clipped_eigenvalues_gets_the_rounding_explanation():
    """The issue's case: eigh + clipping is right up to (1e-16)^(1/N); the hint says why and what to do."""
    def clipped(W, Z, N):
        return sum(_clipped_power(W @ W.T, (N - j) / N) @ Z @ _clipped_power(W.T @ W, (j - 1) / N)
                   for j in range(1, N + 1))
    for seed in range(3):
        report = ex.check("end_to_end_operator", clipped, seed=seed)
        assert not report.success
        for fragment in ("rounding noise", "fractional power", "below 1e-12 times the largest",
                         "clipping negatives at 0 is not enough"):
            assert fragment in report.message, report.message
    assert "1e-12 times the largest" in ex.describe("end_to_end_operator")   # the threshold is stated up front


def test_all_zero_results_are_named_plainly():
    for name, fn in (("end_to_end_operator", lambda W, Z, N: np.zeros_like(Z)),
                     ("layer_gradients", lambda w, G: [np.zeros_like(x) for x in w]),
                     ("hessian_vector_product", lambda problem, w, V: [np.zeros_like(x) for x in w])):
        report = _failing(name, fn, "returns all zeros")
        assert "times the right one" not in report.message


def test_mean_versus_sum_is_named_when_the_factor_is_a_count():
    from dmf_edu.course.checking import diagnose as _diagnose
    want = np.arange(1.0, 7.0)
    assert "a sum where the exercise asks for a mean" in _diagnose(12 * want, want, counts={"observed entries": 12})
    assert "a mean where the exercise asks for a sum" in _diagnose(want / 12, want, counts={"observed entries": 12})
    assert "factor N is missing" in _diagnose(want / 3, want, depth=3)
    assert "exactly 2.5 times" in _diagnose(2.5 * want, want, depth=3, counts={"observed entries": 12})
    assert _diagnose(want + 1, want) == ""


# --------------------------------------------------------------------------- E12 Schatten profile (lesson 5)

def test_schatten_profile_planted_variants_get_their_hints():
    ref = ex.reference("completion_schatten_norm")

    def sigmas(w):
        root = np.sqrt(np.asarray(w, float) ** 2 + 4)
        return (root + np.abs(w)) / 2, (root - np.abs(w)) / 2
    _failing("completion_schatten_norm", lambda w, p: schatten_profile(w, p), "p = 0.5", "take the 1/p-th root")
    _failing("completion_schatten_norm",
             lambda w, p: ref(w, p) if p in (1.0, np.inf) else sum(s ** (1 / p) for s in sigmas(w)) ** p,
             "exponents p and 1/p are swapped")
    _failing("completion_schatten_norm", lambda w, p: np.sqrt(np.asarray(w) ** 2 + 4), "nuclear norm")
    _failing("completion_schatten_norm", lambda w, p: np.sqrt(np.asarray(w) ** 2 + 2), "p = 1", "Frobenius")

    def eigenvalues(w, p):
        root = np.sqrt(np.asarray(w, float) ** 2 + 4)
        return ((w + root) / 2) ** p + ((w - root) / 2) ** p
    _failing("completion_schatten_norm", eigenvalues, "p = 1", "the trace")
    _failing("completion_schatten_norm", lambda w, p: ref(w, p)[0], "shape")
    _failing("completion_schatten_norm", lambda w, p: ref(w, p) if p != np.inf else sigmas(w)[1], "p = inf")


# --------------------------------------------------------------------------- held-out error (lesson 8)

def test_heldout_error_planted_variants_get_their_hints():
    def on(W, M, m):
        return W[m] - M[m]
    _failing("heldout_error", lambda W, M, m: float(np.sum(on(W, M, m) ** 2)),
             "times 13, the number of held-out entries", "a sum where the exercise asks for a mean")
    _failing("heldout_error", lambda W, M, m: float(np.mean((W - M) ** 2)), "the error over all entries")
    _failing("heldout_error", lambda W, M, m: float(np.mean((W - M)[~m] ** 2)), "outside test_mask")
    _failing("heldout_error", lambda W, M, m: float(np.sqrt(np.mean(on(W, M, m) ** 2))), "no square root")
    _failing("heldout_error", lambda W, M, m: 0.5 * float(np.mean(on(W, M, m) ** 2)), "half the mean squared")
    _failing("heldout_error", lambda W, M, m: float(np.sum(on(W, M, m) ** 2)) / W.size, "size of the matrix")
    _failing("heldout_error", lambda W, M, m: 0.0, "returns all zeros")

    def nan_safe_only_with_full_data(W, M, m):     # uses the mean of M over all entries: NaN on real data
        return float(np.mean(on(W, M, m) ** 2) + 0 * np.mean(M))
    _failing("heldout_error", nan_safe_only_with_full_data, "NaN elsewhere", "NaN")


@pytest.mark.parametrize("p", [1.0, 0.5, 2.0, 3.0, np.inf])
def test_completion_schatten_reference_equals_svd_of_the_completion(rng, p):
    """E12 reference solution against the definition: the SVD of [[w, 1], [1, 0]] entry by entry, on a
    2-D (non-symmetric) grid of w so the output keeps w's layout.  Both sides are one SVD / closed form
    of a 2x2 matrix with sigma_1 sigma_2 = 1: they agree to rounding (1e-12 relative)."""
    from dmf_edu.course.checkers import solution_completion_schatten_norm

    w = np.concatenate([[0.0, -3.0, 40.0], rng.uniform(-5, 5, 9)]).reshape(3, 4)
    got = solution_completion_schatten_norm(w, p)
    assert got.shape == w.shape
    for i, j in np.ndindex(w.shape):
        s = np.linalg.svd(np.array([[w[i, j], 1.0], [1.0, 0.0]]), compute_uv=False)
        want = s[0] if p == np.inf else np.sum(s ** p) ** (1.0 / p)
        assert got[i, j] == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------- E20, E22 (lesson 9)

def _reversed_khatri_rao(factors, G):
    """Kolda-Bader order of the other factors with a row-major unfolding."""
    return [tensors.unfold(G, n) @ tensors.khatri_rao((factors[:n] + factors[n + 1:])[::-1])
            for n in range(len(factors))]


def test_cp_gradient_planted_bugs_get_their_hints():
    grads = tensors.cp_gradients
    _failing("cp_gradient", _reversed_khatri_rao, "dims 3x4x5", "reverse order of your unfolding")
    mean = lambda f, G: [g * A.shape[0] / G.size for g, A in zip(grads(f, G), f)]     # noqa: E731
    _failing("cp_gradient", mean, "a mean over the other indices where E20 has a sum")
    drop_last = lambda f, G: grads(f, G)[:-1] if len(f) >= 4 else grads(f, G)          # noqa: E731
    _failing("cp_gradient", drop_last, "order 4", "returned 3 arrays", "the last mode is dropped")
    _failing("cp_gradient", lambda f, G: grads(f, G)[::-1], "reverse order")
    _failing("cp_gradient", lambda f, G: [g.T for g in grads(f, G)], "transposed shape")
    _failing("cp_gradient", lambda f, G: [-g for g in grads(f, G)], "sign flipped")


def test_cp_gradient_reversed_order_is_invisible_only_to_symmetric_cases():
    """The reversed Khatri-Rao order is right at order 2 and on a symmetric cube: hence distinct dimensions."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 2))
    G = rng.standard_normal((4, 4, 4))
    G = sum(np.transpose(G, p) for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)))
    for got, want in zip(_reversed_khatri_rao([A, A, A], G), tensors.cp_gradients([A, A, A], G)):
        assert np.allclose(got, want)
    two = [rng.standard_normal((4, 2)), rng.standard_normal((3, 2))]
    G2 = rng.standard_normal((4, 3))
    assert all(np.allclose(a, b) for a, b in zip(_reversed_khatri_rao(two, G2), tensors.cp_gradients(two, G2)))


def test_component_norm_velocity_planted_bugs_get_their_hints():
    ref = REGISTRY["component_norm_velocity"].reference
    _failing("component_norm_velocity", lambda f, G: ref(f, G) / len(f), "order 2", "a factor N is missing")
    two_for_n = lambda f, G: ref(f, G) * 2 / len(f)                                 # noqa: E731  right at N = 2
    _failing("component_norm_velocity", two_for_n, "order 3", "not the 2 of the matrix case")

    def depth_two_formula(f, G):
        sigma = tensors.component_norms(f)
        return ref(f, G) * 2 / len(f) * sigma ** (1 - (2 - 2 / len(f)))
    _failing("component_norm_velocity", depth_two_formula, "order 3", "the depth-2 matrix formula")

    def sigma_to_one_minus_one_over_n(f, G):
        sigma, N = tensors.component_norms(f), len(f)
        return ref(f, G) * sigma ** ((1 - 1 / N) - (2 - 2 / N))
    _failing("component_norm_velocity", sigma_to_one_minus_one_over_n, "order 2", "the power is sigma_r^(2 - 2/N)")
    _failing("component_norm_velocity", lambda f, G: ref(f, G) * tensors.component_norms(f), "unnormalised")
    _failing("component_norm_velocity", lambda f, G: -ref(f, G), "sign flipped")
    _failing("component_norm_velocity", lambda f, G: ref(f, G)[:-1], "shape")
