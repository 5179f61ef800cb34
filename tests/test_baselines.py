"""Tests of dmf_edu.baselines: nuclear norm (E13, with certificate), Schatten-p IRLS (E13), GLRL (E18)."""

import numpy as np
import pytest
from scipy.optimize import linprog

import dmf_edu as d
from dmf_edu.baselines import nuclear_norm as nuclear_norm_solver
from dmf_edu.baselines.measurements import Measurements, constraint_violation

KKT_TOL = 1e-5       # solver tol is 1e-6 on the relative gap and violation; KKT parts are bounded by it


@pytest.fixture(scope="module")
def completion():
    M = d.random_low_rank(12, 10, 2, rng=0)
    return d.sample_completion(M, 70, rng=1)


@pytest.fixture(scope="module")
def sensing():
    M = d.random_low_rank(8, 6, 2, rng=2)
    return d.gaussian_sensing(M, 30, rng=3)


def _assert_kkt(problem, res, eps, psd=False, tol=KKT_TOL):
    assert res.status == "optimal"
    kkt = d.nuclear_norm_kkt(problem, res.X, res.dual, eps=eps, psd=psd)
    assert max(kkt.values()) <= tol, kkt
    return kkt


@pytest.mark.parametrize("eps", [0.0, 1e-3, 0.1])
def test_e13_nuclear_kkt_completion(completion, eps):
    res = d.nuclear_norm_minimization(completion, eps=eps)
    _assert_kkt(completion, res, eps)
    assert res.relative_gap <= 1e-6 and res.gap == pytest.approx(res.objective - res.dual_objective)
    assert res.objective == pytest.approx(d.nuclear_norm(res.X), rel=1e-12)


@pytest.mark.parametrize("eps", [0.0, 1e-2])
def test_e13_nuclear_kkt_sensing_rectangular(sensing, eps):
    res = d.nuclear_norm_minimization(sensing, eps=eps)
    _assert_kkt(sensing, res, eps)


@pytest.mark.parametrize("kind", ["completion", "sensing"])
def test_constraint_violation_is_the_largest_excess_over_eps(kind):
    """max_k (|A(X)_k - b_k| - eps)_+, by hand: residuals 0.5, -0.05 and -0.3 against eps 0.1."""
    b = np.array([1.0, 2.0, -1.0])
    X = np.array([[1.5, 0.0], [1.95, -1.3]])
    if kind == "completion":
        problem = d.MatrixCompletion((2, 2), [0, 1, 1], [0, 0, 1], b)
    else:
        A = np.zeros((3, 2, 2))
        A[0, 0, 0] = A[1, 1, 0] = A[2, 1, 1] = 1.0
        problem = d.MatrixSensing(A, b)
    meas = Measurements(problem)
    assert constraint_violation(meas, X, 0.1) == pytest.approx(0.4, rel=1e-12)
    assert constraint_violation(meas, X, 0.5) == 0.0


def test_nuclear_fully_observed_is_the_data():
    """Closed form: every entry observed, eps = 0, so the only feasible point is M."""
    M = d.random_low_rank(7, 5, 2, rng=4)
    rows, cols = np.divmod(np.arange(35), 5)
    prob = d.MatrixCompletion((7, 5), rows, cols, M[rows, cols])
    res = d.nuclear_norm_minimization(prob)
    assert np.allclose(res.X, M, atol=1e-5)
    assert res.objective == pytest.approx(d.nuclear_norm(M), rel=1e-5)
    _assert_kkt(prob, res, 0.0)


def test_nuclear_fully_observed_scaled_identity_with_eps():
    """Closed form: M = c I fully observed, |X - M| <= eps entrywise: X = (c - eps) I, value d (c - eps),
    certified by the dual lam = 1 on the diagonal (||I||_2 = 1, dual value sum_i c - eps d)."""
    n, c, eps = 4, 2.0, 0.3
    rows, cols = np.divmod(np.arange(n * n), n)
    prob = d.MatrixCompletion((n, n), rows, cols, (c * np.eye(n))[rows, cols])
    res = d.nuclear_norm_minimization(prob, eps=eps)
    assert res.objective == pytest.approx(n * (c - eps), rel=1e-5)
    assert np.allclose(res.X, (c - eps) * np.eye(n), atol=1e-4)
    _assert_kkt(prob, res, eps)


@pytest.mark.parametrize("psd", [False, True])
def test_e9_diagonal_sensing_matches_linprog(psd):
    """Diagonal measurements: min ||X||_* (or min tr X over PSD) is the LP min ||x||_1 (or 1^T x, x >= 0)."""
    lam = np.array([3.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0])
    prob = d.commuting_sensing(lam, 5, rng=3)
    a = np.einsum("kii->ki", prob.A)
    res = d.nuclear_norm_minimization(prob, psd=psd, tol=1e-9)
    n = lam.size
    if psd:
        lp = linprog(np.ones(n), A_eq=a, b_eq=prob.y, bounds=[(0, None)] * n, method="highs")
        x = lp.x
    else:
        lp = linprog(np.ones(2 * n), A_eq=np.hstack([a, -a]), b_eq=prob.y, bounds=[(0, None)] * (2 * n),
                     method="highs")
        x = lp.x[:n] - lp.x[n:]
    assert res.objective == pytest.approx(lp.fun, rel=1e-6)
    assert np.allclose(np.diag(res.X), x, atol=1e-5)
    assert np.allclose(res.X, np.diag(np.diag(res.X)), atol=1e-6)
    _assert_kkt(prob, res, 0.0, psd=psd)


def test_kkt_check_rejects_planted_wrong_pairs(completion):
    """The certificate can fail: a feasible but suboptimal X, a dual of the wrong sign, and the
    dual of a different eps are each rejected (residuals far above KKT_TOL)."""
    eps = 1e-3
    res = d.nuclear_norm_minimization(completion, eps=eps)
    # feasible, suboptimal: change an unobserved entry
    i, j = np.argwhere(~completion.observed_mask())[0]
    X_bad = res.X.copy()
    X_bad[i, j] += 1.0
    assert d.nuclear_norm_kkt(completion, X_bad, res.dual, eps=eps)["primal"] <= KKT_TOL
    assert d.nuclear_norm_kkt(completion, X_bad, res.dual, eps=eps)["gap"] > 1e-3
    # wrong sign of the multipliers
    assert d.nuclear_norm_kkt(completion, res.X, -res.dual, eps=eps)["gap"] > 1.0
    # a correct pair for eps = 0.1 is not optimal for eps = 1e-3
    other = d.nuclear_norm_minimization(completion, eps=0.1)
    bad = d.nuclear_norm_kkt(completion, other.X, other.dual, eps=eps)
    assert bad["primal"] > 1e-3


def test_planted_wrong_prox_is_not_reported_optimal(completion, monkeypatch):
    """A planted bug in the solver (shrinking singular values by a factor instead of thresholding) must
    not produce status 'optimal': the certificate is independent of the iteration."""
    def wrong_prox(V, tau, psd):
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        s = s / (1.0 + tau)
        return (U * s) @ Vt, float(s.sum())

    monkeypatch.setattr(nuclear_norm_solver, "_prox_nuclear", wrong_prox)
    res = d.nuclear_norm_minimization(completion, eps=1e-3, max_iter=2000)
    assert res.status == "max_iter"
    assert res.relative_gap > 1e-3


def test_nonconvergence_is_reported(completion):
    res = d.nuclear_norm_minimization(completion, max_iter=5, check_every=1)
    assert res.status == "max_iter" and res.nit == 5
    assert res.relative_gap > 1e-6


def test_warm_start_saves_iterations(completion):
    cold = d.nuclear_norm_minimization(completion, eps=1e-3)
    near = d.nuclear_norm_minimization(completion, eps=2e-3)
    warm = d.nuclear_norm_minimization(completion, eps=1e-3, warm_start=near)
    _assert_kkt(completion, warm, 1e-3)
    assert warm.nit < cold.nit
    assert warm.objective == pytest.approx(cold.objective, rel=1e-5)


def test_e13_schatten_p1_agrees_with_nuclear(completion):
    """IRLS at p = 1 approaches the exact nuclear-norm solution (documented accuracy ~1e-3)."""
    exact = d.nuclear_norm_minimization(completion, tol=1e-7, max_iter=100000)
    irls = d.schatten_minimization(completion, 1.0)
    assert irls.violation < 1e-8
    assert np.linalg.norm(irls.X - exact.X) / np.linalg.norm(exact.X) < 1e-2
    assert irls.objective == pytest.approx(exact.objective, rel=1e-3)
    assert irls.objective >= exact.objective * (1 - 1e-6)          # cannot beat the certified optimum


def test_e13_schatten_p2_is_least_norm(completion):
    """Closed form: min ||X||_F subject to the observations keeps them and puts 0 elsewhere."""
    res = d.schatten_minimization(completion, 2.0)
    expected = np.zeros(completion.shape)
    expected[completion.rows, completion.cols] = completion.values
    assert np.allclose(res.X, expected, atol=1e-12) and res.status == "optimal"


def test_e13_schatten_half_recovers_low_rank(completion, sensing):
    """p = 1/2 recovers a rank-2 truth from about twice its degrees of freedom (a property of low-rank
    recovery, not a copied number): 70 entries of a 12 x 10 rank-2 matrix (40 dof); 30 Gaussian
    measurements of an 8 x 6 rank-2 matrix (24 dof)."""
    for prob in (completion, sensing):
        res = d.schatten_minimization(prob, 0.5)
        assert res.status == "optimal" and res.violation < 1e-8
        assert d.relative_error(res.X, prob.truth) < 1e-4


def test_e18_glrl_reaches_truth_rank_and_small_init_gd_approaches_it(completion):
    g = d.greedy_low_rank(completion, lr=0.05, init=1e-3, loss_tol=1e-10)
    assert g.status == "loss_tol" and g.rank == 2
    assert np.all(np.diff(g.losses) < 0) and g.weights[0].shape == (2, 10) and g.weights[1].shape == (12, 2)
    dist = []
    for scale in (1e-1, 1e-3):
        w = d.init_weights(completion.shape, 2, scale, kind="balanced", rng=5)
        run = d.gradient_descent(completion, w, lr=0.05, max_steps=200000, loss_tol=1e-8, record_steps=())
        assert run.success
        dist.append(np.linalg.norm(run.W - g.X) / np.linalg.norm(g.X))
    assert dist[1] < dist[0]


def test_glrl_stops_at_stationary_point():
    """Zero data: the gradient at W = 0 vanishes, so GLRL adds nothing."""
    prob = d.MatrixCompletion((3, 3), [0, 1], [0, 2], [0.0, 0.0])
    g = d.greedy_low_rank(prob, lr=0.1, loss_tol=0.0)
    assert g.status == "stationary" and g.rank == 0 and np.all(g.X == 0)


def test_bad_input_names_the_argument(completion):
    with pytest.raises(ValueError, match="eps"):
        d.nuclear_norm_minimization(completion, eps=-1e-3)
    for p in (0.0, -1.0, 2.5):
        with pytest.raises(ValueError, match="p must"):
            d.schatten_minimization(completion, p)
    with pytest.raises(TypeError, match="p must"):
        d.schatten_minimization(completion, "1")
    with pytest.raises(ValueError, match="psd"):
        d.nuclear_norm_minimization(completion, psd=True)
    with pytest.raises(TypeError, match="problem"):
        d.nuclear_norm_minimization(np.eye(3))
    batched = d.MatrixCompletion((2, 2), [0, 1], [0, 1], np.ones((3, 2)))
    with pytest.raises(ValueError, match="trial axes"):
        d.nuclear_norm_minimization(batched)
    with pytest.raises(ValueError, match="dual"):
        d.nuclear_norm_kkt(completion, np.zeros(completion.shape), np.zeros(3))
    with pytest.raises(ValueError, match="lr"):
        d.greedy_low_rank(completion, lr=0.0)


def test_inconsistent_sensing_data_is_an_error():
    """The same measurement twice with different values: no X fits, for eps below half the gap."""
    A = np.stack([np.eye(2), np.eye(2), np.diag([1.0, -1.0])])
    prob = d.MatrixSensing(A, [1.0, 1.5, 0.0])
    with pytest.raises(ValueError, match="inconsistent.*eps"):
        d.nuclear_norm_minimization(prob)
    with pytest.raises(ValueError, match="inconsistent"):
        d.nuclear_norm_minimization(prob, eps=0.2)
    with pytest.raises(ValueError, match="inconsistent"):
        d.schatten_minimization(prob, 0.5)
    res = d.nuclear_norm_minimization(prob, eps=0.25)          # exactly feasible: trace in [1.25, 1.25]
    _assert_kkt(prob, res, 0.25)


# --------------------------------------------------------------------------- speed of the E13 solver (issue 12)

def _issue12_instance(seed):
    """The benchmark family of issue 12: 60 x 60 ground truth of rank 3, 1100 observed entries."""
    ss = np.random.SeedSequence(seed).spawn(2)
    M = d.random_low_rank(60, 60, 3, rng=np.random.default_rng(ss[0]))
    return d.sample_completion(M, 1100, rng=np.random.default_rng(ss[1]))


def test_e13_accelerated_admm_iteration_bound_60x60():
    """Anderson-accelerated ADMM certifies issue-12 instances (eps = 1e-3, tol 1e-6) in at most 2000
    iterations each, where the previous solver needed 3440 and 2090 on these two draws; and it needs at
    most 0.7x the iterations of plain ADMM with the same penalty (measured 0.26-0.59x on ten draws,
    eps = 0 and 1e-3).  With the acceleration removed, seed 0 fails both bounds (2620 iterations).
    (The issue's goal, 500, is not met at eps = 1e-3: 470-2080 iterations on five draws.)"""
    for seed in range(2):
        prob = _issue12_instance(seed)
        res = d.nuclear_norm_minimization(prob, eps=1e-3)
        _assert_kkt(prob, res, 1e-3)
        assert res.nit <= 2000, (seed, res.nit)
        if seed == 0:
            plain = d.nuclear_norm_minimization(prob, eps=1e-3, anderson=0, max_iter=10000)
            _assert_kkt(prob, plain, 1e-3)
            assert res.nit <= 0.7 * plain.nit, (res.nit, plain.nit)
            assert res.objective == pytest.approx(plain.objective, rel=1e-5)


@pytest.mark.parametrize("eps", [0.0, 1e-2])
def test_e13_constraint_scale_changes_speed_not_solution(completion, sensing, eps):
    """The block weight gamma of the splitting rescales the multiplier (lam = gamma rho u): every weight
    must reach the same certified optimum, on completion and on sensing."""
    for prob in (completion, sensing):
        ref = d.nuclear_norm_minimization(prob, eps=eps)
        _assert_kkt(prob, ref, eps)
        for scale in (0.3, 10.0):
            res = d.nuclear_norm_minimization(prob, eps=eps, constraint_scale=scale)
            _assert_kkt(prob, res, eps)
            assert res.objective == pytest.approx(ref.objective, rel=1e-5)


def test_progress_prints_iteration_residuals_and_gap(completion, capsys):
    res = d.nuclear_norm_minimization(completion, eps=1e-3, progress=20)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) >= 2
    for key in ("iteration", "primal residual", "dual residual", "gap", "violation"):
        assert all(key in line for line in lines), (key, lines[0])
    iterations = [int(line.split("iteration")[1].split()[0]) for line in lines]
    assert iterations == sorted(iterations) and iterations[-1] == res.nit
    assert float(lines[-1].split(" gap ")[1].split()[0]) <= 1e-6          # the final line shows the stop
    d.nuclear_norm_minimization(completion, eps=1e-3)
    assert capsys.readouterr().err == ""                                   # silent by default


def test_admm_options_bad_input(completion):
    for kw, name in ((dict(anderson=-1), "anderson"), (dict(constraint_scale=0.0), "constraint_scale"),
                     (dict(progress=0), "progress"), (dict(relaxation=2.0), "relaxation"), (dict(rho=-1.0), "rho")):
        with pytest.raises((ValueError, TypeError), match=name):
            d.nuclear_norm_minimization(completion, **kw)


def test_result_numbers_are_those_of_the_returned_matrices(completion):
    """Each reported number recomputed from its definition, at points where it is not zero."""
    rows, cols, b = completion.rows, completion.cols, completion.values
    # GLRL (one stage): X is the product of the returned factors; the first loss and gradient
    # norm are those of W = 0, the last loss that of X
    g = d.greedy_low_rank(completion, lr=0.05, init=1e-3, max_rank=1)
    np.testing.assert_allclose(g.X, g.weights[1] @ g.weights[0], rtol=1e-12, atol=0)
    zero = np.zeros(completion.shape)
    assert g.losses[0] == pytest.approx(0.5 * np.sum(b ** 2), rel=1e-12)
    assert g.losses[-1] == pytest.approx(float(completion.loss(g.X)), rel=1e-12)
    assert g.gradient_norms[0] == pytest.approx(np.linalg.norm(completion.gradient(zero), 2), rel=1e-12)
    # an unconverged solve: relative_gap = gap / max(1, |objective|)
    res = d.nuclear_norm_minimization(completion, max_iter=5, check_every=1)
    assert res.relative_gap == pytest.approx(res.gap / max(1.0, abs(res.objective)), rel=1e-14)
    # KKT residuals at an arbitrary pair (E13 definitions written out)
    rng = np.random.default_rng(0)
    X, lam, eps = rng.standard_normal(completion.shape), rng.standard_normal(b.size), 0.1
    kkt = d.nuclear_norm_kkt(completion, X, lam, eps=eps)
    r = X[rows, cols] - b
    nuc = np.linalg.svd(X, compute_uv=False).sum()
    assert kkt["primal"] == pytest.approx(np.max(np.maximum(np.abs(r) - eps, 0)) / max(1, np.abs(b).max()), rel=1e-12)
    assert kkt["gap"] == pytest.approx((nuc - b @ lam + eps * np.abs(lam).sum()) / max(1, nuc), rel=1e-12)


def test_result_shape_of_the_baselines(completion):
    """success, status, message, nit, wall_time on BaselineResult and GreedyResult."""
    res = d.nuclear_norm_minimization(completion, max_iter=5)
    assert res.status == "max_iter" and res.success is False and "max_iter = 5" in res.message
    done = d.nuclear_norm_minimization(completion)
    assert done.success and done.message.startswith("Optimal") and done.nit > 5 and done.wall_time > 0
    greedy = d.greedy_low_rank(completion, lr=0.2, max_rank=1)
    assert greedy.status == "max_rank" and not greedy.success and "max_rank = 1" in greedy.message
    assert greedy.nit == int(np.sum(greedy.steps)) > 0 and greedy.wall_time > 0
