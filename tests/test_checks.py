"""The gradient checkers catch planted bugs (E1) at random rectangular points."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu.factorization import backward, prefix_products


def missing_transpose(weights, G):
    """dphi/dW_1 = (W_3 W_2)^T G, planted as W_2 W_3^T G (W_2 square, so shapes still fit)."""
    grads = d.layer_gradients(weights, G)
    grads[0] = weights[1] @ weights[2].T @ G
    return grads


def wrong_factor(weights, G):
    """All layer gradients doubled (the 2 of the mean loss applied twice, say)."""
    return [2.0 * g for g in d.layer_gradients(weights, G)]


def make_problem(rng):
    M = d.random_low_rank(5, 4, 2, rng=rng)
    return d.sample_completion(M, 9, rng=rng)


def missing_mask_factory(problem):
    """Uses W - M on every entry instead of only on the observed ones."""
    def grad(weights, G):
        W = d.end_to_end(weights)
        return d.layer_gradients(weights, W - problem.truth)
    return grad


@pytest.fixture
def point(rng):
    problem = make_problem(rng)
    weights = d.init_weights((5, 4), 3, 1.0, width=[6, 6], rng=rng)
    return problem, weights


def test_correct_gradient_passes_all_three_checks(point, rng):
    problem, weights = point
    res = d.check_layer_gradients(problem, weights, rng=rng)
    assert res["directional"] < 1e-7 and res["entrywise"] < 1e-5
    assert 1.9 < res["taylor_slope"] < 2.1


@pytest.mark.parametrize("bug", ["missing_transpose", "wrong_factor", "missing_mask"])
def test_every_check_catches_every_planted_bug(point, rng, bug):
    problem, weights = point
    fn = {"missing_transpose": missing_transpose, "wrong_factor": wrong_factor,
          "missing_mask": missing_mask_factory(problem)}[bug]
    res = d.check_layer_gradients(problem, weights, rng=rng, grad_fn=fn)
    assert res["directional"] > 1e-2
    assert res["entrywise"] > 1e-2
    assert res["taylor_slope"] < 1.5
    if bug == "missing_transpose":
        assert res["entrywise_where"][0] == 0     # names the wrong layer: W_1


def test_planted_transpose_is_invisible_at_scaled_identity():
    """At commuting, scaled-identity points this bug cannot be seen: the checks elsewhere use rectangular points."""
    weights = d.init_weights((4, 4), 3, 0.5, kind="identity")
    G = np.diag([1.0, 2.0, 3.0, 4.0])
    for a, b in zip(missing_transpose(weights, G), d.layer_gradients(weights, G)):
        np.testing.assert_allclose(a, b)


def test_checkers_on_plain_functions(rng):
    A = rng.standard_normal((4, 4))
    A = A + A.T
    f = lambda xs: 0.5 * float(xs[0] @ A @ xs[0])          # noqa: E731
    good = lambda xs: [A @ xs[0]]                            # noqa: E731
    bad = lambda xs: [A.T @ xs[0] + 0.1 * xs[0]]             # noqa: E731
    x = [rng.standard_normal(4)]
    assert d.directional_check(f, good, x, rng=rng) < 1e-8
    assert d.directional_check(f, bad, x, rng=rng) > 1e-3
    assert abs(d.taylor_slope(f, good, x, rng=rng) - 2) < 0.1
    assert d.taylor_slope(f, bad, x, rng=rng) < 1.3
    with pytest.raises(ValueError, match="grad\\[0\\] has shape"):
        d.directional_check(f, lambda xs: [np.zeros(3)], x)


def test_sparse_backward_matches_in_checker(rng):
    M = d.random_low_rank(600, 500, 2, rng=rng)
    problem = d.sample_completion(M, 3000, rng=rng)
    assert problem.method == "sparse"
    ws = d.init_weights((600, 500), 2, 1.0, width=8, rng=rng)
    loss, G = problem.loss_and_gradient(d.end_to_end(ws))
    dense = d.layer_gradients(ws, G.toarray())
    sparse = backward(ws, prefix_products(ws), G)
    for a, b in zip(dense, sparse):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_checkers_report_the_exact_error_of_a_doubled_gradient(rng):
    """The checkers' numbers are exact where the answer is known, not just small or large.

    For a quadratic f the central difference is exact up to rounding, so a gradient planted as
    2 g scores exactly |g.v - 2 g.v| / |2 g.v| = 1/2 along every direction, and entry-wise
    |g - 2g| / (|g| + |2g|) = 1/3 at the largest entries; the Taylor remainder of the correct
    gradient is exactly t^2 v.Av / 2, a slope of 2 up to rounding (1e-3 leaves room for it).
    """
    A = rng.standard_normal((4, 4))
    A = A @ A.T + np.eye(4)
    f = lambda xs: 0.5 * float(xs[0] @ A @ xs[0])          # noqa: E731
    good = lambda xs: [A @ xs[0]]                            # noqa: E731
    doubled = lambda xs: [2.0 * (A @ xs[0])]                 # noqa: E731
    x = [rng.standard_normal(4)]
    assert d.directional_check(f, doubled, x, rng=rng) == pytest.approx(0.5, abs=1e-6)
    err, where = d.entrywise_check(f, doubled, x, rng=rng)
    assert err == pytest.approx(1 / 3, abs=1e-5)
    assert where[0] == 0 and where[1][0] == int(np.argmax(np.abs(A @ x[0])))
    assert d.taylor_slope(f, good, x, rng=rng) == pytest.approx(2.0, abs=1e-3)


def test_check_layer_gradients_reports_exact_errors_of_a_doubled_gradient(point, rng):
    # 2x the E1 gradient: directional error 1/2 and entry-wise 1/3 exactly, up to the O(h^2)
    # error of the central difference (about 1e-9 here; 1e-4 is generous)
    problem, weights = point
    res = d.check_layer_gradients(problem, weights, rng=rng, grad_fn=wrong_factor)
    assert res["directional"] == pytest.approx(0.5, abs=1e-4)
    assert res["entrywise"] == pytest.approx(1 / 3, abs=1e-4)
