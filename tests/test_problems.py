"""Completion and sensing problems, data generators, their errors."""

import numpy as np
import pytest

import dmf_edu as d


def test_completion_hand_example():
    p = d.MatrixCompletion((2, 3), rows=[0, 1], cols=[2, 0], values=[1.0, -2.0])
    W = np.array([[0.0, 5.0, 3.0], [1.0, 7.0, 0.0]])
    # residuals 3 - 1 = 2 and 1 - (-2) = 3
    assert p.loss(W) == pytest.approx(0.5 * (4 + 9))
    np.testing.assert_allclose(p.gradient(W), [[0, 0, 2.0], [3.0, 0, 0]])
    pm = d.MatrixCompletion((2, 3), [0, 1], [2, 0], [1.0, -2.0], reduction="mean")
    assert pm.loss(W) == pytest.approx((4 + 9) / 2)
    np.testing.assert_allclose(pm.gradient(W), [[0, 0, 2.0], [3.0, 0, 0]])   # 2/|Omega| * r
    assert p.train_error(W) == pytest.approx(6.5)


def test_sparse_and_dense_completion_agree(rng):
    M = d.random_low_rank(60, 50, 3, rng=rng)
    flat = rng.choice(3000, 200, replace=False)
    rows, cols = np.divmod(flat, 50)
    W = rng.standard_normal((60, 50))
    for reduction in ("sum", "mean"):
        dense = d.MatrixCompletion((60, 50), rows, cols, M[rows, cols], reduction, method="dense")
        sparse = d.MatrixCompletion((60, 50), rows, cols, M[rows, cols], reduction, method="sparse")
        ld, Gd = dense.loss_and_gradient(W)
        ls, Gs = sparse.loss_and_gradient(W)
        assert ld == pytest.approx(ls, rel=1e-13)
        np.testing.assert_allclose(Gs.toarray(), Gd, atol=1e-14)
        # batched W on the sparse path gives a dense stack
        Wb = np.stack([W, 2 * W])
        lb, Gb = sparse.loss_and_gradient(Wb)
        np.testing.assert_allclose(Gb[0], Gd, atol=1e-14)


def test_auto_method_choice(rng):
    small = d.sample_completion(d.random_low_rank(100, 100, 5, rng=rng), 2000, rng=rng)
    big = d.sample_completion(d.random_low_rank(2000, 2000, 5, rng=rng), 40_000, rng=rng)
    assert small.method == "dense" and big.method == "sparse"
    assert not hasattr(big, "mask")          # no m x n array stored on the sparse path


def test_sensing_gradient_and_reductions(rng):
    M = d.random_low_rank(6, 5, 2, rng=rng)
    for reduction in ("sum", "mean"):
        p = d.gaussian_sensing(M, 12, rng=rng, reduction=reduction)
        assert p.loss(M) == pytest.approx(0.0, abs=1e-20)
        W = rng.standard_normal((6, 5))
        r = np.einsum("kij,ij->k", p.A, W) - p.y
        c = 0.5 if reduction == "sum" else 1 / 12
        assert p.loss(W) == pytest.approx(c * np.sum(r ** 2))
        G = p.gradient(W)
        np.testing.assert_allclose(G, 2 * c * np.einsum("k,kij->ij", r, p.A), rtol=1e-12)
        V = rng.standard_normal((6, 5))
        h = 1e-6
        fd = (p.loss(W + h * V) - p.loss(W - h * V)) / (2 * h)
        assert fd == pytest.approx(np.sum(G * V), rel=1e-7)


def test_gaussian_sensing_variance(rng):
    p = d.gaussian_sensing(np.ones((20, 10)), 500, rng=rng)
    assert p.A.shape == (500, 20, 10)
    np.testing.assert_allclose(np.std(p.A), 1 / 10, rtol=0.02)


def test_commuting_sensing_is_symmetric_and_commuting(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    p = d.commuting_sensing([3.0, 1.0, 0.0, 0.0], 3, rng=rng, basis=Q)
    for A in p.A:
        np.testing.assert_allclose(A, A.T, atol=1e-14)
        np.testing.assert_allclose(A @ p.A[0], p.A[0] @ A, atol=1e-13)
    assert p.loss(p.truth) == pytest.approx(0.0, abs=1e-25)


def test_random_low_rank_and_sampling(rng):
    M = d.random_low_rank(30, 20, 4, rng=rng)
    assert np.linalg.matrix_rank(M) == 4
    assert np.linalg.norm(M) == pytest.approx(np.sqrt(600))
    p = d.sample_completion(M, 150, rng=rng)
    flat = p.rows * 20 + p.cols
    assert len(np.unique(flat)) == 150 and p.n_observations == 150
    np.testing.assert_array_equal(p.values, M[p.rows, p.cols])
    assert p.observed_mask().sum() == 150
    a = d.sample_completion(M, 50, rng=3)
    b = d.sample_completion(M, 50, rng=3)
    np.testing.assert_array_equal(a.rows, b.rows)


def test_evaluate_reports_errors(rng):
    M = d.random_low_rank(10, 10, 2, rng=rng)
    p = d.sample_completion(M, 40, rng=rng)
    ev = p.evaluate(M)
    assert ev["loss"] == 0 and ev["reconstruction_error"] == 0 and ev["relative_error"] == 0
    ev = p.evaluate(np.zeros((10, 10)))
    assert ev["reconstruction_error"] == pytest.approx(1.0)      # ||M||_F^2 = mn
    assert ev["relative_error"] == pytest.approx(1.0)


def test_batched_values_one_problem_per_trial(rng):
    M = rng.standard_normal((2, 4, 3))
    rows, cols = np.array([0, 1, 3]), np.array([2, 0, 1])
    p = d.MatrixCompletion((4, 3), rows, cols, M[:, rows, cols])
    W = rng.standard_normal((2, 4, 3))
    for i in range(2):
        single = d.MatrixCompletion((4, 3), rows, cols, M[i, rows, cols])
        assert p.loss(W)[i] == pytest.approx(single.loss(W[i]))


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: d.MatrixCompletion((3, 3), [0, 5], [0, 1], [1.0, 2.0]), ValueError, "rows has indices outside"),
    (lambda: d.MatrixCompletion((3, 3), [0, -1], [0, 1], [1.0, 2.0]), ValueError, "rows has indices outside"),
    (lambda: d.MatrixCompletion((3, 3), [0, 1], [0, 3], [1.0, 2.0]), ValueError, "cols has indices outside"),
    (lambda: d.MatrixCompletion((3, 3), [0, 0], [1, 1], [1.0, 2.0]), ValueError, "more than once"),
    (lambda: d.MatrixCompletion((3, 3), [0, 1], [0, 1], [1.0, np.nan]), ValueError, "values contains 1 NaN"),
    (lambda: d.MatrixCompletion((3, 3), [0, 1], [0, 1], [1.0]), ValueError, "values has 1 entries"),
    (lambda: d.MatrixCompletion((3, 3), [0, 1], [0], [1.0, 2.0]), ValueError, "same length"),
    (lambda: d.MatrixCompletion((3, 3), [], [], []), ValueError, "at least one observation"),
    (lambda: d.MatrixCompletion((3, 3), [0.5], [0], [1.0]), TypeError, "integer indices"),
    (lambda: d.MatrixCompletion((3, 3), [0], [0], [1.0], reduction="max"), ValueError, "reduction must be"),
    (lambda: d.MatrixCompletion((3, 3), [0], [0], [1.0], method="fast"), ValueError, "method must be"),
    (lambda: d.MatrixSensing(np.zeros((2, 3)), [1.0, 2.0]), ValueError, "A must have 3 dimension"),
    (lambda: d.MatrixSensing(np.zeros((2, 3, 3)), [1.0]), ValueError, "y has 1 values"),
    (lambda: d.random_low_rank(5, 4, 5), ValueError, "rank 5 is larger than min"),
    (lambda: d.random_low_rank(5, 4, 0), ValueError, "rank must be >= 1"),
    (lambda: d.sample_completion(np.ones((3, 3)), 10), ValueError, "more than the 9 entries"),
    (lambda: d.sample_completion(np.full((3, 3), np.inf), 2), ValueError, "M contains 9 NaN"),
])
def test_problem_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_wrong_W_shape_named(rng):
    p = d.sample_completion(np.ones((4, 3)), 5, rng=rng)
    with pytest.raises(ValueError, match=r"W has shape \(3, 4\) but the problem is 4x3"):
        p.loss(np.ones((3, 4)))
    with pytest.raises(ValueError, match="W contains"):
        p.gradient(np.full((4, 3), np.nan))


def test_single_precision_sensing_agrees_to_float32_accuracy(rng):
    M = d.random_low_rank(12, 10, 2, rng=rng)
    p64 = d.gaussian_sensing(M, 60, rng=1)
    p32 = d.gaussian_sensing(M, 60, rng=1, precision="single")
    W = rng.standard_normal((12, 10))
    l64, G64 = p64.loss_and_gradient(W)
    l32, G32 = p32.loss_and_gradient(W)
    assert G32.dtype == np.float64 and abs(l32 / l64 - 1) < 1e-5
    assert np.linalg.norm(G32 - G64) < 1e-5 * np.linalg.norm(G64)
    assert p32.loss(M) < 1e-10                   # y in float64, products in float32
    with pytest.raises(ValueError, match="precision must be"):
        d.gaussian_sensing(M, 5, precision="half")


def test_index_dtypes_and_auto_with_batched_values(rng):
    with pytest.raises(TypeError, match="rows must hold integer indices"):
        d.MatrixCompletion((3, 3), ["a"], [0], [1.0])
    with pytest.raises(TypeError, match="cols must hold integer indices"):
        d.MatrixCompletion((3, 3), [0, 1], [True, False], [1.0, 2.0])
    flat = rng.choice(600 * 600, 1000, replace=False)
    rows, cols = np.divmod(flat, 600)
    p = d.MatrixCompletion((600, 600), rows, cols, np.zeros((2, 1000)))     # auto: dense for batched values
    assert p.method == "dense"


def test_generators_keep_the_given_truth_and_measure_it(rng):
    # the problem's truth is the matrix passed in (not a copy changed on the way) and every
    # measurement is <A_k, M>, recomputed here independently of the library
    M = rng.standard_normal((5, 4))
    p = d.sample_completion(M, 8, rng=rng)
    np.testing.assert_array_equal(p.truth, M)
    np.testing.assert_array_equal(p.values, M[p.rows, p.cols])
    s = d.gaussian_sensing(M, 7, rng=rng)
    np.testing.assert_array_equal(s.truth, M)
    np.testing.assert_allclose(s.y, np.einsum("kij,ij->k", s.A, M), rtol=1e-12)
    # symmetric commuting sensing: M = Q diag(lam) Q^T for the given (non-symmetric) Q
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lam = np.array([3.0, 1.0, 0.0])
    c = d.commuting_sensing(lam, 4, rng=rng, basis=Q)
    np.testing.assert_allclose(c.truth, (Q * lam) @ Q.T, atol=1e-14)
    np.testing.assert_allclose(c.y, np.einsum("kij,ij->k", c.A, c.truth), atol=1e-12)
    for A in c.A:                                          # A_k = Q diag(a_k) Q^T
        assert np.max(np.abs(Q.T @ A @ Q - np.diag(np.diag(Q.T @ A @ Q)))) < 1e-12


def test_observed_mask_marks_omega():
    p = d.MatrixCompletion((2, 3), rows=[0, 1], cols=[2, 0], values=[1.0, -2.0])
    np.testing.assert_array_equal(p.observed_mask(), [[False, False, True], [True, False, False]])
