"""Tests of X4 (E9, experiments.x4_commuting), X5 (E12, experiments.x5_razin_cohen, baselines.x5_problem and
schatten_profile) and the Schatten-vs-depth comparison (experiments.x1_completion.schatten_vs_depth)."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu.baselines.schatten import schatten_profile, x5_problem
from dmf_edu.experiments.x1_completion import schatten_vs_depth
from dmf_edu.experiments.x4_commuting import x4_commuting_sensing
from dmf_edu.experiments.x5_razin_cohen import x5_razin_cohen


@pytest.fixture(scope="module")
def x4():
    return x4_commuting_sensing()


@pytest.fixture(scope="module")
def x5():
    return x5_razin_cohen(quick=True)


def test_x4_e9_solvers_agree_with_linprog(x4):
    assert x4["solver_status"] == ("optimal", "optimal")
    assert np.allclose(x4["min_trace"], x4["linprog_psd"], atol=1e-6)
    assert np.allclose(x4["min_nuclear"], x4["linprog_free"], atol=1e-6)
    # the default instance: the minimum nuclear norm solution is diag(0, 0, 0, 1), PSD, not the truth
    assert x4["min_nuclear_is_psd"]
    assert np.allclose(x4["min_trace"], [0, 0, 0, 1], atol=1e-6)


def test_x4_e9_gd_approaches_min_nuclear_as_alpha_shrinks(x4):
    """E9 at depths 2, 3, 4: the distance to the minimum nuclear norm solution falls with alpha
    (measured ~3x per decade at depth 2, ~10x at depths 3 and 4), and GD fits the data."""
    for N, run in x4["runs"].items():
        assert np.all(run["success"]), N
        dist = run["distance"]
        assert np.all(np.diff(dist) < 0), (N, dist)
        assert dist[-1] < (0.05 if N == 2 else 0.005), (N, dist)
        assert dist[0] / dist[-1] > (10 if N == 2 else 100), (N, dist)


def test_x4_planted_target_is_rejected(x4):
    """The distances are not small for any target: to the ground truth they stay O(1)."""
    truth = x4["truth"]
    for run in x4["runs"].values():
        far = np.linalg.norm(run["W"][-1] - truth) / np.linalg.norm(truth)
        assert far > 0.5


def test_x4_random_instance_runs_quick():
    out = x4_commuting_sensing(eigenvalues=(2.0, 1.0, 0.0, 0.0, 0.0), measurements=None, n_measurements=3,
                                  depths=(2,), alphas=(1e-1, 1e-2), seed=1, quick=True)
    assert np.allclose(out["min_trace"], out["linprog_psd"], atol=1e-6)
    assert out["runs"][2]["distance"][1] < out["runs"][2]["distance"][0]


def test_x5_e12_profile_closed_forms():
    """E12: on [[w, 1], [1, 0]], sigma_1 sigma_2 = 1, ||.||_F^2 = w^2 + 2, ||.||_* = sqrt(w^2 + 4)."""
    w = np.linspace(-30, 30, 61)
    assert np.allclose(schatten_profile(w, 2.0), w ** 2 + 2)
    assert np.allclose(schatten_profile(w, 1.0), np.sqrt(w ** 2 + 4))
    s1 = schatten_profile(w, np.inf)
    assert np.allclose(s1 * (schatten_profile(w, 1.0) - s1), 1.0)
    W = np.array([[[x, 1.0], [1.0, 0.3]] for x in w[:5]])
    assert np.allclose(schatten_profile(w[:5], 0.5, 0.3), d.schatten_norm(W, 0.5) ** 0.5)


def test_x5_e12_gd_norms_grow_while_det_stays_positive(x5):
    for N, tr in x5["trajectories"].items():
        assert np.all(tr["success"]) and np.all(tr["loss"][-1] <= 1e-3), N
        assert np.all(tr["min_det"] > 0), N                       # det > 0 throughout (E12)
        half = len(tr["step"]) // 2
        late = slice(half, None)
        assert np.all(np.diff(tr["abs_w11"][late], axis=0) > 0), N
        for p, norm in tr["schatten"].items():
            assert np.all(np.diff(norm[late], axis=0) > 0), (N, p)
            assert np.all(norm[-1] > 20), (N, p)                  # 1/sqrt(2 * 1e-3) = 22.4
        assert np.allclose(tr["w11_times_sqrt_2loss"][-1], 1.0, atol=5e-3), N
        # erank - 1 ~ p2 (1 - ln p2) with p2 ~ sigma_2 / sigma_1 = det / sigma_1^2: from ~2 at init to ~1
        assert np.all(tr["effective_rank"][-1] < np.minimum(tr["effective_rank"][0], 1 + 1e-3)), N
        # E12 lower bound at every inspected point with det > 0: |W11| > (1 - sqrt(2l))^2 / sqrt(2l)
        r = np.sqrt(2 * tr["loss"])
        ok = r < 1
        assert np.all(tr["abs_w11"][ok] > (1 - r[ok]) ** 2 / r[ok]), N


def test_x5_e12_schatten_minimizers_stay_at_zero(x5):
    for start in ("schatten_minimizers", "schatten_minimizers_from_w11_3"):
        for p, w11 in x5[start].items():
            assert abs(w11) < 1e-4, (start, p, w11)


def test_x5_perturbed_variant(x5):
    """W22 = eps: GD (det > 0) approaches the rank-one completion W11 = 1/eps; IRLS finds the minimizer of
    the one-dimensional profile (for p = 0.1 and eps = 0.1 that *is* the rank-one completion, since
    (1/eps)^0.1 < 2 = its value near W11 = 0), p = 1 gives W11 = eps and p = 2 gives 0."""
    pert = x5["perturbed"]
    eps = pert["epsilon"]
    for N, w11 in pert["gd_w11"].items():
        assert np.allclose(w11, 1.0 / eps, rtol=1e-2), N
    grid_step = 4.0 / eps / 2000
    for p, w11 in pert["irls_w11"].items():
        assert abs(w11 - pert["profile_argmin"][p]) <= grid_step, p
    assert pert["irls_w11"][1.0] == pytest.approx(eps, abs=1e-6)
    assert pert["irls_w11"][2.0] == pytest.approx(0.0, abs=1e-12)


def test_x5_sign_pitfall_recorded(x5):
    """THEORY.md pitfall: discrete GD at depth 2 flips det; depths 3, 4 at lr 0.1 keep det > 0."""
    rows = {(r["depth"], r["lr"]): r for r in x5["sign_pitfall"]}
    assert all(rows[(2, lr)]["fraction_flipped"] == 1.0 for (N, lr) in rows if N == 2)
    assert rows[(3, 0.1)]["fraction_flipped"] == 0.0 and rows[(4, 0.1)]["fraction_flipped"] == 0.0
    flipped = [r for r in rows.values() if r["fraction_flipped"] > 0]
    assert all(s is not None and s > 0 for r in flipped for s in r["first_flip_step"])


def test_schatten_vs_depth_quick():
    out = schatten_vs_depth(quick=True)
    rows = {(r["method"], r["depth"]): r for r in out["rows"]}
    assert set(rows) == {("nuclear", None), ("schatten", 2), ("schatten", 3), ("gd", 2), ("gd", 3)}
    assert rows[("nuclear", None)]["status"] == "optimal"
    assert all(r["status"] in ("optimal", "converged") for r in rows.values())
    assert rows[("schatten", 2)]["p"] == 1.0 and rows[("schatten", 3)]["p"] == pytest.approx(2 / 3)
    for r in rows.values():
        assert np.isfinite(r["reconstruction_error"]) and r["effective_rank"] >= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="measurements"):
        x4_commuting_sensing(measurements=np.ones((2, 3)))
    with pytest.raises(ValueError, match="depths"):
        x4_commuting_sensing(depths=(1,))
    with pytest.raises(ValueError, match="alphas"):
        x4_commuting_sensing(alphas=(0.0,))


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_x5_problem_observes_the_e12_entries(eps):
    # E12: W_12 = 1, W_21 = 1, W_22 = epsilon observed; every [[w, 1], [1, eps]] fits exactly
    p = x5_problem(eps)
    assert sorted(zip(p.rows.tolist(), p.cols.tolist(), p.values.tolist())) == [(0, 1, 1.0), (1, 0, 1.0), (1, 1, eps)]
    for w in (0.0, 3.0):
        assert p.loss(np.array([[w, 1.0], [1.0, eps]])) == 0.0
    assert p.loss(np.zeros((2, 2))) == 0.5 * (2 + eps ** 2)
