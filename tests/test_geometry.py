"""Tests of dmf_edu.dynamics.geometry (E14-E16) and the X6 experiment function."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu.dynamics import end_to_end_operator
from dmf_edu.dynamics.geometry import (fibre_entropy, metric, minimum_norm_lift, rescaled_multiplier, volume_density)
from dmf_edu.experiments.x6_infinite_depth import x6_depth_limit

DEPTHS = [1, 2, 3, 5, np.inf]


def _antisym(d_, k, l):
    A = np.zeros((d_, d_))
    A[k, l], A[l, k] = 1.0, -1.0
    return A


def _prod(ws, size):
    """W_{j:i} for the list ws (identity of the given size when empty)."""
    return d.end_to_end(ws) if ws else np.eye(size)


def _push(weights, dW):
    """J(dW) = sum_j W_{N:j+1} dW_j W_{j-1:1}: first-order change of W = W_N ... W_1."""
    m, n = weights[-1].shape[0], weights[0].shape[1]
    return sum(_prod(weights[j + 1:], m) @ dW[j] @ _prod(weights[:j], n) for j in range(len(weights)))


@pytest.mark.parametrize("depth", DEPTHS)
def test_e14_end_to_end_flow_is_riemannian_gradient_flow(depth, rng):
    """<grad_g ell, Z>_g = D ell(W)[Z] with grad_g ell = A_{N,W}(G) = -dW/dt (E3, E14).

    Rectangular only for finite N: at N = inf the multiplier L(sigma^2, 0) = 0 makes the
    metric infinite off the row space even at full rank."""
    shape = (3, 3) if depth == np.inf else (3, 4)
    M = d.random_low_rank(*shape, 1, rng=rng)
    problem = d.sample_completion(M, 7, rng=rng)
    W = rng.standard_normal(shape)
    Z = rng.standard_normal(shape)
    G = problem.gradient(W)
    h = 1e-6
    dl = (problem.loss(W + h * Z) - problem.loss(W - h * Z)) / (2 * h)     # exact for a quadratic
    lhs = metric(W, end_to_end_operator(W, G, depth), depth, Y=Z)
    assert lhs == pytest.approx(dl, rel=1e-7)
    assert lhs == pytest.approx(np.sum(G * Z), rel=1e-10)


def test_e14_planted_wrong_metric_rejected(rng):
    """A metric built with the multipliers of another depth fails the gradient identity."""
    W, Z, G = rng.standard_normal((3, 3, 3))
    for N in (2, 3):
        wrong = metric(W, end_to_end_operator(W, G, N), N + 1, Y=Z)
        assert abs(wrong - np.sum(G * Z)) > 1e-2 * abs(np.sum(G * Z))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("shape,width", [((3, 3), 3), ((3, 4), 3), ((4, 3), 3)])
def test_e14_submersion_minimum_norm_lift(depth, shape, width, rng):
    """Balanced factors: min over lifts of sum ||dW_j||^2 equals g^N_W(Z, Z) (E14)."""
    weights = d.init_weights(shape, depth, 1.0, kind="balanced", width=width, rng=rng)
    W = d.end_to_end(weights)
    Z = rng.standard_normal(shape)
    lift = minimum_norm_lift(weights, Z)
    assert np.allclose(_push(weights, lift), Z, atol=1e-9)
    norm2 = sum(np.sum(x * x) for x in lift)
    assert norm2 == pytest.approx(metric(W, Z, depth), rel=1e-8)


def test_e14_planted_non_minimal_lift_and_unbalanced_factors(rng):
    weights = d.init_weights((3, 3), 3, 1.0, kind="balanced", width=3, rng=rng)
    W, Z = d.end_to_end(weights), rng.standard_normal((3, 3))
    g = metric(W, Z, 3)
    # all of Z put into the last factor: a valid lift, strictly longer
    naive = [np.zeros((3, 3)), np.zeros((3, 3)), Z @ np.linalg.inv(d.end_to_end(weights[:2]))]
    assert np.allclose(_push(weights, naive), Z)
    assert sum(np.sum(x * x) for x in naive) > 1.05 * g
    # without balancedness the submersion identity fails (E3 needs D_j = 0)
    skew = [weights[0] * 2.0, weights[1], weights[2] / 2.0]
    assert np.allclose(d.end_to_end(skew), W)
    assert abs(sum(np.sum(x * x) for x in minimum_norm_lift(skew, Z)) - g) > 1e-2 * g


def test_e14_rescaled_and_rank_deficient(rng):
    W, Z = rng.standard_normal((2, 3, 3))
    for N in (2, 7):
        assert metric(W, Z, N, rescaled=True) == pytest.approx(N * metric(W, Z, N), rel=1e-12)
    # N g^N -> g^inf at rate O(1/N)
    errs = [abs(metric(W, Z, N, rescaled=True) - metric(W, Z, np.inf)) for N in (100, 200)]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)
    # rank-1 W: a generic Z leaves the rank stratum, so g = +inf (never NaN)
    W1 = np.outer([1.0, 2.0, 0.0], [0.0, 1.0, 1.0])
    vals = [metric(W1, Z, N) for N in (2, 3, np.inf)]
    assert all(v == np.inf for v in vals)
    assert metric(np.zeros((2, 2)), np.zeros((2, 2)), 3) == 0.0
    Y = rng.standard_normal((3, 3))                         # N = 1 is Frobenius everywhere, rank-deficient W too
    assert metric(W1, Z, 1) == pytest.approx(np.sum(Z * Z), rel=1e-12)
    assert metric(W1, Z, 1, Y=Y) == pytest.approx(np.sum(Z * Y), rel=1e-12)


def _svd_point(sigma, rng):
    d_ = len(sigma)
    U = np.linalg.qr(rng.standard_normal((d_, d_)))[0]
    V = np.linalg.qr(rng.standard_normal((d_, d_)))[0]
    return U, np.diag(sigma), V


def _svd_gram_logdet(sigma, depth, rng):
    """1/2 log det of the rescaled metric N g^N in coordinates (d sigma, Omega_U, Omega_V)."""
    U, S, V = _svd_point(sigma, rng)
    d_ = len(sigma)
    T = [U @ np.diag(np.eye(d_)[i]) @ V.T for i in range(d_)]
    for k in range(d_):
        for l in range(k + 1, d_):
            A = _antisym(d_, k, l)
            T.append(U @ A @ S @ V.T)                       # d/dt U expm(tA) S V^T
            T.append(U @ S @ A.T @ V.T)                     # d/dt U S expm(tA)^T V^T
    T = np.array(T)
    W = U @ S @ V.T
    gram = metric(W, T[:, None], depth, Y=T[None, :], rescaled=True)
    return 0.5 * np.linalg.slogdet(gram)[1]


@pytest.mark.parametrize("depth", [1, 2, 3, 7, np.inf])
def test_e15_volume_is_gram_determinant_of_metric(depth, rng):
    """E15: rho_N(sigma) = sqrt(det) of the metric N g^N in SVD coordinates (constant 1)."""
    for sigma in ([2.0, 1.0, 0.3], [3.0, 0.5, 0.05]):
        assert volume_density(sigma, depth, log=True) == pytest.approx(
            _svd_gram_logdet(sigma, depth, rng), abs=1e-8)


def test_e15_planted_wrong_exponent_rejected(rng):
    sigma, N = np.array([2.0, 1.0, 0.3]), 3
    wrong = -(N - 2) / N * np.sum(np.log(sigma)) + sum(
        np.log(N * abs(sigma[i] ** (2 / N) - sigma[j] ** (2 / N))) for i in range(3) for j in range(i + 1, 3))
    right = _svd_gram_logdet(sigma, N, rng)
    assert abs(wrong - right) > 0.1
    assert volume_density(sigma, N, log=True) == pytest.approx(right, abs=1e-8)


def _orbit_gram_logdet(sigma, depth, rng):
    """1/2 log det of the Euclidean Gram matrix of the hidden-rotation orbit of a balanced
    factorization W_j = Q_j S Q_{j-1}^T (S = Sigma^{1/N}), over j = 1..N-1 and pairs k < l."""
    d_ = len(sigma)
    Q = [np.linalg.qr(rng.standard_normal((d_, d_)))[0] for _ in range(depth + 1)]
    S = np.diag(np.asarray(sigma) ** (1.0 / depth))
    weights = [Q[j + 1] @ S @ Q[j].T for j in range(depth)]
    tangents = []
    for j in range(1, depth):                        # rotate hidden space j: Q_j -> Q_j expm(tA)
        for k in range(d_):
            for l in range(k + 1, d_):
                A = _antisym(d_, k, l)
                dW = [np.zeros((d_, d_)) for _ in range(depth)]
                dW[j - 1] = Q[j] @ A @ S @ Q[j - 1].T
                dW[j] = -Q[j + 1] @ S @ A @ Q[j].T
                assert np.allclose(_push(weights, dW), 0.0, atol=1e-12)   # W stays fixed
                tangents.append(np.concatenate([x.ravel() for x in dW]))
    T = np.array(tangents)
    return 0.5 * np.linalg.slogdet(T @ T.T)[1]


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_e16_entropy_is_log_orbit_volume(depth, rng):
    """E16: 1/2 log det Gram(orbit) = S_N + (d(d-1)/4) log(N 2^{N-1}) exactly."""
    for sigma in ([2.0, 1.0, 0.3], [1.0, 1.0, 0.2], [4.0, 0.1, 0.01]):
        const = 3 * 2 / 4 * np.log(depth * 2.0 ** (depth - 1))
        assert fibre_entropy(sigma, depth) + const == pytest.approx(
            _orbit_gram_logdet(sigma, depth, rng), abs=1e-8)


def test_e16_planted_wrong_multiplier_rejected(rng):
    sigma, N = [2.0, 1.0, 0.3], 3
    const = 1.5 * np.log(N * 2.0 ** (N - 1))
    wrong = fibre_entropy(sigma, N + 1) + const       # a_{N+1} instead of a_N
    assert abs(wrong - _orbit_gram_logdet(sigma, N, rng)) > 1e-2


def test_e15_e16_converge_to_infinite_depth_at_rate_one_over_n():
    sigma = np.array([2.0, 1.0, 0.3, 0.01])
    for f in (lambda s, N: volume_density(s, N, log=True), fibre_entropy):
        errs = [abs(f(sigma, N) - f(sigma, np.inf)) for N in (100, 200, 400)]
        assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)
        assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.05)
    assert np.allclose(rescaled_multiplier(2.0, 0.5, 10 ** 6), rescaled_multiplier(2.0, 0.5, np.inf), rtol=1e-5)


def test_degenerate_singular_values_finite_never_nan():
    close = [1.0, 1.0 + 1e-12, 0.5]
    for N in (2, 3, 8, np.inf):
        assert np.isfinite(volume_density(close, N, log=True))
        assert np.isfinite(fibre_entropy(close, N))
        assert fibre_entropy([1.0, 1.0, 1.0], N) == pytest.approx(0.0, abs=1e-12)   # m(1, 1) = 1
        # tiny singular values: finite, no under/overflow to inf
        assert np.isfinite(volume_density([1.0, 1e-250, 1e-300], N, log=True))
        assert np.isfinite(fibre_entropy([1.0, 1e-250, 1e-300], N))
        # exact degeneracies: documented infinities, never NaN
        for s in ([1.0, 1.0, 0.5], [1.0, 0.0, 0.5], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]):
            assert not np.isnan(volume_density(s, N, log=True))
            assert not np.isnan(volume_density(s, N))
            assert not np.isnan(fibre_entropy(s, N))
    # relative accuracy near coincidence: against the first-order expansion
    y = 1.0 + 1e-9
    delta = y - 1.0                                      # exact
    for N in (2, 5):
        pair = volume_density([1.0, y], N, log=True)
        # diag: -(N-1)/N log(1 + delta); pair: log(N ((1+delta)^{2/N} - 1)) ~ log(2 delta)
        expected = -(N - 1) / N * np.log1p(delta) + np.log(N * np.expm1(2 / N * np.log1p(delta)))
        assert pair == pytest.approx(expected, rel=1e-9)
    assert volume_density([1.0, 1.0, 0.5], 3) == 0.0
    assert volume_density([1.0, 0.0, 0.5], 3) == np.inf
    assert fibre_entropy([0.0, 0.0, 1.0], 3) == -np.inf
    assert fibre_entropy([0.0, 1.0, 1.0], np.inf) == -np.inf
    assert np.all(fibre_entropy(np.ones((4, 3)) * [3.0, 2.0, 1.0], 1) == 0.0)


def test_x6_quick_depth_limit():
    """X6 (quick): depth-N solutions approach N = inf, effective rank falls with depth."""
    out = x6_depth_limit(quick=True)
    diag = out["diag2x2"]
    assert diag["depths"] == [2, 4, np.inf]
    dist = diag["distance_to_inf"]
    assert dist[0] > dist[1] > dist[2] == 0.0
    assert diag["final_erank"][0] > diag["final_erank"][1] > diag["final_erank"][2]
    assert np.all(diag["final_loss"] <= 1.01 * diag["loss_tol"])
    assert all(np.all(np.isfinite(v)) for v in diag["log_volume"] + diag["entropy"])
    e12 = out["e12"]
    assert np.all(np.linalg.det(e12["final_W"][1:]) > 0)        # depth >= 3 keeps det > 0 (E12)


def test_bad_input(rng):
    W = rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match="Z has shape"):
        metric(W, np.ones((3, 4)), 2)
    with pytest.raises(ValueError, match="rescaled"):
        metric(W, W, np.inf, rescaled=False)
    with pytest.raises(ValueError, match="depth"):
        metric(W, W, 0)
    with pytest.raises(ValueError, match="NaN"):
        metric(W * np.nan, W, 2)
    with pytest.raises(ValueError, match=">= 0"):
        volume_density([1.0, -0.5], 2)
    with pytest.raises(ValueError, match="NaN"):
        fibre_entropy([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="depth"):
        fibre_entropy([1.0, 0.5], 2.5)
    with pytest.raises(TypeError):
        volume_density("abc", 2)
    with pytest.raises(ValueError, match="Z has shape"):
        minimum_norm_lift([np.eye(3), np.eye(3)], np.ones((2, 3)))


def test_x6_problems_observe_the_documented_entries():
    from dmf_edu.experiments.x6_infinite_depth import x6_problems
    probs = x6_problems(seed=0)
    diag, e12, low = probs["diag2x2"], probs["e12"], probs["lowrank5"]
    assert sorted(zip(diag.rows.tolist(), diag.cols.tolist(), diag.values.tolist())) == [(0, 0, 1.0), (1, 1, 0.5)]
    assert sorted(zip(e12.rows.tolist(), e12.cols.tolist(), e12.values.tolist())) == [(0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)]
    M = low.truth                                      # rank one, ||M||_F = sqrt(25), observed exactly
    assert np.linalg.matrix_rank(M) == 1 and np.linalg.norm(M) == pytest.approx(5.0, rel=1e-12)
    np.testing.assert_array_equal(low.values, M[low.rows, low.cols])
    assert low.n_observations == 12


@pytest.mark.parametrize("depth", [1, 2, 3, np.inf])
def test_e15_density_itself_equals_the_closed_form(depth):
    """The non-log density (not only its log) is E15's product, written out directly."""
    s = np.array([2.0, 1.0, 0.5])
    i, j = np.triu_indices(3, k=1)
    if depth == np.inf:
        want = np.prod(1 / s) * np.prod(np.abs(np.log(s[i] ** 2) - np.log(s[j] ** 2)))
    else:
        N = depth
        want = np.prod(s ** (-(N - 1) / N)) * np.prod(N * np.abs(s[i] ** (2 / N) - s[j] ** (2 / N)))
    assert volume_density(s, depth) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("depth", [2, 3])
def test_e14_metric_uses_the_e4_multipliers_written_out(depth, rng):
    """The E14 flow identity g(A(G), Z) = <G, Z> holds for ANY multiplier shared by the
    operator and the metric (one multiplies by it, the other divides).  Here the metric is
    compared with E14's sum, its multipliers a_N(x, y) = sum_p x^{2(N-p)/N} y^{2(p-1)/N} (E4)
    written out, in the full SVD of a rectangular W (zero-padded sigma, 0^0 = 1)."""
    N = depth
    W, Z = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    U, s, Vt = np.linalg.svd(W)
    x, y = s[:, None], np.append(s, 0.0)[None, :]              # numpy: 0.0 ** 0 == 1.0
    a = sum(x ** (2 * (N - p) / N) * y ** (2 * (p - 1) / N) for p in range(1, N + 1))
    cz = U.T @ Z @ Vt.T
    assert metric(W, Z, N) == pytest.approx(np.sum(cz ** 2 / a), rel=1e-12)
