"""Gradient descent: hand-computed steps, E19, batching, stopping, divergence, resume, CLI demo."""

import json

import numpy as np
import pytest

import dmf_edu as d


def scalar_problem(value=2.0):
    return d.MatrixCompletion((1, 1), [0], [0], [value])


def test_gd_tiny_hand_computed_example():
    # W = w2 w1, loss 1/2 (w2 w1 - 2)^2; at w1 = 1, w2 = 0.5: r = -1.5,
    # dphi/dw1 = w2 r = -0.75, dphi/dw2 = w1 r = -1.5; lr 0.1 gives w1 = 1.075, w2 = 0.65.
    run = d.gradient_descent(scalar_problem(), [np.array([[1.0]]), np.array([[0.5]])], lr=0.1, max_steps=1)
    assert run.weights[0][0, 0] == pytest.approx(1.075, abs=1e-15)
    assert run.weights[1][0, 0] == pytest.approx(0.65, abs=1e-15)
    assert run.history["loss"].tolist() == pytest.approx([1.125, 0.5 * (1.075 * 0.65 - 2) ** 2])


def test_gd_2x2_hand_computed_step():
    # depth 2, W1 = I, W2 = [[1, 1], [0, 1]]; observed (0, 0) = 3 and (1, 0) = 0.
    # W = W2 W1 = W2, residuals W00 - 3 = -2, W10 - 0 = 0 -> G = [[-2, 0], [0, 0]].
    # dphi/dW1 = W2^T G = [[-2, 0], [-2, 0]], dphi/dW2 = G W1^T = G.
    W1, W2 = np.eye(2), np.array([[1.0, 1.0], [0.0, 1.0]])
    p = d.MatrixCompletion((2, 2), [0, 1], [0, 0], [3.0, 0.0])
    run = d.gradient_descent(p, [W1, W2], lr=0.5, max_steps=1)
    np.testing.assert_allclose(run.weights[0], [[2.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(run.weights[1], [[2.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(W1, np.eye(2))             # caller's arrays untouched


def test_E19_adaptive_first_step_by_hand():
    # t = 1: s_1 = (1 - b) q, bias-corrected s_1 / (1 - b) = q = sum_j ||g_j||^2,
    # step eta = lr / (sqrt(q) + eps).
    w = [np.array([[1.0]]), np.array([[0.5]])]
    run = d.gradient_descent(scalar_problem(), w, lr=0.01, max_steps=1, optimizer="adaptive")
    q = 0.75 ** 2 + 1.5 ** 2
    eta = 0.01 / (np.sqrt(q) + 1e-4)
    assert run.weights[0][0, 0] == pytest.approx(1 + eta * 0.75, abs=1e-15)
    assert run.weights[1][0, 0] == pytest.approx(0.5 + eta * 1.5, abs=1e-15)
    assert run.state["t"] == 1


def test_mean_and_sum_losses_give_the_same_gd_path(rng):
    """THEORY.md §0: for plain GD, lr_sum = 2 lr_mean / |Omega|."""
    M = d.random_low_rank(8, 7, 2, rng=rng)
    ps = d.sample_completion(M, 30, rng=1)
    pm = d.sample_completion(M, 30, rng=1, reduction="mean")
    w = d.init_weights((8, 7), 3, 0.5, rng=rng)
    a = d.gradient_descent(pm, w, lr=0.3, max_steps=50)
    b = d.gradient_descent(ps, w, lr=2 * 0.3 / 30, max_steps=50)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["gd", "adaptive"])
def test_batched_trials_equal_separate_runs(rng, optimizer):
    M = d.random_low_rank(10, 9, 2, rng=rng)
    p = d.sample_completion(M, 50, rng=rng, reduction="mean")
    ws = d.init_weights((10, 9), 3, 0.1, rng=rng, batch_shape=3)
    kw = dict(lr=0.5 if optimizer == "gd" else 1e-2, max_steps=3000, optimizer=optimizer, loss_tol=1e-4,
              record_every=100)
    batched = d.gradient_descent(p, ws, **kw)
    for i in range(3):
        single = d.gradient_descent(p, [w[i] for w in ws], **kw)
        assert batched.steps[i] == single.steps
        assert batched.converged[i] == single.converged
        for x, y in zip(batched.weights, single.weights):
            np.testing.assert_allclose(x[i], y, rtol=1e-9, atol=1e-13)
    assert batched.converged.all() and len(set(batched.steps.tolist())) > 1   # trials stopped separately


def test_stop_on_loss_tol_and_history(rng):
    M = d.random_low_rank(10, 10, 2, rng=rng)
    p = d.sample_completion(M, 60, rng=rng, reduction="mean")
    run = d.gradient_descent(p, d.init_weights((10, 10), 2, 1e-2, rng=rng), lr=1e-2,
                             max_steps=50_000, optimizer="adaptive", loss_tol=1e-6, record_every=500,
                             n_singular=4)
    h = run.history
    assert run.converged and run.steps < 50_000
    assert h["loss"][-1] <= 1e-6 < h["loss"][-2]
    assert h["step"][-1] == run.steps and h["step"][0] == 0
    assert h["singular_values"].shape == (len(h["step"]), 4)
    for key in ("train_error", "reconstruction_error", "relative_error", "effective_rank",
                "balancedness", "time"):
        assert h[key].shape == (len(h["step"]),)
    np.testing.assert_allclose(h["train_error"], h["loss"])            # mean loss = train MSE
    np.testing.assert_allclose(run.W, d.end_to_end(run.weights))


def test_record_steps_and_cap(rng):
    p = d.sample_completion(d.random_low_rank(6, 6, 1, rng=rng), 20, rng=rng)
    run = d.gradient_descent(p, d.init_weights((6, 6), 2, 0.1, rng=rng), lr=0.01, max_steps=30,
                             record_steps=[0, 7, 19])
    assert run.history["step"].tolist() == [0, 7, 19, 30]
    assert run.steps == 30 and not run.converged


def test_divergence_raises_with_partial_run(rng):
    p = d.sample_completion(d.random_low_rank(8, 8, 2, rng=rng), 40, rng=rng)
    w = d.init_weights((8, 8), 3, 1.0, rng=rng)
    with pytest.raises(d.DivergenceError, match="lower lr") as info:
        d.gradient_descent(p, w, lr=50.0, max_steps=1000, record_every=1)
    run = info.value.run
    assert len(run.history["step"]) >= 1 and np.all(np.isfinite(run.history["loss"]))
    assert run.steps < 1000


def test_resume_and_checkpoint_lose_no_work(rng, tmp_path):
    p = d.sample_completion(d.random_low_rank(8, 8, 2, rng=rng), 40, rng=rng, reduction="mean")
    w = d.init_weights((8, 8), 3, 0.1, rng=rng)
    kw = dict(lr=1e-2, optimizer="adaptive", record_every=10)
    full = d.gradient_descent(p, w, max_steps=200, **kw)
    half = d.gradient_descent(p, w, max_steps=100, **kw)
    rest = d.gradient_descent(p, None, max_steps=200, resume=half, **kw)
    for x, y in zip(full.weights, rest.weights):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
    assert rest.history["step"].tolist() == full.history["step"].tolist()
    # a checkpoint file resumes an interrupted run
    ck = tmp_path / "run.npz"
    d.gradient_descent(p, w, max_steps=100, checkpoint=str(ck), **kw)
    again = d.gradient_descent(p, w, max_steps=200, checkpoint=str(ck), **kw)
    for x, y in zip(full.weights, again.weights):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
    loaded = d.Run.load(ck)
    assert loaded.state["t"] == 200 and loaded.history["step"][-1] == 200


def test_progress_lines(rng, capsys):
    p = d.sample_completion(d.random_low_rank(6, 6, 1, rng=rng), 20, rng=rng)
    seen = []
    d.gradient_descent(p, d.init_weights((6, 6), 2, 0.1, rng=rng), lr=0.01, max_steps=120,
                       progress=seen.append)
    assert seen[-1]["final"] and seen[-1]["step"] == 120
    d.gradient_descent(p, d.init_weights((6, 6), 2, 0.1, rng=rng), lr=0.01, max_steps=10, progress=True)
    assert "step 10/10" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(lr=0.0), ValueError, "lr must be > 0"),
    (dict(lr=-1.0), ValueError, "lr must be > 0"),
    (dict(lr=np.inf), ValueError, "lr must be finite"),
    (dict(max_steps=-1), ValueError, "max_steps must be >= 0"),
    (dict(optimizer="adam"), ValueError, "optimizer must be"),
    (dict(loss_tol=-1.0), ValueError, "loss_tol must be >= 0"),
])
def test_gradient_descent_bad_input(rng, kwargs, exc, pattern):
    p = d.sample_completion(d.random_low_rank(6, 5, 1, rng=rng), 10, rng=rng)
    args = dict(lr=0.1, max_steps=5)
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        d.gradient_descent(p, d.init_weights((6, 5), 2, 0.1, rng=rng), **args)


def test_gradient_descent_shape_mismatch_named(rng):
    p = d.sample_completion(d.random_low_rank(6, 5, 1, rng=rng), 10, rng=rng)
    with pytest.raises(ValueError, match="end-to-end matrix W_N ... W_1 of shape 5x6 but the problem is 6x5"):
        d.gradient_descent(p, d.init_weights((5, 6), 2, 0.1, rng=rng), lr=0.1, max_steps=5)
    with pytest.raises(TypeError, match="problem must be"):
        d.gradient_descent("data", d.init_weights((6, 5), 2, 0.1), lr=0.1, max_steps=5)


def test_sensing_run_reduces_loss(rng):
    M = d.random_low_rank(8, 8, 1, rng=rng)
    p = d.gaussian_sensing(M, 40, rng=rng, reduction="mean")
    run = d.gradient_descent(p, d.init_weights((8, 8), 3, 1e-2, rng=rng), lr=1e-2, max_steps=4000,
                             optimizer="adaptive")
    h = run.history
    assert h["loss"][-1] < 1e-4 * h["loss"][0] and h["relative_error"][-1] < 0.05
    assert h["effective_rank"][-1] < 1.5                    # rank-1 truth


def test_cli_demo_quick(tmp_path, capsys):
    from dmf_edu.cli import main

    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "depth-3" in out and "saved" in out
    side = json.loads((tmp_path / "demo.json").read_text())
    errs = {r["method"]: r["error"] for r in side["rows"]}
    assert errs["depth-3"] < errs["depth-2"] < errs["depth-1"]        # X1 ordering
    assert side["versions"]["numpy"] and side["seed"] == 0 and "E19" in side["params"]["optimizer"]
    png = (tmp_path / "demo.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_from_other_settings_is_refused(rng, tmp_path):
    p = d.sample_completion(d.random_low_rank(8, 8, 2, rng=rng), 40, rng=rng)
    ck = str(tmp_path / "run.npz")
    w2 = d.init_weights((8, 8), 2, 0.1, rng=rng)
    d.gradient_descent(p, w2, lr=0.05, max_steps=20, checkpoint=ck)
    with pytest.raises(ValueError, match="weight_shapes"):
        d.gradient_descent(p, d.init_weights((8, 8), 3, 0.1, rng=rng), lr=0.05, max_steps=40, checkpoint=ck)
    with pytest.raises(ValueError, match="lr: saved 0.05, now 0.5"):
        d.gradient_descent(p, w2, lr=0.5, max_steps=40, checkpoint=ck)
    other = d.sample_completion(d.random_low_rank(8, 8, 2, rng=rng), 40, rng=rng)
    with pytest.raises(ValueError, match="data differ"):
        d.gradient_descent(other, w2, lr=0.05, max_steps=40, checkpoint=ck)
    assert d.gradient_descent(p, w2, lr=0.05, max_steps=40, checkpoint=ck).steps == 40


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(checkpoint_every=0), "checkpoint_every must be >= 1"),
    (dict(record_every=0), "record_every must be >= 1"),
    (dict(beta="x"), "beta must be a real number"),
    (dict(beta=1.0), r"beta must be in \[0, 1\)"),
])
def test_gradient_descent_more_bad_input(rng, kwargs, pattern):
    p = d.sample_completion(d.random_low_rank(6, 5, 1, rng=rng), 10, rng=rng)
    with pytest.raises((ValueError, TypeError), match=pattern):
        d.gradient_descent(p, d.init_weights((6, 5), 2, 0.1, rng=rng), lr=0.1, max_steps=5, **kwargs)
