"""X9 (THEORY.md §8, §9): real-data completion in quick mode, and the held-out tracking behind it."""

import json

import numpy as np
import pytest

from dmf_edu.datasets import load_mri, observe
from dmf_edu.experiments import reproduce
from dmf_edu.experiments import x9_real_data as x9
from dmf_edu.experiments.heldout import heldout_mse, track


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    import dmf_edu._io as io

    figures = []
    real_save = io.save_figure

    def capture(fig, path):
        figures.append([(ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) for ax in fig.axes])
        real_save(fig, path)

    out = tmp_path_factory.mktemp("x9")
    io.save_figure = capture
    try:
        res = reproduce("X9", out=out, quick=True, progress=False)
    finally:
        io.save_figure = real_save
    return out, res, figures[0]


def test_x9_split_is_a_partition_and_test_pixels_are_unobserved():
    cfg = x9.QUICK
    M, observed, train, validation, test = x9.real_data(cfg, "mri", 0.3, seed=0, trial=0)
    sets = [set(zip(p.rows.tolist(), p.cols.tolist())) for p in (train, validation, test)]
    assert sum(map(len, sets)) == M.size and len(set.union(*sets)) == M.size
    assert sets[0] | sets[1] == set(zip(observed.rows.tolist(), observed.cols.tolist()))
    assert abs(len(sets[1]) - cfg["validation"] * observed.n_observations) <= 1
    assert abs(M.mean()) < 1e-12 and np.isclose(np.mean(M ** 2), 1.0)          # standardized


def test_track_selects_on_validation_never_on_test():
    """Early stopping picks the lowest *validation* error; a test split that disagrees is ignored,
    and the test curve is measured at the same recorded steps."""
    M = load_mri(downsample=12, standardize=True)
    train, validation = observe(M, 0.5, rng=0).split(0.3, rng=1)
    flipped = type(validation)(validation.shape, validation.rows, validation.cols, -validation.values)
    cfg = dict(init_scale=1e-3, lr=5e-3, loss_tol=1e-8, max_steps=1500, every=100)
    res = track(train, 2, 0, cfg, validation=validation, test=flipped)
    val, tst = np.array(res["validation"]), np.array(res["test"])
    assert len(val) == len(tst) == len(res["step"]) and res["step"][:2] == [0, 100]
    assert res["best_step"] == res["step"][int(np.argmin(val))]
    assert res["best_step"] != res["step"][int(np.argmin(tst))]            # the flipped split prefers step 0
    assert np.isclose(heldout_mse(res["W_best"], validation), val.min())
    assert np.isclose(heldout_mse(res["W"], flipped), tst[-1]) and res["steps"] == res["step"][-1]


def test_x9_quick_rows_methods_and_selection(quick):
    _, res, _ = quick
    cfg, rows = res["params"], res["rows"]
    expected = {f"depth-{d} {s}" for d in cfg["depths"] for s in ("stopped", "converged")} | {
        "nuclear (eps 0)", "nuclear (eps val.)", "truncated-svd", "zero-fill"}
    for image in cfg["images"]:
        for frac in cfg["fractions"]:
            got = {x9.label(r) for r in rows if r["image"] == image and r["fraction"] == frac}
            assert got == expected
    for r in rows:
        assert r["test_mse"] >= 0
        if r["method"] != "zero-fill":
            assert r["effective_rank"] >= 1
        if r["method"] == "nuclear-val":                                   # eps chosen on validation
            assert f"{r['eps']:g}" == min(r["eps_validation"], key=r["eps_validation"].get)
        if r.get("early_stopping"):
            twin = next(s for s in rows if s["image"] == r["image"] and s["fraction"] == r["fraction"]
                        and s["trial"] == r["trial"] and s.get("depth") == r["depth"] and not s["early_stopping"])
            assert r["validation_mse"] <= twin["validation_mse"] + 1e-12
            curve = twin["curve"]
            assert r["steps"] == curve[int(np.argmin([p["validation"] for p in curve]))]["step"]


def test_x9_depth1_leaves_unobserved_pixels_at_init(quick):
    """E1 at depth 1: the gradient lives on the training entries, so the test pixels keep their
    tiny initial values and depth 1 scores the zero fill (a leak of test pixels would not)."""
    _, res, _ = quick
    for r in res["rows"]:
        if r["method"] == "depth-1":
            zero = next(z for z in res["rows"] if z["method"] == "zero-fill" and z["image"] == r["image"]
                        and z["fraction"] == r["fraction"] and z["trial"] == r["trial"])
            assert abs(r["test_mse"] - zero["test_mse"]) < 1e-3 * zero["test_mse"]


def test_x9_quick_summary_sidecar_and_figure(quick):
    out, res, axes = quick
    cfg = res["params"]
    table = res["summary"]["table"]
    assert len(table) == len(cfg["images"]) * len(cfg["fractions"]) * (2 * len(cfg["depths"]) + 4)
    assert all(t["seeds"] == cfg["seeds"] for t in table)
    side = json.loads((out / "X9.json").read_text())
    assert side["experiment"] == "X9" and side["optimizer"].startswith("adaptive") and "versions" in side
    assert (out / "X9.png").read_bytes()[:4] == b"\x89PNG"
    titles = [t for _, _, t in axes]
    assert "original" in titles and any(t.startswith("observed pixels") for t in titles)
    curves = [a for a in axes if a[0] == "iteration"]
    assert len(curves) == len(cfg["images"]) and all("held-out MSE" in a[1] for a in curves)
    assert any(t.startswith("depth-2 stopped") for t in titles)
