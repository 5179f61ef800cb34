"""Tests of dmf_edu.landscape (E17) and the X7 experiment functions."""

import numpy as np
import pytest
import sympy

import dmf_edu as d
from dmf_edu.landscape.hessian import _hvp  # the unvalidated core, to plant bugs around it
from dmf_edu.landscape.hessian import (check_hessian_vector_product, classify_point, hessian_extremes, hessian_matrix, hessian_operator, hessian_vector_product)
from dmf_edu.landscape.stages import detect_stages
from dmf_edu.experiments.x7_saddles import x7_escape_times, x7_run, x7_stages
from dmf_edu.problems import full_observation
from dmf_edu.targets import separated_target

# rectangular outer shape with hidden widths different from both outer dimensions: at square,
# equal-width points a missing transpose can go unseen
SHAPE, WIDTHS = (4, 5), {1: None, 2: [3], 3: [3, 6], 4: [3, 6, 2]}


def _completion(rng, reduction="sum"):
    M = d.random_low_rank(*SHAPE, 2, rng=rng)
    return d.sample_completion(M, 14, rng=rng, reduction=reduction)


def _point(depth, rng):
    return d.init_weights(SHAPE, depth, 1.0, width=WIDTHS[depth], rng=rng)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["completion", "completion-mean", "sensing"])
def test_e17_hvp_matches_finite_differences_of_e1(depth, kind, rng):
    if kind == "sensing":
        problem = d.gaussian_sensing(d.random_low_rank(*SHAPE, 2, rng=rng), 11, rng=rng)
    else:
        problem = _completion(rng, "mean" if kind.endswith("mean") else "sum")
    err = check_hessian_vector_product(problem, _point(depth, rng), rng=rng)
    assert err < 1e-7          # central differences of E1: ~1e-10 observed


def _gauss_newton_only(problem, weights, V):
    """Planted bug: drops the curvature of the product (keeps J^* H_ell J V only)."""
    return _hvp(weights, np.zeros(problem.shape), V, problem.loss_hessian_apply)


def _missing_transpose(problem, weights, V):
    """Planted bug: V_j instead of V_j^T in the backward tangent."""
    G = problem.gradient(d.end_to_end(weights))
    Vt = [v if v.shape[0] != v.shape[1] else v.T for v in V]
    return _hvp(weights, G, [V[0]] + Vt[1:], problem.loss_hessian_apply)


@pytest.mark.parametrize("planted", [_gauss_newton_only, _missing_transpose])
def test_e17_hvp_check_catches_planted_bugs(planted, rng):
    weights = d.init_weights((4, 4), 3, 1.0, width=4, rng=rng)
    problem = d.sample_completion(d.random_low_rank(4, 4, 2, rng=rng), 10, rng=rng)
    assert check_hessian_vector_product(problem, weights, rng=rng) < 1e-7
    assert check_hessian_vector_product(problem, weights, hvp=planted, rng=rng) > 1e-2


def test_e17_hvp_matches_symbolic_hessian():
    """The Hessian of phi from sympy differentiation at a rational point (exact), N = 3."""
    dims = [3, 2, 3, 2]                                  # d_0 .. d_3, W = W_3 W_2 W_1 is 2 x 3
    rng = np.random.default_rng(7)
    syms, mats, vals = [], [], []
    for j in range(3):
        S = sympy.Matrix(dims[j + 1], dims[j], lambda a, b: sympy.Symbol(f"w{j}_{a}{b}"))
        mats.append(S)
        syms.extend(list(S))
        vals.append(rng.integers(-3, 4, size=(dims[j + 1], dims[j])) / 2)
    rows, cols = [0, 0, 1, 1], [0, 2, 1, 2]
    target = [1, -2, 3, sympy.Rational(1, 2)]
    W = mats[2] * mats[1] * mats[0]
    phi = sum((W[r, c] - t) ** 2 for r, c, t in zip(rows, cols, target)) / 2
    point = {s: sympy.Rational(v).limit_denominator() for s, v in
             zip(syms, np.concatenate([v.ravel() for v in vals]))}
    H_sym = np.array(sympy.hessian(phi, syms).subs(point), dtype=float)
    problem = d.MatrixCompletion((2, 3), rows, cols, [1.0, -2.0, 3.0, 0.5])
    H = hessian_matrix(problem, vals)
    assert np.max(np.abs(H - H_sym)) < 1e-12 * max(1.0, np.max(np.abs(H_sym)))


@pytest.mark.parametrize("depth", [2, 3])
def test_e17_lanczos_matches_dense(depth, rng):
    problem = _completion(rng)
    weights = _point(depth, rng)
    lam = np.linalg.eigvalsh(hessian_matrix(problem, weights))
    lo, hi = hessian_extremes(problem, weights, method="lanczos", rng=rng)
    assert lo == pytest.approx(lam[0], rel=1e-8, abs=1e-10)
    assert hi == pytest.approx(lam[-1], rel=1e-8)
    H = hessian_operator(problem, weights)
    x, y = rng.standard_normal((2, H.shape[0]))
    assert x @ H.matvec(y) == pytest.approx(y @ H.matvec(x), rel=1e-10)   # symmetric


def test_e17_origin_signatures(rng):
    """At W_j = 0: N = 2 eigenvalues +-sigma_i(G), so lambda_min = -||G||_2 (strict saddle);
    N >= 3 the Hessian vanishes (degenerate)."""
    M, _ = separated_target(4, 2, rng=rng)
    problem = full_observation(M)
    G = problem.gradient(np.zeros((4, 4)))
    zero2 = [np.zeros((4, 4))] * 2
    lo, hi = hessian_extremes(problem, zero2, rng=rng)
    assert lo == pytest.approx(-np.linalg.norm(G, 2), rel=1e-9)
    assert hi == pytest.approx(np.linalg.norm(G, 2), rel=1e-9)
    assert classify_point(problem, zero2)["kind"] == "strict saddle"
    c3 = classify_point(problem, [np.zeros((4, 4))] * 3)
    assert c3["kind"] == "second-order stationary" and c3["degenerate"]


def test_e17_classifier_min_saddle_and_moving_point(rng):
    M, s = separated_target(4, 2, rng=rng)
    problem = full_observation(M)
    U, _, Vt = np.linalg.svd(M)
    # balanced factorization of M (global min) and of its rank-1 truncation (a saddle)
    def balanced(sv, N):
        root = np.diag(np.concatenate([sv, np.zeros(4 - len(sv))]) ** (1.0 / N))
        return [root @ Vt] + [root] * (N - 2) + [U @ root]
    end = classify_point(problem, balanced(s, 2))
    assert end["kind"] == "second-order stationary" and end["grad_norm"] < 1e-10
    saddle = classify_point(problem, balanced(s[:1], 2))
    assert saddle["kind"] == "strict saddle"
    assert saddle["lambda_min"] == pytest.approx(-s[1], rel=1e-8)   # -||G||_2 through a free hidden unit
    # N = 3 at the same rank-1 saddle: no negative eigenvalue at the exact saddle (s_1 > s_2),
    # a higher-order saddle -- GD escapes only through the init's residual components
    deep = classify_point(problem, balanced(s[:1], 3))
    assert deep["kind"] == "second-order stationary" and deep["lambda_min"] > -1e-9
    moving = classify_point(problem, d.init_weights((4, 4), 2, 1.0, rng=rng))
    assert moving["kind"] == "not stationary"


def _staircase(n_stages, together=False):
    """A synthetic history: singular value k rises (logistic) at time 100 (k + 1)."""
    t = np.arange(0, 100 * (n_stages + 2), 2.0)
    centres = [100.0 * (k + 1) for k in range(n_stages)]
    if together:
        centres[1] = centres[0]
    finals = 2.0 ** -np.arange(n_stages)
    sv = np.stack([f / (1 + np.exp(-(t - c) / 3.0)) for f, c in zip(finals, centres)]
                  + [np.full_like(t, 1e-6)], axis=1)
    loss = 0.5 * np.sum((finals[None, :] - sv[:, :n_stages]) ** 2, axis=1) + 1e-12
    return dict(step=t.astype(int), loss=loss, singular_values=sv), centres


@pytest.mark.parametrize("n", [1, 3, 5])
def test_e17_stage_detector_on_synthetic_staircase(n):
    hist, centres = _staircase(n)
    st = detect_stages(hist)
    assert st.n_stages == n and len(st.escaped) == n
    assert np.all(np.abs(st.escape_steps - np.array(centres)) <= 2)    # half-height = centre
    assert len(st.plateau_steps) == n and np.all(st.plateau_flatness < 0.05)
    for k, c in enumerate(centres):             # each plateau lies before its escape
        assert (c - 100) < st.plateau_steps[k] < c


def test_e17_stage_detector_merges_simultaneous_rises():
    """Planted: two singular values rising together are one stage, not two."""
    hist, _ = _staircase(3, together=True)
    st = detect_stages(hist)
    assert len(st.escaped) == 3 and st.n_stages == 2
    assert st.success and st.status == "stages" and st.message.startswith("2 saddle-escape stages") and st.wall_time >= 0


def test_stages_result_shape_without_stages():
    flat = dict(step=np.arange(5), loss=np.ones(5), singular_values=np.full((5, 2), 1e-6))
    st = detect_stages(flat, floor=1e-3)
    assert st.n_stages == 0 and not st.success and st.status == "no_stages" and "No singular value" in st.message


@pytest.mark.parametrize("rank,depth", [(1, 2), (3, 2), (2, 3), (3, 3)])
def test_x7_gd_stages_equal_rank_with_negative_curvature(rank, depth):
    """X7 / E17: R stages, lambda_min < 0 at every plateau, end point second-order stationary."""
    row = x7_run(rank, depth, size=4, seed=3)
    assert row["n_stages"] == rank
    # negative curvature at every plateau, far below the end point's (init-sized) residual
    assert np.all(row["plateau_lambda_min"] < 50 * min(row["end"]["lambda_min"], -1e-12))
    assert row["end"]["kind"] == "second-order stationary"
    assert np.all(np.diff(row["escape_steps"]) > 0)


def test_x7_escape_times_follow_e10():
    """Identity init + commuting target: GD escape times match the exact E10 time to O(lr),
    and lambda_min at the init scales like alpha^{N-2} (E17 <-> E10)."""
    rows = x7_escape_times(alphas=(0.2, 0.1), depths=(2, 3))
    for r in rows:
        assert np.allclose(r["escape_time"], r["e10_time"], rtol=0.03)
    lam = {(r["depth"], r["alpha"]): r["lambda_min_origin"] for r in rows}
    assert lam[(3, 0.2)] / lam[(3, 0.1)] == pytest.approx(2.0, rel=0.02)     # alpha^{N-2}, N = 3
    assert lam[(2, 0.2)] / lam[(2, 0.1)] == pytest.approx(1.0, abs=0.05)     # N = 2: -s_1 + O(alpha^2)
    s1 = rows[0]["s"][0]
    assert lam[(3, 0.1)] == pytest.approx(-2 * s1 * 0.1, rel=0.02)          # -(N-1) s_1 alpha^{N-2}


def test_x7_quick_sweep_runs():
    rows = x7_stages(quick=True)
    assert [r["n_stages"] for r in rows] == [r["rank"] for r in rows]


def test_bad_input(rng):
    problem = _completion(rng)
    w = _point(2, rng)
    with pytest.raises(ValueError, match="V must"):
        hessian_vector_product(problem, w, w[:1])
    with pytest.raises(TypeError, match="problem"):
        hessian_operator("not a problem", w)
    with pytest.raises(ValueError, match="problem is"):
        hessian_operator(problem, [np.ones((3, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="method"):
        hessian_extremes(problem, w, method="power")
    with pytest.raises(ValueError, match="NaN"):
        hessian_operator(problem, [w[0] * np.nan, w[1]])
    with pytest.raises(ValueError, match="unbatched"):
        hessian_operator(problem, [np.ones((2,) + x.shape) for x in w])
    with pytest.raises(ValueError, match="history"):
        detect_stages({"step": [0, 1, 2], "loss": [1.0, 1.0, 1.0]})
    with pytest.raises(ValueError, match="low < high"):
        detect_stages(_staircase(2)[0], low=0.9, high=0.1)
    with pytest.raises(ValueError, match="grad_tol"):
        classify_point(problem, w, grad_tol=-1.0)
    with pytest.raises(ValueError, match="ratio"):
        separated_target(4, 2, ratio=1.0)


def test_e17_hvp_check_reports_the_exact_error_of_a_doubled_product(rng):
    # a doubled product scores ||fd - 2 fd|| / ||2 fd|| = 1/2 up to the O(h^2) difference
    # error (~1e-10 relative); 1e-6 leaves room for it
    weights, problem = _point(3, rng), _completion(rng)
    doubled = lambda p, ws, V: [2 * x for x in hessian_vector_product(p, ws, V)]  # noqa: E731
    assert check_hessian_vector_product(problem, weights, hvp=doubled, rng=rng) == pytest.approx(0.5, abs=1e-6)


def test_e17_stage_detector_reports_the_history_it_was_given():
    # the numbers in Stages are read off the history: loss at the plateau steps, the default
    # floor max(10 max s(0), 1e-2 max s(end)), and the flatness from the quarter points
    hist, _ = _staircase(3)
    st = detect_stages(hist)
    at = np.searchsorted(hist["step"], st.plateau_steps)
    np.testing.assert_array_equal(st.plateau_loss, hist["loss"][at])
    s = hist["singular_values"]
    assert st.floor == max(10 * s[0].max(), 1e-2 * s[-1].max())
    assert detect_stages(hist, floor=0.3).floor == 0.3
    for (a, b), flat in zip([p for p in st.plateaus if p[1] <= st.rises[:, 0].max()], st.plateau_flatness):
        q1, q3 = a + (b - a) // 4, a + 3 * (b - a) // 4
        assert flat == (hist["loss"][q1] - hist["loss"][q3]) / hist["loss"][q1]


@pytest.mark.parametrize("symmetric", [False, True])
def test_separated_target_is_the_haar_construction(symmetric):
    # s_k = ratio^(R-k) (the smallest is 1), and M = U_R diag(s) V_R^T with the Haar factors
    # drawn from the same seed, recomputed here
    M, s = separated_target(5, 3, ratio=2.0, rng=7, symmetric=symmetric)
    np.testing.assert_array_equal(s, [4.0, 2.0, 1.0])
    rng = np.random.default_rng(7)
    U, V = [], []
    for _ in range(1 if symmetric else 2):
        Q, R = np.linalg.qr(rng.standard_normal((5, 5)))
        U.append(Q * np.sign(np.diag(R)))
    V = U[0] if symmetric else U[1]
    np.testing.assert_allclose(M, (U[0][:, :3] * s) @ V[:, :3].T, atol=1e-14)
