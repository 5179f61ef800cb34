"""End-to-end dynamics (E2-E11): each theorem test is paired with a planted bug it rejects."""

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import quad_vec, solve_ivp

import dmf_edu as d
from dmf_edu import dynamics as dy

SHAPES = [(5, 3), (3, 5), (4, 4)]
DEPTHS = [1, 2, 3, 4, np.inf]


def well_conditioned(rng, m, n, top=3.0, bottom=1.0):
    """``U diag(s) V^T`` with random orthonormal U, V and distinct s evenly spaced in [bottom, top]."""
    k = min(m, n)
    U = np.linalg.qr(rng.standard_normal((m, k)))[0]
    V = np.linalg.qr(rng.standard_normal((n, k)))[0]
    return (U * np.linspace(top, bottom, k)) @ V.T


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def wrong_depth_operator(W, Z, depth):
    """Planted bug: the multipliers of depth N + 1."""
    return dy.end_to_end_operator(W, Z, depth + 1)


# --------------------------------------------------------------------------- E3, E4, E5

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("N", DEPTHS)
def test_E4_singular_basis_equals_E3_sum_of_powers(rng, shape, N):
    W, Z = well_conditioned(rng, *shape), rng.standard_normal(shape)
    assert rel(dy.end_to_end_operator(W, Z, N), dy.end_to_end_operator_sum(W, Z, N)) < 1e-9
    if N != np.inf:      # planted bug: the singular-basis form at the wrong depth disagrees
        assert rel(wrong_depth_operator(W, Z, N), dy.end_to_end_operator_sum(W, Z, N)) > 1e-2


def test_E3_operator_batches_over_leading_axes(rng):
    W = np.stack([well_conditioned(rng, 4, 3) for _ in range(3)])
    Z = rng.standard_normal((2, 1, 4, 3))
    out = dy.end_to_end_operator(W, Z, 3)
    assert out.shape == (2, 3, 4, 3)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], dy.end_to_end_operator(W[j], Z[i, 0], 3), rtol=1e-13)


@pytest.mark.parametrize("width", [None, 2])      # width 2 gives a rank-2 W: zero singular values
@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_E3_balanced_factor_flow_moves_W_by_the_operator(rng, N, width):
    ws = d.init_weights((5, 4), N, 1.0, kind="balanced", width=None if N == 1 else (width or 6), rng=rng)
    G = rng.standard_normal((5, 4))
    assert dy.check_end_to_end_dynamics(ws, G) < 1e-9
    if N >= 2:
        # planted bugs: a wrong operator, and an unbalanced start, are both rejected
        assert dy.check_end_to_end_dynamics(ws, G, operator=wrong_depth_operator) > 1e-2
        unbalanced = d.init_weights((5, 4), N, 1.0, kind="gaussian", width=6, rng=rng)
        assert dy.check_end_to_end_dynamics(unbalanced, G) > 1e-2


def test_E3_rank_deficient_W_needs_zero_to_the_zero_equal_one(rng):
    """At a rank-2 balanced point, E3 holds only with (W W^T)^0 = I, i.e. 0^0 = 1."""
    ws = d.init_weights((5, 4), 3, 1.0, kind="balanced", width=2, rng=rng)
    G = rng.standard_normal((5, 4))
    assert dy.check_end_to_end_dynamics(ws, G, operator=dy.end_to_end_operator_sum) < 1e-9

    def zero_to_the_zero_is_zero(W, Z, depth):     # planted bug: drop the null space from M^0
        U, s, Vt = np.linalg.svd(W)
        r = int(np.sum(s > 1e-12 * s[0]))
        Pl, Pr = U[:, :r] @ U[:, :r].T, Vt[:r].T @ Vt[:r]
        return (dy.end_to_end_operator_sum(W, Z, depth) - (np.eye(5) - Pl) @ Z
                - Z @ (np.eye(4) - Pr))

    assert dy.check_end_to_end_dynamics(ws, G, operator=zero_to_the_zero_is_zero) > 1e-2


@pytest.mark.parametrize("shape", [(4, 4), (5, 3)])
def test_E5_infinite_depth_operator_equals_the_integral(rng, shape):
    W, Z = well_conditioned(rng, *shape), rng.standard_normal(shape)
    if shape[0] == shape[1]:       # independent matrix powers: M^p = expm(p logm(M)) (scipy)
        L1, L2 = np.real(scipy.linalg.logm(W @ W.T)), np.real(scipy.linalg.logm(W.T @ W))

        def integrand(s):
            return scipy.linalg.expm((1 - s) * L1) @ Z @ scipy.linalg.expm(s * L2)
    else:                          # rectangular: singular Gram matrices, use eigh-based powers
        from dmf_edu.linalg import psd_power

        def integrand(s):
            return psd_power(W @ W.T, 1 - s) @ Z @ psd_power(W.T @ W, s)
    integral, _ = quad_vec(integrand, 0.0, 1.0, epsabs=0, epsrel=1e-12)
    assert rel(dy.end_to_end_operator(W, Z, np.inf), integral) < 1e-8


def test_E5_rescaled_operator_converges_at_rate_one_over_N(rng):
    W, Z = well_conditioned(rng, 5, 4, top=2.0, bottom=0.5), rng.standard_normal((5, 4))
    limit = dy.end_to_end_operator(W, Z, np.inf)
    depths = np.array([10, 100, 1000])
    errs = [rel(dy.end_to_end_operator(W, Z, N) / N, limit) for N in depths]
    assert np.polyfit(np.log(depths), np.log(errs), 1)[0] == pytest.approx(-1.0, abs=0.05)
    # planted bug: without the 1/N rescaling the "limit" diverges (slope ~ +1)
    bad = [rel(dy.end_to_end_operator(W, Z, N), limit) for N in depths]
    assert np.polyfit(np.log(depths), np.log(bad), 1)[0] > 0.5


def test_degenerate_singular_values_give_finite_correct_operators(rng):
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    P = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    W = (Q[:, :4] * np.array([2.0, 2.0, 1e-150, 0.0])) @ P.T      # repeated, tiny, zero
    Z = rng.standard_normal((5, 4))
    for N in DEPTHS:
        A = dy.end_to_end_operator(W, Z, N)
        assert np.all(np.isfinite(A))
        assert rel(A, dy.end_to_end_operator_sum(W, Z, N, n_nodes=200)) < 1e-9
        assert np.all(np.isfinite(dy.singular_value_velocity(W, Z, N)))
    # a_N(0, 0) = 0 for N >= 2: the joint null space of W (u_4, v_4) sees no motion at all
    for N in [2, 3, np.inf]:
        assert abs(Q[:, 4:].T @ dy.end_to_end_operator(W, Z, N) @ P[:, 3:]).max() < 1e-14


# --------------------------------------------------------------------------- E6, E7, E8

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("N", DEPTHS)
def test_E6_E7_velocities_match_finite_differences_of_the_svd(rng, shape, N):
    W, G = well_conditioned(rng, *shape), rng.standard_normal(shape)
    errs = dy.check_svd_velocities(W, G, N)
    assert max(errs.values()) < 1e-9, errs


def test_E6_E7_checks_reject_planted_bugs(rng):
    W, G = well_conditioned(rng, 5, 3), rng.standard_normal((5, 3))

    def sigma_without_acceleration(W, G, N):       # E6 with the factor (sigma^2)^{1-1/N} dropped
        return dy.singular_value_velocity(W, G, 1)

    def vectors_flipped(W, G, N):                   # sign convention broken
        return tuple(-v for v in dy.singular_vector_velocity(W, G, N))

    def vectors_without_complement(W, G, N):        # (I - U U^T) term of E7 forgotten
        U_dot, V_dot, (U, s, V) = dy.singular_vector_velocity(W, G, N, return_svd=True)
        c = s ** (1 - 2 / N)
        return U_dot + (G @ V - U @ (U.T @ G @ V)) * c, V_dot

    assert dy.check_svd_velocities(W, G, 3, sigma_fn=sigma_without_acceleration)["sigma"] > 1e-2
    assert dy.check_svd_velocities(W, G, 3, vector_fn=vectors_flipped)["U"] > 1
    errs = dy.check_svd_velocities(W, G, 3, vector_fn=vectors_without_complement)
    assert errs["U"] > 1e-2 and errs["V"] < 1e-9


def test_E6_depth_dependent_acceleration(rng):
    W = well_conditioned(rng, 5, 4, top=4.0, bottom=1.0)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    G = -U @ Vt                                     # the same projection <G, u_r v_r^T> = -1 for all r
    ratios = []
    for N in [1, 2, 3, 5, 10, np.inf]:
        v = dy.singular_value_velocity(W, G, N)
        expected = (s[0] / s[1]) ** (2 - (0 if N == np.inf else 2 / N))
        assert v[0] / v[1] == pytest.approx(expected, rel=1e-12)
        ratios.append(v[0] / v[1])
    assert ratios[0] == pytest.approx(1.0) and np.all(np.diff(ratios) > 0)
    # planted bug: the exponent 1 - 1/N instead of 2 - 2/N fails the same check
    wrong = (s[0] / s[1]) ** (1 - 1 / 3)
    assert abs(wrong / ((s[0] / s[1]) ** (2 - 2 / 3)) - 1) > 1e-2


@pytest.mark.parametrize("N", [1, 2, 3, np.inf])
def test_E8_singular_vectors_stationary_iff_projected_gradient_diagonal(rng, N):
    W = well_conditioned(rng, 5, 3)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    G = (U * rng.standard_normal(3)) @ Vt           # U^T G V diagonal, no complement part
    U_dot, V_dot = dy.singular_vector_velocity(W, G, N)
    assert max(np.abs(U_dot).max(), np.abs(V_dot).max()) < 1e-13
    # one off-diagonal entry eps makes them move, linearly in eps (the check can fail)
    E = np.zeros((3, 3))
    E[0, 1] = 1.0
    speeds = [np.linalg.norm(dy.singular_vector_velocity(W, G + eps * U @ E @ Vt, N)[0])
              for eps in (1e-3, 2e-3)]
    assert speeds[0] > 1e-5 and speeds[1] / speeds[0] == pytest.approx(2.0, rel=1e-6)


def off_diagonal_in_basis(W, Q):
    B = Q.T @ W @ Q
    return np.linalg.norm(B - np.diag(np.diag(B))) / np.linalg.norm(B)


def test_E8_commuting_problem_keeps_singular_vectors_aligned(rng):
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    problem = d.commuting_sensing([3.0, 1.5, 0.5, 0.0], 6, rng=rng, basis=Q)
    N, a0 = 3, np.array([0.04, 0.03, 0.02, 0.01])
    ws = [(Q * a0 ** (1 / N)) @ Q.T for _ in range(N)]            # balanced, commuting with every A_k
    G0 = problem.gradient(d.end_to_end(ws))
    assert max(np.abs(v).max() for v in dy.singular_vector_velocity(d.end_to_end(ws), G0, N)) < 1e-12
    run = dy.gradient_flow(problem, ws, 30.0, n_records=3)
    assert run.history["loss"][-1] < 1e-3 * run.history["loss"][0]   # it did learn
    assert off_diagonal_in_basis(run.W, Q) < 1e-9
    # planted bug: non-commuting (Gaussian) measurements rotate the singular vectors
    other = d.gaussian_sensing(problem.truth, 6, rng=rng)
    assert off_diagonal_in_basis(dy.gradient_flow(other, ws, 30.0, n_records=3).W, Q) > 1e-3


# --------------------------------------------------------------------------- E2 and flows

def small_completion(rng, shape=(5, 4), n_obs=14):
    return d.sample_completion(d.random_low_rank(*shape, 2, rng=rng), n_obs, rng=rng)


def drift(ws, ws0):
    return max(np.linalg.norm(D - D0) for D, D0 in zip(d.balancedness_residuals(ws), d.balancedness_residuals(ws0)))


def test_E2_flow_conserves_balancedness_and_weight_decay_shrinks_it(rng):
    problem = small_completion(rng)
    ws0 = d.init_weights((5, 4), 3, 1.0, width=[6, 3], rng=rng)          # unbalanced
    size = max(np.linalg.norm(D) for D in d.balancedness_residuals(ws0))
    run = dy.gradient_flow(problem, ws0, 5.0, n_records=2)
    assert run.history["loss"][-1] < 0.5 * run.history["loss"][0]
    assert drift(run.weights, ws0) < 1e-7 * size
    lam = 0.1
    decayed = dy.gradient_flow(problem, ws0, 5.0, n_records=2, weight_decay=lam).weights
    for D, D0 in zip(d.balancedness_residuals(decayed), d.balancedness_residuals(ws0)):
        assert rel(D, np.exp(-2 * lam * 5.0) * D0) < 1e-7                 # dD/dt = -2 lambda D

    def uneven(ws, G):                    # planted bug: one layer moves at double speed
        grads = d.layer_gradients(ws, G)
        grads[0] = 2 * grads[0]
        return grads

    assert drift(dy.gradient_flow(problem, ws0, 5.0, n_records=2, grad_fn=uneven).weights, ws0) > 1e-3 * size


def gd_drift(problem, ws0, eta, horizon, grad_fn=d.layer_gradients):
    ws = [w.copy() for w in ws0]
    for _ in range(int(round(horizon / eta))):
        G = problem.gradient(d.end_to_end(ws))
        ws = [w - eta * g for w, g in zip(ws, grad_fn(ws, G))]
    return ws, drift(ws, ws0)


def test_E2_gradient_descent_drift_halves_with_the_step(rng):
    problem = small_completion(rng)
    problem = d.MatrixCompletion(problem.shape, problem.rows, problem.cols, problem.values, method="dense")
    ws0 = d.init_weights((5, 4), 3, 1.0, width=[6, 3], rng=rng)
    horizon, etas = 1.0, [0.02, 0.01, 0.005]
    drifts = []
    for eta in etas:
        ws, dft = gd_drift(problem, ws0, eta, horizon)
        lib = d.gradient_descent(problem, ws0, lr=eta, max_steps=int(round(horizon / eta)))
        assert max(rel(a, b) for a, b in zip(lib.weights, ws)) < 1e-12     # the helper is the library's GD
        drifts.append(dft)
    ratios = np.array(drifts[:-1]) / np.array(drifts[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios

    def uneven(ws, G):                    # planted bug: the O(1) drift of a non-gradient does not halve
        grads = d.layer_gradients(ws, G)
        return [2 * grads[0]] + grads[1:]

    bad = [gd_drift(problem, ws0, eta, horizon, uneven)[1] for eta in etas[1:]]
    assert bad[0] / bad[1] < 1.2


def test_E3_factor_flow_from_balanced_init_tracks_end_to_end_flow(rng):
    problem = small_completion(rng)
    ws0 = d.init_weights((5, 4), 3, 0.5, kind="balanced", width=[6, 7], rng=rng)
    times = np.linspace(0, 10.0, 6)
    fac = dy.gradient_flow(problem, ws0, 10.0, record_times=times)
    e2e = dy.end_to_end_flow(problem, d.end_to_end(ws0), 3, 10.0, record_times=times)
    assert fac.history["loss"][-1] < 1e-2 * fac.history["loss"][0]
    np.testing.assert_allclose(fac.history["t"], times)
    np.testing.assert_allclose(fac.history["singular_values"], e2e.history["singular_values"], rtol=1e-6, atol=1e-9)
    assert rel(fac.W, e2e.W) < 1e-6
    assert set(fac.history) == set(e2e.history) >= {"step", "loss", "train_error", "effective_rank",
                                                    "balancedness", "singular_values", "time", "t"}
    # planted bug: the end-to-end flow at the wrong depth does not track
    wrong = dy.end_to_end_flow(problem, d.end_to_end(ws0), 4, 10.0, n_records=2)
    assert rel(wrong.W, fac.W) > 1e-2


def test_rescaled_time_and_infinite_depth_limit(rng):
    problem = small_completion(rng)
    W0 = well_conditioned(rng, 5, 4, top=1.0, bottom=0.3)
    natural = dy.end_to_end_flow(problem, W0, 3, 2.0, n_records=2)
    rescaled = dy.end_to_end_flow(problem, W0, 3, 6.0, rescaled=True, n_records=2)   # tau = 3 t
    assert rel(rescaled.W, natural.W) < 1e-7
    # over a short horizon the depth-N flows approach the N = inf flow at rate O(1/N) (E5);
    # later, the fast growth of the top singular value amplifies the O(1/N) gap
    limit = dy.end_to_end_flow(problem, W0, np.inf, 0.5, n_records=2).W
    gaps = [rel(dy.end_to_end_flow(problem, W0, N, 0.5, rescaled=True, n_records=2).W, limit)
            for N in (8, 16, 32)]
    assert 1.6 < gaps[0] / gaps[1] < 2.4 and 1.6 < gaps[1] / gaps[2] < 2.4     # O(1/N)


def test_flow_loss_event_stops_at_threshold(rng):
    problem = small_completion(rng)
    ws0 = d.init_weights((5, 4), 2, 0.5, kind="balanced", rng=rng)
    loss0 = float(problem.loss(d.end_to_end(ws0)))
    run = dy.gradient_flow(problem, ws0, 1e3, loss_tol=1e-2 * loss0, n_records=11)
    assert run.success and run.history["loss"][-1] == pytest.approx(1e-2 * loss0, rel=1e-6)
    assert run.history["t"][-1] < 1e3 and run.nit > 0
    assert np.all(np.diff(run.history["step"]) >= 0)
    already = dy.gradient_flow(problem, run.weights, 10.0, loss_tol=2e-2 * loss0)
    assert already.success and already.history["t"].tolist() == [0.0]


def test_flow_batches_trials_and_reports_divergence(rng):
    problem = small_completion(rng)
    ws = d.init_weights((5, 4), 2, 0.5, kind="balanced", rng=rng, batch_shape=(2,))
    run = dy.gradient_flow(problem, ws, 3.0, n_records=4)
    assert run.history["loss"].shape == (4, 2) and run.history["singular_values"].shape == (4, 2, 4)
    for i in range(2):
        single = dy.gradient_flow(problem, [w[i] for w in ws], 3.0, n_records=2)
        assert rel(run.W[i], single.W) < 1e-7

    def ascent(ws, G):                     # gradient ascent blows up in finite time
        return [-g for g in d.layer_gradients(ws, G)]

    with pytest.raises(d.DivergenceError, match="gradient_flow failed") as info:
        dy.gradient_flow(problem, [w[0] for w in ws], 100.0, grad_fn=ascent)
    assert info.value.run.history["t"][0] == 0.0


# --------------------------------------------------------------------------- E10, E11

def one_mode(s):
    return d.MatrixCompletion((1, 1), [0], [0], [s])


@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_E10_flow_matches_closed_form(N):
    s, alpha = 2.0, 0.3
    run = dy.gradient_flow(one_mode(s), [np.array([[alpha]])] * N, 8.0, n_records=41)
    a = run.history["singular_values"][:, 0]
    np.testing.assert_allclose(a, dy.scalar_trajectory(run.history["t"], s, alpha ** N, N), rtol=1e-7)
    if N >= 2:     # planted bug: the closed form of another depth does not match
        assert np.max(np.abs(dy.scalar_trajectory(run.history["t"], s, alpha ** N, N + 1) / a - 1)) > 1e-2


@pytest.mark.parametrize("N", [2, 3])
def test_E10_gradient_descent_converges_to_closed_form_at_rate_eta(N):
    s, alpha, horizon = 1.0, 0.5, 4.0
    a_exact = dy.scalar_trajectory(horizon, s, alpha ** N, N)

    def gd_error(eta, depth):
        run = d.gradient_descent(one_mode(s), [np.array([[alpha]])] * N, lr=eta,
                                 max_steps=int(round(horizon / eta)), record_every=10 ** 6)
        return abs(run.W[0, 0] - dy.scalar_trajectory(horizon, s, alpha ** N, depth))

    errs = [gd_error(eta, N) for eta in (0.02, 0.01, 0.005)]
    assert errs[-1] < 1e-2 * a_exact
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios
    bad = [gd_error(eta, N + 1) for eta in (0.01, 0.005)]   # planted bug: wrong-depth closed form
    assert bad[0] / bad[1] < 1.2


def fitted_slope(alphas, times):
    return np.polyfit(np.log(alphas), np.log(times), 1)[0]


@pytest.mark.parametrize("N", [3, 4])
def test_E10_escape_time_scales_as_alpha_to_the_minus_N_minus_2(N):
    s = 1.0
    alphas = np.geomspace(0.01, 0.04, 3) if N == 3 else np.geomspace(0.03, 0.1, 3)
    measured = []
    for alpha in alphas:   # loss 1/2 (a - s)^2 = s^2/8  <=>  a = s/2
        run = dy.gradient_flow(one_mode(s), [np.array([[alpha]])] * N, 1e6, loss_tol=s * s / 8, n_records=2)
        measured.append(run.history["t"][-1])
    np.testing.assert_allclose(measured, dy.escape_time(s, alphas, N), rtol=1e-6)
    assert fitted_slope(alphas, measured) == pytest.approx(-(N - 2), abs=0.05)

    def wrong_flow_escape(alpha):          # planted bug: a^{2 - 1/N} in place of a^{2 - 2/N}
        hit = lambda t, a: a[0] - s / 2    # noqa: E731
        hit.terminal = True
        sol = solve_ivp(lambda t, a: N * a ** (2 - 1 / N) * (s - a), (0, 1e8), [alpha ** N],
                        events=hit, rtol=1e-9, atol=1e-14)
        return sol.t_events[0][0]

    bad = fitted_slope(alphas, [wrong_flow_escape(al) for al in alphas])
    assert abs(bad + (N - 2)) > 0.5


def test_E10_modes_escape_in_order_of_their_targets():
    targets, alpha = np.array([4.0, 2.0, 1.0]), 1e-3
    times = dy.escape_time(targets, alpha, 3)
    np.testing.assert_allclose(times / times[0], targets[0] / targets, rtol=5e-3)
    asym = dy.escape_time_asymptotic(targets, alpha, 3)
    np.testing.assert_allclose(times, asym, rtol=5e-3)


def test_E10_closed_forms_agree_with_quadrature():
    from scipy.integrate import quad
    for N in [1, 2, 3, 5, np.inf]:
        for a0, a in [(1e-2, 1.5), (3.0, 2.5)]:
            exact = quad(lambda x: 1 / dy.scalar_velocity(x, 2.0, N), a0, a, epsrel=1e-13, limit=200)[0]
            assert dy.time_to_reach(a, 2.0, a0, N) == pytest.approx(exact, rel=1e-10)
            assert dy.scalar_trajectory(exact, 2.0, a0, N) == pytest.approx(a, rel=1e-9)


@pytest.mark.parametrize("N", [2, 3, 4])
def test_E11_full_matrix_gd_equals_scalar_recursion(rng, N):
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    lam = np.array([2.0, 1.0, 0.5, -0.3])
    A = (Q * lam) @ Q.T
    rows, cols = np.divmod(np.arange(16), 4)
    problem = d.MatrixCompletion((4, 4), rows, cols, A.ravel())      # 1/2 ||W - A||_F^2
    alpha, eta, steps = 0.5, 0.05, 200
    run = d.gradient_descent(problem, d.init_weights((4, 4), N, alpha ** N, kind="identity"),
                             lr=eta, max_steps=steps, record_every=1)
    x = dy.diagonal_recursion(lam, alpha, N, eta, steps)
    for w in run.weights:
        assert rel(w, (Q * x[-1]) @ Q.T) < 1e-12
    expected = -np.sort(-np.abs(x ** N), axis=1)
    np.testing.assert_allclose(run.history["singular_values"], expected, rtol=1e-10, atol=1e-14)
    # planted bug: a recursion with x^{N-2} does not match
    wrong = x.copy()
    with np.errstate(all="ignore"):
        for k in range(steps):
            wrong[k + 1] = wrong[k] + eta * wrong[k] ** (N - 2) * (lam - wrong[k] ** N)
    assert not rel((Q * wrong[-1]) @ Q.T, run.weights[0]) < 1e-3      # (NaN after blow-up also fails)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad", [0, -2, 2.5])
def test_bad_depth_is_named(rng, bad):
    W = rng.standard_normal((3, 2))
    for fn in (dy.end_to_end_operator, dy.end_to_end_operator_sum, dy.singular_value_velocity,
               dy.singular_vector_velocity):
        with pytest.raises(ValueError, match="depth"):
            fn(W, W, bad)
    with pytest.raises(ValueError, match="depth"):
        dy.scalar_trajectory(1.0, 1.0, 0.1, bad)


def test_bad_shapes_and_values_raise_clear_errors(rng):
    W = well_conditioned(rng, 3, 2)
    with pytest.raises(ValueError, match="Z has shape"):
        dy.end_to_end_operator(W, np.ones((2, 3)), 2)
    with pytest.raises(ValueError, match="G has shape"):
        dy.singular_value_velocity(W, np.ones((3, 3)), 2)
    with pytest.raises(ValueError, match="W contains 1 NaN"):
        dy.end_to_end_operator(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.eye(2), 2)
    with pytest.raises(ValueError, match="repeated singular values"):
        dy.singular_vector_velocity(np.eye(3)[:, :2], np.ones((3, 2)), 2)
    with pytest.raises(ValueError, match="zero singular value"):
        dy.singular_vector_velocity(np.diag([1.0, 0.0]), np.ones((2, 2)), 2)
    problem = small_completion(rng)
    with pytest.raises(ValueError, match="problem is 5x4"):
        dy.end_to_end_flow(problem, np.ones((4, 5)), 2, 1.0)
    with pytest.raises(ValueError, match="rescaled"):
        dy.end_to_end_flow(problem, np.ones((5, 4)), np.inf, 1.0, rescaled=False)
    with pytest.raises(ValueError, match="t_end"):
        dy.gradient_flow(problem, d.init_weights((5, 4), 2, 0.1, rng=rng), -1.0)
    with pytest.raises(TypeError, match="problem"):
        dy.gradient_flow("not a problem", d.init_weights((5, 4), 2, 0.1, rng=rng), 1.0)
    with pytest.raises(ValueError, match="between a0"):
        dy.time_to_reach(3.0, 2.0, 0.1, 3)
    with pytest.raises(ValueError, match="a0"):
        dy.escape_time(1.0, 0.0, 3)
    with pytest.raises(ValueError, match="t must be >= 0"):
        dy.scalar_trajectory(-1.0, 1.0, 0.1, 3)
    with pytest.raises(d.DivergenceError):
        dy.diagonal_recursion([1e3], 1.0, 3, 10.0, 50)


def test_E3_E6_E7_checkers_report_the_exact_error_of_a_doubled_velocity(rng):
    """The checkers' numbers are exact where the answer is known, not just small or large.

    A doubled operator gives ||v + 2A(G)|| / ||v|| = ||A(G)|| / ||A(G)|| = 1 at a balanced point
    (rounding ~1e-14); doubled E6/E7 velocities give ||2x - x|| / ||x|| = 1 up to the O(h^2)
    error of the SVD finite differences (~1e-8 at h = 1e-3; 1e-5 is generous).
    """
    ws = d.init_weights((5, 4), 3, 1.0, kind="balanced", width=6, rng=rng)
    G = rng.standard_normal((5, 4))
    doubled = lambda W, Z, N: 2 * dy.end_to_end_operator(W, Z, N)    # noqa: E731
    assert dy.check_end_to_end_dynamics(ws, G, operator=doubled) == pytest.approx(1.0, abs=1e-9)
    W, G = well_conditioned(rng, 5, 3), rng.standard_normal((5, 3))
    errs = dy.check_svd_velocities(W, G, 3, sigma_fn=lambda W, G, N: 2 * dy.singular_value_velocity(W, G, N),
                                   vector_fn=lambda W, G, N: [2 * v for v in dy.singular_vector_velocity(W, G, N)])
    assert errs == pytest.approx(dict(sigma=1.0, U=1.0, V=1.0), abs=1e-5)
# --------------------------------------------------------------------------- E5 inverse

def _resolvent_integral(W, Z, weight):
    """``int_0^inf weight(s) (s + WW^T)^{-1} Z (s + W^T W)^{-1} ds``, entry by entry with ``quad``.

    Evaluated on [0, 1] and [1, inf) separately (``weight`` may be singular at 0); the matrix
    integrand uses linear solves, not the singular basis, so the test is independent of it.
    """
    from scipy.integrate import quad
    m, n = W.shape
    left, right = W @ W.T, W.T @ W

    def integrand(s, i, j):
        return weight(s) * (np.linalg.solve(s * np.eye(m) + left, Z) @ np.linalg.inv(s * np.eye(n) + right))[i, j]

    out = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            out[i, j] = sum(quad(integrand, lo, hi, args=(i, j), epsabs=1e-13, epsrel=1e-10, limit=200)[0]
                            for lo, hi in ((0.0, 1.0), (1.0, np.inf)))
    return out


def test_E5_inverse_infinite_depth_equals_the_resolvent_integral(rng):
    """THEORY E5: A_inf^{-1}(Z) = int_0^inf (s + WW^T)^{-1} Z (s + W^T W)^{-1} ds (square W)."""
    W, Z = well_conditioned(rng, 3, 3, top=2.0, bottom=0.5), rng.standard_normal((3, 3))
    integral = _resolvent_integral(W, Z, lambda s: 1.0)
    assert rel(dy.end_to_end_operator_inverse(W, Z, np.inf), integral) < 1e-8
    # planted bug: inverting the depth-2 operator instead is far from the integral
    assert rel(dy.end_to_end_operator_inverse(W, Z, 2) / 2, integral) > 1e-2


@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (2, 3)])
@pytest.mark.parametrize("N", [2, 3])
def test_E5_inverse_finite_depth_equals_the_weighted_resolvent_integral(rng, shape, N):
    """THEORY E5: A_N^{-1}(Z) = (sin(pi/N)/pi) int_0^inf s^{1/N} (s + WW^T)^{-1} Z (s + W^T W)^{-1} ds."""
    W, Z = well_conditioned(rng, *shape, top=2.0, bottom=0.5), rng.standard_normal(shape)
    integral = np.sin(np.pi / N) / np.pi * _resolvent_integral(W, Z, lambda s: s ** (1.0 / N))
    assert rel(dy.end_to_end_operator_inverse(W, Z, N), integral) < 1e-8
    # planted bug: the multipliers of depth N + 1 miss the integral
    assert rel(dy.end_to_end_operator_inverse(W, Z, N + 1), integral) > 1e-2


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("N", DEPTHS)
def test_E5_inverse_undoes_the_operator(rng, shape, N):
    W, Z = well_conditioned(rng, *shape), rng.standard_normal(shape)
    if N == np.inf and shape[0] != shape[1]:
        with pytest.raises(ValueError, match="square"):
            dy.end_to_end_operator_inverse(W, Z, N)
        return
    assert rel(dy.end_to_end_operator_inverse(W, dy.end_to_end_operator(W, Z, N), N), Z) < 1e-12
    assert rel(dy.end_to_end_operator(W, dy.end_to_end_operator_inverse(W, Z, N), N), Z) < 1e-12


def test_E5_inverse_broadcasts_over_trials(rng):
    W = np.stack([well_conditioned(rng, 3, 2) for _ in range(4)])
    Z = rng.standard_normal((3, 2))
    batched = dy.end_to_end_operator_inverse(W, Z, 3)
    assert batched.shape == (4, 3, 2)
    for k in range(4):
        assert rel(batched[k], dy.end_to_end_operator_inverse(W[k], Z, 3)) < 1e-14


def test_E5_inverse_bad_inputs(rng):
    W, Z = well_conditioned(rng, 3, 3), rng.standard_normal((3, 3))
    singular = np.diag([2.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="rank deficient"):
        dy.end_to_end_operator_inverse(singular, Z, 2)
    with pytest.raises(ValueError, match="rank deficient"):
        dy.end_to_end_operator_inverse(np.stack([W, singular]), Z, np.inf)
    # depth 1: A_1 is the identity, invertible even at a singular W
    assert np.array_equal(dy.end_to_end_operator_inverse(singular, Z, 1), Z)
    with pytest.raises(ValueError, match="square"):
        dy.end_to_end_operator_inverse(well_conditioned(rng, 3, 2), np.ones((3, 2)), np.inf)
    for depth in (0, -1, 2.5, np.nan):
        with pytest.raises(ValueError, match="depth"):
            dy.end_to_end_operator_inverse(W, Z, depth)
    with pytest.raises(TypeError, match="depth"):
        dy.end_to_end_operator_inverse(W, Z, "3")
    with pytest.raises(ValueError, match="Z has shape"):
        dy.end_to_end_operator_inverse(W, np.ones((3, 2)), 2)
    with pytest.raises(ValueError, match="NaN"):
        dy.end_to_end_operator_inverse(W, np.full((3, 3), np.nan), 2)
