"""X10 (THEORY.md §10): tensor completion in quick mode through ``reproduce``, and its data."""

import json
from unittest import mock

import numpy as np
import pytest

from dmf_edu.experiments import reproduce, task_list
from dmf_edu.experiments import x10_tensors as x10
from dmf_edu.tensors import component_norms


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Quick X10 through ``reproduce``; the saved figure is read back from the (wrapped) writer."""
    import dmf_edu._io as io

    out = tmp_path_factory.mktemp("x10")
    with mock.patch.object(io, "save_figure", wraps=io.save_figure) as saver:
        res = reproduce("X10", out=out, quick=True, progress=False)
    fig = saver.call_args.args[0]                     # closed, but it keeps its axes
    return out, res, [(ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) for ax in fig.axes]


def _median(res, order, method):
    return {r["n_obs"]: r["median_error"] for r in res["summary"]["recovery"]
            if r["order"] == order and r["method"] == method}


def test_x10_truth_is_rank_one_with_rms_one_and_observations_distinct():
    cfg = x10.QUICK
    for order in cfg["orders"]:
        problem = x10.recovery_problem(order, cfg, seed=0, trial=0, n_obs=cfg["n_obs"][str(order)][0])
        T = problem.truth
        assert T.shape == (cfg["dim"],) * order and np.isclose(np.sum(T * T), T.size)
        assert x10.unfolding_rank(T, 1e-8) == 1
        assert np.unique(problem.flat_index).size == problem.n_observations
        assert np.allclose(T.reshape(-1)[problem.flat_index], problem.values)
    vectors, scale = x10.truth_components(3, cfg, 0, 0, weights=cfg["dynamics_weights"])
    assert np.allclose(scale * component_norms(vectors), scale * np.array(cfg["dynamics_weights"]))


def test_x10_tasks_are_keyed_and_follow_the_seed():
    tasks = task_list("X10", quick=True)
    assert len({t["key"] for t in tasks}) == len(tasks)
    cfg = x10.QUICK
    a = x10.recovery_problem(3, cfg, 0, 0, 150).values
    assert np.array_equal(a, x10.recovery_problem(3, cfg, 0, 0, 150).values)
    assert not np.array_equal(a, x10.recovery_problem(3, cfg, 1, 0, 150).values)


def test_x10_quick_cp_recovers_and_beats_the_entrywise_baseline(quick):
    _, res, _ = quick
    for order in res["params"]["orders"]:
        cp, lin = _median(res, order, "cp"), _median(res, order, "entrywise")
        counts = sorted(cp)
        assert cp[counts[-1]] < cp[counts[0]]                         # error falls with observations
        assert cp[counts[-1]] < 1e-3 * lin[counts[-1]]                 # far below GD on the entries
        assert cp[counts[-1]] < 1e-3                                   # recovered
        ranks = {r["n_obs"]: r["median_tensor_rank"] for r in res["summary"]["recovery"]
                 if r["order"] == order and r["method"] == "cp"}
        assert ranks[counts[-1]] == 1                                  # the rank-1 truth's tensor rank
    for r in res["rows"]:
        if r["part"] == "recovery" and r["method"] == "entrywise":    # unobserved entries stay near 0
            assert r["reconstruction_error"] > 0.5 * (1 - r["n_obs"] / res["params"]["dim"] ** r["order"])


def test_x10_quick_components_switch_on_one_after_another(quick):
    _, res, _ = quick
    dyn = res["summary"]["dynamics"]
    weights = res["params"]["dynamics_weights"]
    assert dyn["success"] and dyn["final_tensor_rank"] == len(weights) == len(dyn["components"])
    assert all(a < b for a, b in zip(dyn["half_steps"], dyn["half_steps"][1:]))           # in order
    assert np.allclose(dyn["final_norms"], dyn["truth_component_norms"], rtol=0.05)      # the truth's components
    rows = [r for r in res["rows"] if r["part"] == "dynamics"]
    norms = np.array([r["component_norms"] for r in rows])
    assert norms[0].max() < 1e-2 * max(dyn["final_norms"])                               # from small init


def test_x10_quick_sidecar_and_figure(quick):
    out, res, axes = quick
    side = json.loads((out / "X10.json").read_text())
    for key in ("params", "seed", "optimizer", "versions", "wall_time", "rows", "summary", "baselines"):
        assert key in side
    assert side["quick"] is True and "E19" in side["optimizer"]
    rec = [r for r in side["rows"] if r["part"] == "recovery"]
    assert {r["method"] for r in rec} == set(x10.METHODS)
    for r in rec:
        assert {"reconstruction_error", "wall_time", "success", "tensor_rank", "unfolding_rank"} <= set(r)
        assert (r["tensor_rank"] is not None) == (r["method"] == "cp")
    xlabels = [x for x, _, _ in axes]
    ylabels = " ".join(y for _, y, _ in axes)
    assert xlabels.count("number of observed entries") == 2 * len(res["params"]["orders"])
    assert "iteration" in xlabels and "reconstruction error" in ylabels and "component norm" in ylabels
    assert "fitted rank" in ylabels
