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
        assert Gs.format == "csr"            # m > n: the faster layout for the backward products
        wide = d.MatrixCompletion((50, 60), cols, rows, M[rows, cols], reduction, method="sparse")
        assert wide.gradient(W.T).format == "csc"      # m < n
        np.testing.assert_allclose(wide.gradient(W.T).toarray(), Gd.T, atol=1e-14)
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


def test_finite_check_of_a_large_array():
    """Arrays of >= 2^16 entries are first checked by one dot product: NaN and +-inf anywhere are
    still caught (in any memory order), and huge finite entries whose squares overflow are not
    mistaken for infinite ones."""
    from dmf_edu._validate import as_float_array, all_finite

    W = np.zeros((300, 250))                        # 75 000 entries
    for bad in (np.nan, np.inf, -np.inf):
        for X in (W.copy(), np.asfortranarray(W)):
            X[123, 45] = bad
            assert not all_finite(X)
            with pytest.raises(ValueError, match=r"W contains 1 NaN or infinite"):
                as_float_array(X, "W")
    huge = np.full((300, 250), 1e200)               # the dot product overflows to inf
    assert all_finite(huge) and all_finite(W) and as_float_array(huge, "W") is huge
    p = d.MatrixCompletion((300, 250), [0, 299], [0, 249], [1.0, 2.0], method="sparse")
    W[7, 9] = np.nan
    with pytest.raises(ValueError, match="W contains 1 NaN"):
        p.loss_and_gradient(W)


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


# --------------------------------------------------------------- problems from data, splits (THEORY.md §9)

@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_from_matrix_nan_is_missing(method):
    M = np.array([[1.0, np.nan, 3.0], [np.nan, 5.0, np.nan]])
    p = d.MatrixCompletion.from_matrix(M, method=method)
    assert p.method == method and p.n_observations == 3
    assert p.rows.tolist() == [0, 0, 1] and p.cols.tolist() == [0, 2, 1]    # row-major
    assert p.values.tolist() == [1.0, 3.0, 5.0]
    np.testing.assert_array_equal(p.observed_mask(), ~np.isnan(M))
    assert p.loss(np.nan_to_num(M)) == 0.0


def test_from_matrix_reads_a_sparse_matrix_by_its_stored_entries():
    import scipy.sparse as sp
    S = sp.coo_matrix(([2.0, 0.0, -1.0], ([1, 0, 1], [2, 1, 0])), shape=(2, 3))   # explicit zero kept
    p = d.MatrixCompletion.from_matrix(S, method="sparse")
    assert list(zip(p.rows, p.cols, p.values)) == [(0, 1, 0.0), (1, 0, -1.0), (1, 2, 2.0)]


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_from_mask_equals_from_matrix(rng, method):
    M = rng.standard_normal((7, 5))
    mask = rng.random((7, 5)) < 0.4
    a = d.MatrixCompletion.from_mask(M, mask, method=method)
    b = d.MatrixCompletion.from_matrix(np.where(mask, M, np.nan), method=method)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.values, M[mask])
    W = rng.standard_normal((7, 5))
    assert a.loss(W) == b.loss(W) == pytest.approx(0.5 * np.sum(((W - M) * mask) ** 2))
    # values outside the mask are ignored, NaN included; batched values share the mask
    M2 = np.where(mask, M, np.nan)
    assert d.MatrixCompletion.from_mask(M2, mask.astype(int)).n_observations == mask.sum()
    batch = d.MatrixCompletion.from_mask(np.stack([M, 2 * M]), mask)
    np.testing.assert_allclose(batch.values[1], 2 * M[mask])


@pytest.mark.parametrize("method", ["dense", "sparse"])
@pytest.mark.parametrize("test", [0.25, 13])
def test_split_is_disjoint_and_covers(rng, method, test):
    M = d.random_low_rank(12, 9, 2, rng=rng)
    p = d.sample_completion(M, 50, rng=rng, method=method, reduction="mean")
    train, held = p.split(test, rng=7)
    assert held.n_observations == (13 if test == 13 else round(0.25 * 50))
    assert train.n_observations + held.n_observations == 50
    flat = lambda q: set((q.rows * 9 + q.cols).tolist())       # noqa: E731
    assert flat(train).isdisjoint(flat(held)) and flat(train) | flat(held) == flat(p)
    for q in (train, held):
        assert q.method == method and q.reduction == "mean" and q.truth is p.truth
        np.testing.assert_array_equal(q.values, M[q.rows, q.cols])
    again = p.split(test, rng=7)[1]
    np.testing.assert_array_equal(again.rows, held.rows)           # same rng -> same split


def test_split_sensing_measurements(rng):
    p = d.gaussian_sensing(d.random_low_rank(5, 4, 1, rng=rng), 20, rng=rng)
    train, held = p.split(0.3, rng=rng)
    assert (train.A.shape[0], held.A.shape[0]) == (14, 6)
    W = rng.standard_normal((5, 4))
    both = np.concatenate([train.residuals(W), held.residuals(W)])
    np.testing.assert_allclose(np.sort(both), np.sort(p.residuals(W)))


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_heldout_error_is_mse_over_test_entries_only(rng, method):
    M = d.random_low_rank(10, 8, 2, rng=rng)
    train, held = d.sample_completion(M, 40, rng=rng, method=method).split(0.25, rng=rng)
    W = M.copy()
    W[train.rows, train.cols] += 100.0          # errors on the training entries must not count
    W[held.rows[0], held.cols[0]] += 2.0         # one test entry off by 2 -> MSE 4 / |test|
    assert d.heldout_error(W, held) == pytest.approx(4.0 / held.n_observations)
    assert d.heldout_error(np.stack([M, W]), held).tolist() == pytest.approx([0.0, 4.0 / 10])
    ev = held.evaluate(W)
    assert ev["train_error"] == pytest.approx(d.heldout_error(W, held))     # evaluate: its own entries
    assert ev["reconstruction_error"] > 1.0                                    # all entries


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda p: p.split(0.0), ValueError, r"test = 0.0 is not a fraction in \(0, 1\)"),
    (lambda p: p.split(1.0), ValueError, "or an int for a count"),
    (lambda p: p.split(0.01), ValueError, "leaves the test part empty"),
    (lambda p: p.split(0.99), ValueError, "leaves the training part empty"),
    (lambda p: p.split(20), ValueError, r"test = 20 observations.*between 1 and 19"),
    (lambda p: p.split(0), ValueError, "between 1 and 19"),
    (lambda p: p.split(True), TypeError, "test must be a fraction"),
    (lambda p: p.split("half"), TypeError, "test must be a fraction"),
    (lambda p: d.heldout_error(np.zeros((4, 5)), p), ValueError, r"W has shape \(4, 5\) but test_problem is 5x4"),
    (lambda p: d.heldout_error(np.zeros((5, 4)), np.zeros((5, 4))), TypeError, "test_problem must be"),
    (lambda p: d.heldout_error([np.zeros((3, 4)), np.zeros((5, 3))], p), TypeError, "not a list of factors"),
])
def test_split_and_heldout_bad_input(rng, call, exc, pattern):
    p = d.sample_completion(d.random_low_rank(5, 4, 1, rng=rng), 20, rng=rng)
    with pytest.raises(exc, match=pattern):
        call(p)


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: d.MatrixCompletion.from_matrix([[1.0, np.inf]]), ValueError,
     r"1 observed entry .* \(0, 1\).*replace an infinite"),
    (lambda: d.MatrixCompletion.from_matrix([[np.nan, np.nan]]), ValueError, "M has no observed entry"),
    (lambda: d.MatrixCompletion.from_matrix([1.0, 2.0]), ValueError, "M must have 2 dimension"),
    (lambda: d.MatrixCompletion.from_mask([[1.0, np.nan]], [[True, True]]), ValueError, "1 observed entry that is NaN"),
    (lambda: d.MatrixCompletion.from_mask([[1.0, -np.inf]], [[True, True]]), ValueError, "NaN or infinite"),
    (lambda: d.MatrixCompletion.from_mask([[1.0, 2.0]], [[True]]), ValueError, "mask has shape"),
    (lambda: d.MatrixCompletion.from_mask([[1.0, 2.0]], [[False, False]]), ValueError, "mask observes no entry"),
    (lambda: d.MatrixCompletion.from_mask([[1.0, 2.0]], [[0.5, 1]]), TypeError, "mask must be boolean"),
    (lambda: d.MatrixCompletion((2, 2), [0], [0], [1.0]).split(0.5), ValueError, "cannot be split"),
])
def test_from_data_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


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


# --------------------------------------------------------------------------- the measurement map, against dense matrices

SHAPES = [(4, 4), (5, 3), (3, 5)]        # square, tall, wide


def _map_problem(kind, shape, reduction, rng):
    """A problem and its measurement map written out independently as a dense ``K x mn`` matrix."""
    m, n = shape
    if kind == "sensing":
        A = rng.standard_normal((9, m, n))
        return d.MatrixSensing(A, rng.standard_normal(9), reduction=reduction), A.reshape(9, m * n)
    flat = np.sort(rng.choice(m * n, 8, replace=False))
    rows, cols = np.divmod(flat, n)
    dense = np.zeros((8, m * n))
    for k, (i, j) in enumerate(zip(rows, cols)):
        dense[k, i * n + j] = 1.0                   # A_k = e_i e_j^T
    method = kind.split("-")[1]
    return d.MatrixCompletion(shape, rows, cols, rng.standard_normal(8), reduction, method=method), dense


KINDS = ["completion-dense", "completion-sparse", "sensing"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_forward_and_adjoint_are_the_dense_map(kind, shape, reduction, rng):
    problem, Amat = _map_problem(kind, shape, reduction, rng)
    X = rng.standard_normal((2,) + shape)                     # batched, and one matrix
    r = rng.standard_normal((2, Amat.shape[0]))
    np.testing.assert_allclose(problem.forward(X), X.reshape(2, -1) @ Amat.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(problem.forward(X[0]), Amat @ X[0].ravel(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(problem.adjoint(r), (r @ Amat).reshape((2,) + shape), rtol=1e-12, atol=1e-12)
    assert problem.adjoint(r[0]).shape == shape
    # the map of the loss: residuals are A(W) - b, the gradient is c_g A^*(r)
    c_grad = 1.0 if reduction == "sum" else 2.0 / Amat.shape[0]
    res = Amat @ X[0].ravel() - problem.data
    np.testing.assert_allclose(problem.residuals(X[0]), res, rtol=1e-12, atol=1e-12)
    G = problem.gradient(X[0])
    np.testing.assert_allclose(G.toarray() if hasattr(G, "toarray") else G,
                               c_grad * (res @ Amat).reshape(shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_hessian_is_the_dense_hessian(kind, shape, reduction, rng):
    """H_ell = 2 c_l A^T A with c_l read off the definition of the reduction (1/2 or 1/K), and
    <Z, H_ell[Z]> is the exact second difference of the quadratic loss."""
    problem, Amat = _map_problem(kind, shape, reduction, rng)
    K = Amat.shape[0]
    c_loss = 0.5 if reduction == "sum" else 1.0 / K
    H = 2.0 * c_loss * Amat.T @ Amat
    Z = rng.standard_normal((3,) + shape)
    np.testing.assert_allclose(problem.loss_hessian_apply(Z), (Z.reshape(3, -1) @ H).reshape(Z.shape),
                               rtol=1e-12, atol=1e-12)
    W, h = rng.standard_normal(shape), 0.5
    second = (problem.loss(W + h * Z[0]) - 2 * problem.loss(W) + problem.loss(W - h * Z[0])) / h ** 2
    assert float(np.sum(Z[0] * problem.loss_hessian_apply(Z[0]))) == pytest.approx(second, rel=1e-9)
    assert problem.loss_factors == pytest.approx((c_loss, 2.0 * c_loss))


def test_single_precision_map_is_exact(rng):
    """forward/adjoint stay float64 with precision='single' (the convex baselines need the exact map)."""
    A, X, r = rng.standard_normal((7, 3, 5)), rng.standard_normal((3, 5)), rng.standard_normal(7)
    single = d.MatrixSensing(A, np.zeros(7), precision="single")
    np.testing.assert_allclose(single.forward(X), A.reshape(7, -1) @ X.ravel(), rtol=1e-13)
    np.testing.assert_allclose(single.adjoint(r), np.tensordot(r, A, axes=1), rtol=1e-13)


@pytest.mark.parametrize("call, pattern", [
    (lambda p: p.forward(np.zeros((3, 4))), r"X has shape \(3, 4\) but the problem is 4x3"),
    (lambda p: p.adjoint(np.zeros(5)), r"r has 5 entries .* 6 observations: pass an array of shape \(\.\.\., 6\)"),
    (lambda p: p.loss_hessian_apply(np.zeros((4, 4))), r"Z has shape \(4, 4\) but the problem is 4x3"),
])
def test_map_bad_input_named(call, pattern):
    p = d.MatrixCompletion((4, 3), [0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 2, 2], np.ones(6))
    with pytest.raises(ValueError, match=pattern):
        call(p)
