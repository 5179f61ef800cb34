"""Stable fractional powers, the depth multipliers a_N of E4 and the logarithmic mean of E5."""

import mpmath
import numpy as np
import pytest

from dmf_edu.linalg import depth_multiplier, log_mean, multiplier_matrix, psd_power, resolve_depth

DEPTHS = [1, 2, 3, 4, 7]


def literal_sum(x, y, N):
    """E4 as written: sum_{p=1}^{N} x^{2(N-p)/N} y^{2(p-1)/N} (numpy's 0.0 ** 0.0 == 1.0)."""
    return sum(x ** (2.0 * (N - p) / N) * y ** (2.0 * (p - 1) / N) for p in range(1, N + 1))


def naive_quotient(x, y, N):
    """The closed form (x^2 - y^2)/(x^{2/N} - y^{2/N}) used without care: a planted bug near x = y."""
    with np.errstate(all="ignore"):
        return (x * x - y * y) / (x ** (2.0 / N) - y ** (2.0 / N))


def exact_log_mean(a, b):
    """L(a, b) with 40 significant digits (mpmath), the reference for the float evaluation."""
    mpmath.mp.dps = 40
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return float((a - b) / (mpmath.log(a) - mpmath.log(b)))


@pytest.mark.parametrize("N", DEPTHS)
def test_E4_multiplier_equals_finite_sum_and_quotient(rng, N):
    x, y = rng.uniform(0.1, 3.0, 50), rng.uniform(0.1, 3.0, 50)
    a = depth_multiplier(x, y, N)
    np.testing.assert_allclose(a, literal_sum(x, y, N), rtol=1e-13)
    far = np.abs(x - y) > 0.1                    # quotient form is fine away from the diagonal
    np.testing.assert_allclose(a[far], naive_quotient(x, y, N)[far], rtol=1e-12)
    np.testing.assert_allclose(a, depth_multiplier(y, x, N), rtol=1e-15)      # symmetric


@pytest.mark.parametrize("N", DEPTHS)
def test_E4_multiplier_degenerate_arguments_are_finite_and_exact(N):
    x = np.array([0.0, 0.0, 2.0, 2.0, 1.5, 1e-150])
    y = np.array([0.0, 3.0, 0.0, 2.0, 1.5 * (1 + 1e-13), 1e-150])
    a = depth_multiplier(x, y, N)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, literal_sum(x, y, N), rtol=1e-12, atol=0)
    # 0^0 = 1: a_1 = 1 everywhere; a_N(x, 0) = x^{2(N-1)/N}; a_N(0, 0) = 0 for N >= 2
    assert a[0] == (1.0 if N == 1 else 0.0)
    assert a[2] == pytest.approx(2.0 ** (2.0 * (N - 1) / N), rel=1e-15)
    assert a[3] == pytest.approx(N * 2.0 ** (2.0 * (N - 1) / N), rel=1e-15)


@pytest.mark.parametrize("N", [2, 3, 7])
def test_E4_naive_quotient_is_caught_near_the_diagonal(N):
    """Planted bug: the quotient form gives 0/0 on the diagonal, where the stable form is exact."""
    x = np.array([1.0, 1.0, 0.0])
    y = np.array([1.0 + 1e-13, 1.0, 0.0])
    ref = literal_sum(x, y, N)
    naive = naive_quotient(x, y, N)
    assert np.isnan(naive[1]) and np.isnan(naive[2])                       # 0/0 at x = y
    np.testing.assert_allclose(depth_multiplier(x, y, N), ref, rtol=1e-12)


def test_E5_log_mean_special_values_and_accuracy(rng):
    a, b = rng.uniform(0.01, 5.0, 20), rng.uniform(0.01, 5.0, 20)
    ref = np.array([exact_log_mean(p, q) for p, q in zip(a, b)])
    np.testing.assert_allclose(log_mean(a, b), ref, rtol=1e-14)
    near = np.array([1.0, 1e-200, 7.5])
    close = near * (1 + 1e-11)
    ref_near = np.array([exact_log_mean(p, q) for p, q in zip(near, close)])
    np.testing.assert_allclose(log_mean(near, close), ref_near, rtol=1e-14)
    assert log_mean(3.0, 3.0) == 3.0 and log_mean(3.0, 0.0) == 0.0 and log_mean(0.0, 0.0) == 0.0
    # the multiplier at infinite depth is L(x^2, y^2)
    np.testing.assert_allclose(depth_multiplier(np.sqrt(a), np.sqrt(b), np.inf), ref, rtol=1e-13)


def fitted_rate(limit, x, y, depths=(10, 100, 1000)):
    """Slope of log |a_N/N - limit| / limit against log N."""
    errs = [np.max(np.abs(depth_multiplier(x, y, N) / N - limit) / limit) for N in depths]
    return np.polyfit(np.log(depths), np.log(errs), 1)[0]


def test_E5_rescaled_multiplier_converges_at_rate_one_over_N(rng):
    x, y = rng.uniform(0.2, 3.0, 30), rng.uniform(0.2, 3.0, 30)
    rate = fitted_rate(log_mean(x * x, y * y), x, y)
    assert rate == pytest.approx(-1.0, abs=0.05)
    # planted bug: a wrong limit (the arithmetic mean of x^2, y^2) shows no decay at all
    assert fitted_rate((x * x + y * y) / 2, x, y) > -0.2


def test_multiplier_matrix_shape_and_entries():
    s_rows, s_cols = np.array([3.0, 1.0, 0.0]), np.array([3.0, 1.0])
    A = multiplier_matrix(s_rows, s_cols, 3)
    assert A.shape == (3, 2)
    assert A[2, 1] == pytest.approx(1.0 ** (4.0 / 3.0))
    assert A[1, 0] == pytest.approx(depth_multiplier(1.0, 3.0, 3))


def test_psd_power_roots_identity_and_singular_matrices(rng):
    B = rng.standard_normal((5, 3))
    M = B @ B.T                                   # rank 3, two zero eigenvalues
    half = psd_power(M, 0.5)
    np.testing.assert_allclose(half @ half, M, atol=1e-12 * np.linalg.norm(M))
    third = psd_power(M, 1.0 / 3.0)
    np.testing.assert_allclose(third @ third @ third, M, atol=1e-12 * np.linalg.norm(M))
    np.testing.assert_allclose(psd_power(M, 0.0), np.eye(5), atol=1e-14)   # 0^0 = 1
    # the null space is kept exactly: M^{1/3} kills the vectors M kills
    null = np.linalg.svd(B.T)[2][3:].T
    assert np.linalg.norm(third @ null) < 1e-12 * np.linalg.norm(third)


@pytest.mark.parametrize("bad", [0, -1, 2.5, np.nan, -np.inf])
def test_depth_validation_names_the_argument(bad):
    with pytest.raises(ValueError, match="depth"):
        resolve_depth(bad)
    with pytest.raises(ValueError, match="depth"):
        depth_multiplier(1.0, 2.0, bad)


def test_bad_inputs_raise_clear_errors():
    assert resolve_depth(3.0) == 3 and resolve_depth(np.inf) == np.inf
    with pytest.raises(TypeError, match="depth"):
        resolve_depth("3")
    with pytest.raises(ValueError, match="x holds negative"):
        depth_multiplier(-1.0, 1.0, 2)
    with pytest.raises(ValueError, match="NaN"):
        log_mean(np.nan, 1.0)
    with pytest.raises(ValueError, match="square"):
        psd_power(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="p must"):
        psd_power(np.eye(2), -0.5)


def test_psd_power_reads_only_the_lower_triangle(rng):
    # documented contract: only the lower triangle of M is read.  Junk in the upper triangle
    # must not matter (a transposed argument would read the junk instead).
    B = rng.standard_normal((4, 4))
    M = B @ B.T
    junk = np.tril(M) + np.triu(rng.standard_normal((4, 4)), 1)
    np.testing.assert_allclose(psd_power(junk, 0.5), psd_power(M, 0.5), atol=1e-12 * np.linalg.norm(M))
