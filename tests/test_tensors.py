"""CP tensor factorization and tensor completion (THEORY.md §10): E20, E21, E22, the baselines."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu.tensors import (TensorCompletion, component_balancedness, component_norms, cp_gradients, cp_to_tensor,
                             entrywise_gd, heldout_error, init_cp, khatri_rao, most_square_split, tensor_rank,
                             unfold, unfolding_nuclear_norm)

# equal and distinct dimensions, orders 3 and 4
SHAPES = [(4, 4, 4), (3, 4, 5), (3, 3, 3, 3), (2, 3, 4, 5)]


def random_factors(rng, shape, R, lead=()):
    return [rng.standard_normal(lead + (dim, R)) for dim in shape]


def random_problem(rng, shape, K, reduction="sum", repeats=True):
    """``K`` random observations; with ``repeats``, a few multi-indices listed two or three times."""
    index = np.stack([rng.integers(0, dim, K) for dim in shape], axis=1)
    if repeats:
        index[1] = index[0]
        index[K // 2] = index[0]
        index[-1] = index[2]
    return TensorCompletion(shape, index, rng.standard_normal(K), reduction=reduction)


def literal_tensor(factors):
    """``W[i_1..i_N] = sum_r prod_n A_n[i_n, r]`` entry by entry."""
    shape = tuple(A.shape[0] for A in factors)
    W = np.zeros(shape)
    for i in np.ndindex(*shape):
        W[i] = np.sum(np.prod([A[i_n] for A, i_n in zip(factors, i)], axis=0))
    return W


# --------------------------------------------------------------------------- the model and E20

@pytest.mark.parametrize("shape", SHAPES)
def test_cp_to_tensor_equals_literal_sum(rng, shape):
    fs = random_factors(rng, shape, 3)
    np.testing.assert_allclose(cp_to_tensor(fs), literal_tensor(fs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_unfolding_is_factor_times_khatri_rao(rng, shape):
    fs = random_factors(rng, shape, 2)
    W = cp_to_tensor(fs)
    for n in range(len(shape)):
        np.testing.assert_allclose(unfold(W, n), fs[n] @ khatri_rao(fs[:n] + fs[n + 1:]).T, atol=1e-12)


def test_E20_order_2_is_the_depth_2_matrix_case(rng):
    A1, A2 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(cp_to_tensor([A1, A2]), A1 @ A2.T, rtol=1e-12, atol=1e-12)
    G = rng.standard_normal((5, 4))
    g1, g2 = cp_gradients([A1, A2], G)
    dW1, dW2 = d.layer_gradients([A2.T, A1], G)            # W_1 = A_2^T, W_2 = A_1
    np.testing.assert_allclose(g1, dW2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g2, dW1.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_E20_cp_gradients_central_differences(rng, shape, reduction):
    """The package's generic checkers take any f(list of arrays): CP factors need no adapter."""
    problem = random_problem(rng, shape, 25, reduction)
    fs = random_factors(rng, shape, 2)

    def phi(xs):
        return float(problem.loss(cp_to_tensor(xs)))

    def grad(xs):
        return cp_gradients(xs, problem.gradient(cp_to_tensor(xs)))

    assert d.directional_check(phi, grad, fs, rng=rng) < 1e-7
    # the loss is a polynomial of degree 2N in the factors: its cubic term still shows at t = 1e-2
    assert abs(d.taylor_slope(phi, grad, fs, rng=rng, ts=np.logspace(-3, -5, 8)) - 2) < 0.1
    err, where = d.entrywise_check(phi, grad, fs, rng=rng)
    assert err < 1e-5, where


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("R", [1, 3])
def test_E20_sparse_factor_gradients_equal_dense_chain(rng, shape, reduction, R):
    problem = random_problem(rng, shape, 40, reduction)
    assert np.unique(problem.index, axis=0).shape[0] < problem.n_observations      # repeats present
    fs = random_factors(rng, shape, R)
    W = cp_to_tensor(fs)
    loss, grads = problem.loss_and_factor_gradients(fs)
    dense = cp_gradients(fs, problem.gradient(W))
    np.testing.assert_allclose(loss, problem.loss(W), rtol=1e-12)
    for g, h in zip(grads, dense):
        np.testing.assert_allclose(g, h, rtol=1e-11, atol=1e-12 * np.abs(h).max())
    np.testing.assert_allclose(problem.predict(fs), W[tuple(problem.index.T)], rtol=1e-12, atol=1e-14)


def test_mean_reduction_is_the_sum_scaled(rng):
    """§0: loss_mean = 2 loss_sum / K and the gradients likewise (so lr_sum = 2 lr_mean / K)."""
    s = random_problem(rng, (3, 4, 5), 30, "sum")
    m = TensorCompletion(s.shape, s.index, s.values, reduction="mean")
    fs = random_factors(rng, s.shape, 2)
    (ls, gs), (lm, gm) = s.loss_and_factor_gradients(fs), m.loss_and_factor_gradients(fs)
    K = s.n_observations
    np.testing.assert_allclose(lm, 2 * ls / K, rtol=1e-12)
    for a, b in zip(gm, gs):
        np.testing.assert_allclose(a, 2 * b / K, rtol=1e-12, atol=1e-15)


def test_batched_factors_and_values_equal_one_at_a_time(rng):
    shape = (3, 4, 2, 5)
    index = random_problem(rng, shape, 20).index
    values = rng.standard_normal((2, 20))
    batched = TensorCompletion(shape, index, values, reduction="mean")
    fs = random_factors(rng, shape, 3, lead=(2,))
    loss, grads = batched.loss_and_factor_gradients(fs)
    dense = cp_gradients(fs, batched.gradient(cp_to_tensor(fs)))
    for b in range(2):
        one = TensorCompletion(shape, index, values[b], reduction="mean")
        lb, gb = one.loss_and_factor_gradients([A[b] for A in fs])
        np.testing.assert_allclose(loss[b], lb, rtol=1e-13)
        for g, h, k in zip(grads, gb, dense):
            np.testing.assert_allclose(g[b], h, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(k[b], h, rtol=1e-11, atol=1e-13)


# --------------------------------------------------------------------------- E21 and E22

def gd_residual_drift(problem, factors, lr, total_time):
    fs = [A.copy() for A in factors]
    start = component_balancedness(fs)
    for _ in range(int(round(total_time / lr))):
        _, grads = problem.loss_and_factor_gradients(fs)
        for A, g in zip(fs, grads):
            A -= lr * g
    return np.abs(component_balancedness(fs) - start).max()


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 3)])
def test_E21_balancedness_drift_halves_with_the_step(rng, shape):
    """O(eta^2) per step over T / eta steps: the drift over a fixed time is O(eta)."""
    problem = random_problem(rng, shape, 30, "sum")
    fs = init_cp(shape, 3, 1.0, kind="gaussian", rng=rng)
    drifts = [gd_residual_drift(problem, fs, lr, 0.4) for lr in (0.02, 0.01, 0.005)]
    ratios = [drifts[0] / drifts[1], drifts[1] / drifts[2]]
    assert all(1.7 < q < 2.3 for q in ratios), (drifts, ratios)


def test_E21_one_step_changes_the_residual_by_eta_squared_terms(rng):
    """Exactly: ||w - eta g||^2 - ||w||^2 = -2 eta <w, g> + eta^2 ||g||^2 and <w_r^(n), g_r^(n)> is the
    same for every mode, so the residual moves by eta^2 (||g_r^(n)||^2 - ||g_r^(1)||^2)."""
    problem = random_problem(rng, (3, 4, 5), 30, "mean")
    fs = random_factors(rng, problem.shape, 2)
    _, grads = problem.loss_and_factor_gradients(fs)
    inner = np.stack([np.sum(A * g, axis=0) for A, g in zip(fs, grads)])
    np.testing.assert_allclose(inner, np.broadcast_to(inner[0], inner.shape), rtol=1e-12)
    lr = 1e-2
    moved = component_balancedness([A - lr * g for A, g in zip(fs, grads)]) - component_balancedness(fs)
    gsq = np.stack([np.sum(g * g, axis=0) for g in grads])
    np.testing.assert_allclose(moved, lr ** 2 * (gsq[1:] - gsq[:1]), rtol=1e-8, atol=1e-14)


def e22_rates(problem, fs, h=1e-6):
    """Finite-difference ``d sigma_r / dt`` along the flow and E22's ``-N sigma^{2-2/N} <G, W_hat_r>``."""
    _, grads = problem.loss_and_factor_gradients(fs)
    fd = (component_norms([A - h * g for A, g in zip(fs, grads)])
          - component_norms([A + h * g for A, g in zip(fs, grads)])) / (2 * h)
    N = len(fs)
    G = problem.gradient(cp_to_tensor(fs))
    sigma = component_norms(fs)
    units = [A / np.linalg.norm(A, axis=0) for A in fs]
    inner = np.array([np.sum(G * cp_to_tensor([u[:, [r]] for u in units])) for r in range(sigma.size)])
    return fd, -N * sigma ** (2 - 2 / N) * inner


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 3, 3, 3)])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_E22_component_norm_rate_at_a_balanced_point(rng, shape, reduction):
    problem = random_problem(rng, shape, 30, reduction)
    fs = init_cp(shape, 3, 2.0, kind="balanced", rng=rng)
    assert np.abs(component_balancedness(fs)).max() < 1e-12
    fd, formula = e22_rates(problem, fs)
    np.testing.assert_allclose(fd, formula, rtol=1e-6, atol=1e-9 * np.abs(formula).max())
    unbalanced = [A * c for A, c in zip(fs, [2.0, 0.5] + [1.0] * (len(shape) - 2))]   # same tensor
    fd, formula = e22_rates(problem, unbalanced)
    assert np.abs(fd - formula).max() > 0.1 * np.abs(formula).max()             # E22 needs balance


def test_incremental_tensor_rank_learning():
    """From small init the components switch on one after another (§10, E22): the times at which the
    1st, 2nd and 3rd largest component norms first pass a threshold are increasing and separated."""
    rng = np.random.default_rng(3)
    shape, sizes = (8, 8, 8), np.array([12.0, 6.0, 3.0])
    units = [np.linalg.qr(rng.standard_normal((8, 3)))[0] for _ in shape]
    truth = cp_to_tensor([units[0] * sizes] + units[1:])
    problem = TensorCompletion.from_tensor(truth, truth=truth)
    fs = init_cp(shape, 3, 1e-3, kind="balanced", rng=rng)
    lr, threshold, passed = 0.01, 1.0, {}
    for step in range(3000):
        loss, grads = problem.loss_and_factor_gradients(fs)
        sigma = np.sort(component_norms(fs))[::-1]
        for k in range(3):
            if k not in passed and sigma[k] > threshold:
                passed[k] = step
        if len(passed) == 3:
            break
        for A, g in zip(fs, grads):
            A -= lr * g
    assert len(passed) == 3, passed
    t1, t2, t3 = passed[0], passed[1], passed[2]
    assert t1 < t2 < t3 and t2 > 1.3 * t1 and t3 > 1.3 * t2, passed


# --------------------------------------------------------------------------- init, norms, rank

def test_init_cp_scale_and_balance(rng):
    """``scale`` as for init_weights: E ||W||_F^2 = d_1 scale^2 (mean of many trials)."""
    for kind in ("gaussian", "balanced"):
        fs = init_cp((6, 7, 8), 5, 0.5, kind=kind, rng=rng, batch_shape=(4000,))
        assert all(A.shape == (4000, dim, 5) for A, dim in zip(fs, (6, 7, 8)))
        mean = np.mean(np.sum(cp_to_tensor(fs) ** 2, axis=(1, 2, 3)))
        assert abs(mean / (6 * 0.5 ** 2) - 1) < 0.1
    bal = init_cp((3, 4, 5, 2), 3, 1.0, rng=rng)
    assert np.abs(component_balancedness(bal)).max() < 1e-14
    gauss = init_cp((3, 4, 5, 2), 3, 1.0, kind="gaussian", rng=rng)
    assert np.abs(component_balancedness(gauss)).max() > 1e-3


def test_init_cp_order_2_matches_init_weights_in_distribution(rng):
    fs = init_cp((6, 9), 4, 0.5, kind="gaussian", rng=rng, batch_shape=(3000,))
    ws = d.init_weights((6, 9), 2, 0.5, width=4, rng=rng, batch_shape=(3000,))
    for A, W in ((fs[0], ws[1]), (fs[1], np.swapaxes(ws[0], -1, -2))):
        assert abs(np.var(A) / np.var(W) - 1) < 0.05


def test_component_norms_rank_and_balancedness_by_hand():
    A1 = np.array([[3.0, 0.0, 0.0], [4.0, 0.01, 0.0]])     # column norms 5, 0.01, 0
    A2 = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    A3 = np.array([[2.0, 1.0, 1.0]])
    np.testing.assert_allclose(component_norms([A1, A2, A3]), [10.0, 0.02, 0.0])
    assert tensor_rank([A1, A2, A3]) == 1 and tensor_rank([A1, A2, A3], tol=1e-3) == 2
    assert tensor_rank([0 * A1, A2, A3]) == 0
    np.testing.assert_allclose(component_balancedness([A1, A2, A3]),
                               [[1 - 25, 4 - 1e-4, 1 - 0], [4 - 25, 1 - 1e-4, 1 - 0]])


# --------------------------------------------------------------------------- the problem

def test_from_tensor_split_evaluate_and_heldout(rng):
    fs = random_factors(rng, (3, 4, 5), 2)
    truth = cp_to_tensor(fs)
    T = truth.copy()
    T[0, 1, 2] = T[2, 3, 4] = np.nan
    problem = TensorCompletion.from_tensor(T, reduction="mean", truth=truth)
    assert problem.n_observations == 58 and [0, 1, 2] not in problem.index.tolist()
    train, test = problem.split(0.25, rng=rng)
    both = np.concatenate([train.index, test.index])
    assert sorted(map(tuple, both)) == sorted(map(tuple, problem.index))
    assert test.n_observations == round(0.25 * 58)
    out = problem.evaluate(fs)
    assert out["reconstruction_error"] == 0 and out["loss"] < 1e-28
    W = truth + 0.1
    out = problem.evaluate(W)
    np.testing.assert_allclose(out["reconstruction_error"], np.sum(0.01 * np.ones_like(W)) / np.sum(truth ** 2))
    np.testing.assert_allclose(out["relative_error"] ** 2, out["reconstruction_error"])
    np.testing.assert_allclose(heldout_error(W, test), 0.01)
    np.testing.assert_allclose(heldout_error([A + 0.1 for A in fs], test),
                               heldout_error(cp_to_tensor([A + 0.1 for A in fs]), test), rtol=1e-12)


def test_loss_and_factor_gradients_is_cheap_at_300_cubed(rng):
    """300^3 (27e6 entries), K = 5000, R = 10: never the dense tensor (tracemalloc peak << 216 MB)."""
    import time
    import tracemalloc
    shape, K, R = (300, 300, 300), 5000, 10
    problem = TensorCompletion(shape, np.stack([rng.integers(0, 300, K) for _ in shape], 1), rng.standard_normal(K))
    fs = init_cp(shape, R, 1e-3, rng=rng)
    tracemalloc.start()
    problem.loss_and_factor_gradients(fs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    start = time.process_time()
    for _ in range(20):
        problem.loss_and_factor_gradients(fs)
    assert peak < 20e6 and (time.process_time() - start) / 20 < 0.05


BAD = [
    (lambda: cp_to_tensor([np.ones((3, 2))]), "factors", ValueError),
    (lambda: cp_to_tensor([np.ones((3, 2)), np.ones((4, 3))]), r"factors\[1\]", ValueError),
    (lambda: cp_to_tensor([np.ones((2, 3, 2)), np.ones((4, 4, 2))]), "factors", ValueError),
    (lambda: cp_gradients([np.ones((3, 2)), np.ones((4, 2))], np.ones((4, 3))), "G", ValueError),
    (lambda: init_cp((5,), 2, 1.0), "shape", ValueError),
    (lambda: init_cp((5, 4), 0, 1.0), "rank", ValueError),
    (lambda: init_cp((5, 4), 2, -1.0), "scale", ValueError),
    (lambda: init_cp((5, 4), 2, 1.0, kind="orthogonal"), "kind", ValueError),
    (lambda: TensorCompletion((5,), [[0]], [1.0]), "shape", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 2]], [1.0]), "index", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, -1]], [1.0]), "index", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0.5, 1]], [1.0]), "index", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 1]], [1.0]), "index", ValueError),
    (lambda: TensorCompletion((2, 2, 2), np.zeros((0, 3), int), []), "index", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [np.nan]), "values", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0, 2.0]), "values", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0], reduction="avg"), "reduction", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0], truth=np.ones((2, 2))), "truth", ValueError),
    (lambda: TensorCompletion.from_tensor(np.full((2, 2, 2), np.nan)), "T", ValueError),
    (lambda: TensorCompletion.from_tensor(np.full((2, 2, 2), np.inf)), "T", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0]).loss(np.ones((2, 2))), "W", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0]).loss_and_factor_gradients(
        [np.ones((2, 1)), np.ones((2, 1)), np.ones((3, 1))]), "factors", ValueError),
    (lambda: TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0]).loss_and_factor_gradients(
        [np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 2))]), r"factors\[2\]", ValueError),
    (lambda: entrywise_gd(TensorCompletion((2, 2, 2), [[0, 0, 1]], [1.0]), 1e-3, 0.0, 10), "lr", ValueError),
    (lambda: unfolding_nuclear_norm(TensorCompletion((2, 2, 2), [[0, 0, 1], [0, 0, 1]], [1.0, 1.0])),
     "problem", ValueError),
]


@pytest.mark.parametrize("call, name, error", BAD)
def test_bad_input_one_line_error_naming_the_argument(call, name, error):
    with pytest.raises(error, match=name) as info:
        call()
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- baselines

def test_most_square_split():
    assert most_square_split((8, 8, 8)) == ((0,), (1, 2))
    assert most_square_split((8, 8, 8, 8)) == ((0, 1), (2, 3))
    rows, cols = most_square_split((2, 30, 3, 5))
    assert {30} == {np.prod([(2, 30, 3, 5)[n] for n in side]) for side in (rows, cols)} & {30}


def test_entrywise_gd_moves_only_observed_entries(rng):
    truth = cp_to_tensor(random_factors(rng, (4, 4, 4), 1))
    mask = rng.random(truth.shape) < 0.4
    T = np.where(mask, truth, np.nan)
    problem = TensorCompletion.from_tensor(T, truth=truth)
    init = rng.standard_normal(truth.shape) * 1e-3
    W, losses = entrywise_gd(problem, None, 0.5, 200, init=init)
    np.testing.assert_array_equal(W[~mask], init[~mask])
    np.testing.assert_allclose(W[mask], truth[mask], atol=1e-8)
    assert losses[-1] < 1e-12 * losses[0] and np.all(np.diff(losses) <= 0)
    W2, _ = entrywise_gd(problem, 1e-3, 0.5, 0, rng=0)
    assert np.sqrt(np.mean(W2 ** 2)) < 1e-2
    W3, _ = entrywise_gd(problem, None, 0.5, 200, init=np.asfortranarray(init))   # any memory layout
    np.testing.assert_array_equal(W3, W)


def test_unfolding_nuclear_norm_recovers_a_rank_one_tensor(rng):
    truth = cp_to_tensor(random_factors(rng, (4, 4, 4), 1))
    mask = rng.random(truth.shape) < 0.6
    problem = TensorCompletion.from_tensor(np.where(mask, truth, np.nan), truth=truth)
    W, result = unfolding_nuclear_norm(problem, tol=1e-7)
    assert result.X.shape == (4, 16) and W.shape == (4, 4, 4)
    np.testing.assert_allclose(W.reshape(4, 16), result.X)
    np.testing.assert_allclose(W[mask], truth[mask], atol=1e-4 * np.abs(truth).max())
    assert problem.evaluate(W)["reconstruction_error"] < 1e-3
