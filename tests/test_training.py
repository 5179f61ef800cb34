"""Gradient descent: hand-computed steps, E19, batching, stopping, divergence, resume, CLI demo."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

import dmf_edu as d


def scalar_problem(value=2.0):
    return d.MatrixCompletion((1, 1), [0], [0], [value])


def test_gd_tiny_hand_computed_example():
    # W = w2 w1, loss 1/2 (w2 w1 - 2)^2; at w1 = 1, w2 = 0.5: r = -1.5,
    # dphi/dw1 = w2 r = -0.75, dphi/dw2 = w1 r = -1.5; lr 0.1 gives w1 = 1.075, w2 = 0.65.
    run = d.gradient_descent(scalar_problem(), [np.array([[1.0]]), np.array([[0.5]])], lr=0.1, max_steps=1,
                             record_every=1)
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
        assert batched.nit[i] == single.nit
        assert batched.success[i] == single.success
        for x, y in zip(batched.weights, single.weights):
            np.testing.assert_allclose(x[i], y, rtol=1e-9, atol=1e-13)
    assert batched.success.all() and len(set(batched.nit.tolist())) > 1   # trials stopped separately


def test_stop_on_loss_tol_and_history(rng):
    M = d.random_low_rank(10, 10, 2, rng=rng)
    p = d.sample_completion(M, 60, rng=rng, reduction="mean")
    run = d.gradient_descent(p, d.init_weights((10, 10), 2, 1e-2, rng=rng), lr=1e-2,
                             max_steps=50_000, optimizer="adaptive", loss_tol=1e-6, record_every=500,
                             n_singular=4)
    h = run.history
    assert run.success and run.nit < 50_000
    assert h["loss"][-1] <= 1e-6 < h["loss"][-2]
    assert h["step"][-1] == run.nit and h["step"][0] == 0
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
    assert run.nit == 30 and not run.success


def test_divergence_raises_with_partial_run(rng):
    p = d.sample_completion(d.random_low_rank(8, 8, 2, rng=rng), 40, rng=rng)
    w = d.init_weights((8, 8), 3, 1.0, rng=rng)
    with pytest.raises(d.DivergenceError, match="lower lr") as info:
        d.gradient_descent(p, w, lr=50.0, max_steps=1000, record_every=1)
    run = info.value.run
    assert len(run.history["step"]) >= 1 and np.all(np.isfinite(run.history["loss"]))
    assert run.nit < 1000


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
    errs = {r["method"]: r["reconstruction_error"] for r in side["rows"]}
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
    assert d.gradient_descent(p, w2, lr=0.05, max_steps=40, checkpoint=ck).nit == 40


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


# --------------------------------------------------------------- validation, keep_best, patience, callback

def noisy_completion(rng, m=12, n=10, n_obs=70, noise=0.3, method="dense"):
    """A rank-1 matrix seen through noise: runs to zero training loss over-fit the noise."""
    M = d.random_low_rank(m, n, 1, rng=rng)
    p = d.sample_completion(M, n_obs, rng=rng, reduction="mean", method=method)
    noisy = d.MatrixCompletion(p.shape, p.rows, p.cols, p.values + noise * rng.standard_normal(n_obs),
                               reduction="mean", method=method)
    return noisy.split(0.2, rng=rng)


def test_validation_error_is_recorded_at_the_recorded_steps(rng):
    train, val = noisy_completion(rng)
    run = d.gradient_descent(train, d.init_weights(train.shape, 2, 0.1, rng=rng), lr=0.05, max_steps=300,
                             record_every=50, validation=val)
    h = run.history
    assert h["step"].tolist() == [0, 50, 100, 150, 200, 250, 300]
    assert h["validation_error"].shape == h["loss"].shape
    assert h["validation_error"][-1] == pytest.approx(float(d.heldout_error(run.W, val)), rel=1e-12)
    assert run.best_step is not None and run.last_weights is None       # no keep_best: final weights


def test_keep_best_returns_the_weights_at_the_lowest_validation_error(rng):
    train, val = noisy_completion(rng)
    w0 = d.init_weights(train.shape, 3, 0.1, rng=rng)
    run = d.gradient_descent(train, w0, lr=0.05, max_steps=3000, record_every=25, validation=val, keep_best=True)
    h = run.history
    i = int(np.argmin(h["validation_error"]))
    assert run.best_step == h["step"][i] and run.best_validation_error == h["validation_error"][i]
    assert float(d.heldout_error(run.W, val)) == pytest.approx(h["validation_error"][i], rel=1e-12)
    last = d.end_to_end(run.last_weights)
    assert float(d.heldout_error(last, val)) == pytest.approx(h["validation_error"][-1], rel=1e-12)
    assert run.best_step < h["step"][-1]             # this run over-fits the noise: the best is earlier
    same = d.gradient_descent(train, w0, lr=0.05, max_steps=int(run.best_step))
    for a, b in zip(run.weights, same.weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_patience_stops_after_k_records_without_improvement(rng):
    # depth 1: the held-out entries never move, so only the first record counts as an improvement
    train, val = noisy_completion(rng)
    w0 = [0.1 * rng.standard_normal(train.shape)]
    run = d.gradient_descent(train, w0, lr=0.1, max_steps=1000, record_every=10, validation=val,
                             patience=3, keep_best=True)
    assert run.history["step"].tolist() == [0, 10, 20, 30] and run.status == "patience"
    assert run.nit == 30 and run.stopped_early and run.best_step == 0
    np.testing.assert_array_equal(run.weights[0], w0[0])                  # keep_best: the initial weights


def test_patience_per_trial_in_a_batch(rng):
    train, val = noisy_completion(rng)
    w0 = d.init_weights(train.shape, 2, 0.1, rng=rng, batch_shape=3)
    kw = dict(lr=0.05, max_steps=2000, record_every=20, validation=val, patience=4, keep_best=True)
    batched = d.gradient_descent(train, w0, **kw)
    for i in range(3):
        single = d.gradient_descent(train, [w[i] for w in w0], **kw)
        assert batched.nit[i] == single.nit and batched.best_step[i] == single.best_step
        for a, b in zip(batched.weights, single.weights):
            np.testing.assert_allclose(a[i], b, rtol=1e-9, atol=1e-13)


def test_callback_sees_a_read_only_view_and_can_stop(rng):
    train, val = noisy_completion(rng)
    seen = []

    def watch(v):
        seen.append((v.step, float(v.loss), v.W.copy()))
        with pytest.raises(ValueError):
            v.W[0, 0] = 1.0                      # read-only
        return v.step >= 40

    run = d.gradient_descent(train, d.init_weights(train.shape, 2, 0.1, rng=rng), lr=0.05, max_steps=500,
                             record_every=20, callback=watch)
    assert [s for s, _, _ in seen] == [0, 20, 40] and run.status == "callback"
    assert run.nit == 40 and run.history["step"][-1] == 40
    np.testing.assert_allclose(seen[-1][2], run.W, rtol=1e-14)
    assert seen[-1][1] == pytest.approx(run.history["loss"][-1])


@pytest.mark.parametrize("depth, patience", [(1, 3), (2, 2)])
def test_early_stopping_and_keep_best_survive_interrupt_and_resume(rng, tmp_path, depth, patience):
    train, val = noisy_completion(rng)
    w0 = d.init_weights(train.shape, depth, 0.1, rng=rng)
    kw = dict(lr=0.05, max_steps=4000, record_every=10, validation=val, keep_best=True, patience=patience,
              optimizer="adaptive" if depth == 2 else "gd")
    one = d.gradient_descent(train, w0, **kw)
    assert one.status == "patience" and one.nit < 4000
    ck = str(tmp_path / "run.npz")
    stop_at = max(one.nit - 15, 5)             # interrupted near the end, after a checkpoint

    def interrupt(v):
        if v.step >= stop_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        d.gradient_descent(train, w0, checkpoint=ck, checkpoint_every=7, callback=interrupt, **kw)
    again = d.gradient_descent(train, w0, checkpoint=ck, checkpoint_every=7, **kw)
    assert (again.nit, again.best_step, again.status) == (one.nit, one.best_step, one.status)
    for a, b in zip(one.weights + one.last_weights, again.weights + again.last_weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for key in ("step", "validation_error", "loss"):
        np.testing.assert_allclose(one.history[key], again.history[key], rtol=1e-12)
    assert d.Run.load(ck).best_step == one.best_step


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(validation="test"), TypeError, "validation must be a MatrixCompletion"),
    (dict(validation=d.MatrixCompletion((5, 6), [0], [0], [1.0])), ValueError,
     "validation is 5x6 but the problem is 6x5: pass held-out entries"),
    (dict(patience=0, validation=d.MatrixCompletion((6, 5), [0], [0], [1.0])), ValueError,
     "patience must be >= 1"),
    (dict(patience=2), ValueError, "keep_best and patience need a validation problem"),
    (dict(keep_best=True), ValueError, "need a validation problem: pass validation="),
])
def test_validation_bad_input(rng, kwargs, exc, pattern):
    p = d.sample_completion(d.random_low_rank(6, 5, 1, rng=rng), 10, rng=rng)
    with pytest.raises(exc, match=pattern):
        d.gradient_descent(p, d.init_weights((6, 5), 2, 0.1, rng=rng), lr=0.1, max_steps=5, **kwargs)


# --------------------------------------------------------------- per-run stepping, sparse path, recording

@pytest.mark.parametrize("optimizer", ["gd", "adaptive"])
def test_stepper_runs_of_several_depths_share_one_batched_problem_call(rng, optimizer):
    """The pattern a multi-run driver uses: forward each run, one call on the stacked W's, apply each."""
    M = d.random_low_rank(9, 8, 2, rng=rng)
    p = d.gaussian_sensing(M, 40, rng=rng, reduction="mean")
    inits = [d.init_weights((9, 8), N, 0.1, rng=rng) for N in (1, 2, 3)]
    lr = 0.05 if optimizer == "gd" else 1e-2
    runs = [d.Stepper(w, lr=lr, optimizer=optimizer) for w in inits]
    for _ in range(60):
        Ws = np.stack([r.forward() for r in runs])
        _, G = p.loss_and_gradient(Ws)                   # one pass over the measurements
        for r, g in zip(runs, G):
            r.apply(g)
    for r, w in zip(runs, inits):
        alone = d.gradient_descent(p, w, lr=lr, max_steps=60, optimizer=optimizer)
        for a, b in zip(r.weights, alone.weights):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_sparse_and_dense_paths_train_alike_with_narrow_widths(rng):
    M = d.random_low_rank(40, 30, 2, rng=rng)
    ps = d.sample_completion(M, 300, rng=1, reduction="mean", method="sparse")
    pd_ = d.sample_completion(M, 300, rng=1, reduction="mean", method="dense")
    (ts, vs), (td, vd) = ps.split(0.2, rng=2), pd_.split(0.2, rng=2)
    w0 = d.init_weights((40, 30), 3, 0.1, width=5, rng=rng)
    kw = dict(lr=0.5, max_steps=200, record_every=20, keep_best=True)
    a = d.gradient_descent(ts, w0, validation=vs, **kw)
    b = d.gradient_descent(td, w0, validation=vd, **kw)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a.history["validation_error"], b.history["validation_error"], rtol=1e-10)


@pytest.mark.parametrize("widths", [[5, 4], [5, 3, 6]])          # depth 3 and 4
@pytest.mark.parametrize("m, n", [(13, 11), (11, 13)])             # G handed out as CSR, as CSC
def test_sparse_completion_steps_equal_dense_steps_and_E1(rng, widths, m, n):
    """The sparse completion path (the problem's sparse G, both sparse products and the fused update
    of gd_update) moves every factor as the dense path does, and its first step is -lr dphi/dW_j of
    E1 with G = (2/K) P_Omega(W - M) written out here.  Observations in random order, so the
    problem's permutation to G's storage order is not the identity; compared: the moves
    W_j(t) - W_j(0), norm-wise, to 1e-12 relative."""
    K, lr = 60, 0.3
    rows, cols = np.divmod(rng.choice(m * n, K, replace=False), n)
    values = rng.standard_normal(K)
    w0 = d.init_weights((m, n), len(widths) + 1, 1.0, width=widths, rng=rng)
    W = d.end_to_end(w0)
    G = np.zeros((m, n))
    G[rows, cols] = 2.0 / K * (W[rows, cols] - values)
    moves = {"E1": [-lr * g for g in d.layer_gradients(w0, G)]}
    for method in ("sparse", "dense"):
        p = d.MatrixCompletion((m, n), rows, cols, values, reduction="mean", method=method)
        st = d.Stepper(w0, lr=lr)
        for t in range(3):
            st.apply(p.loss_and_gradient(st.forward())[1])
            if t == 0:
                moves[method + "1"] = [a - b for a, b in zip(st.weights, w0)]
        moves[method] = [a - b for a, b in zip(st.weights, w0)]
    for got, want in (("sparse1", "E1"), ("sparse", "dense")):
        for a, b in zip(moves[got], moves[want]):
            assert np.linalg.norm(a - b) <= 1e-12 * np.linalg.norm(b), (got, want)
    assert min(np.linalg.norm(b) for b in moves["E1"]) > 1e-3     # every factor really moved


def test_singular_values_through_the_narrowest_width_equal_the_full_svd(rng):
    from dmf_edu.factorization import prefix_products
    from dmf_edu.factorization import product_singular_values as _singular_values

    for widths in ([4, 9], [9, 4], [3, 3]):
        ws = d.init_weights((20, 15), 3, 1.0, width=widths, rng=rng, batch_shape=2)
        prefixes = prefix_products(ws)
        s = _singular_values(ws, prefixes)
        np.testing.assert_allclose(s, np.linalg.svd(prefixes[-1], compute_uv=False), rtol=1e-10, atol=1e-12)
        assert s.shape == (2, 15)


def test_default_record_schedule(rng):
    steps = d.record_schedule(10_000, cost_ratio=3.0)
    assert steps[0] == 0 and steps[-1] == 10_000 and np.all(np.diff(steps) > 0)
    assert len(steps) <= 200 and len(steps) > 100
    assert set(range(1, 6)) <= set(steps.tolist())                  # log-spaced early
    assert np.max(np.diff(steps)) <= 2.5 * 10_000 / len(steps)       # half of them evenly spaced
    assert len(d.record_schedule(400, cost_ratio=3.0)) <= 0.05 * 400 / 3.0
    assert d.record_schedule(10, cost_ratio=3.0).tolist() == [10]   # too short: the final step only
    p = d.sample_completion(d.random_low_rank(30, 30, 2, rng=rng), 300, rng=rng)
    run = d.gradient_descent(p, d.init_weights((30, 30), 3, 0.1, rng=rng), lr=0.01, max_steps=3000)
    assert run.history["step"][0] == 0 and run.history["step"][-1] == 3000
    assert 3 <= len(run.history["step"]) <= 200


@pytest.mark.parametrize("dims", [[7, 5, 6], [7, 5, 4, 6], [7, 3, 9, 4, 6]])
@pytest.mark.parametrize("order", ["C", "F", "csr", "csc"])
def test_fused_gd_update_equals_E1_backward_then_step(rng, dims, order):
    """gd_update (the one-trial plain-GD hot path) = W_j - lr dphi/dW_j from backward (E1) with the
    dense G, at a random rectangular point (hidden widths differ from both outer sizes, so a missing
    transpose shows)."""
    from dmf_edu.factorization import backward, prefix_products

    ws = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
    Gd = rng.standard_normal((dims[-1], dims[0])) * (rng.random((dims[-1], dims[0])) < 0.4)
    G = sp.csr_matrix(Gd).asformat(order) if order in ("csr", "csc") else np.asarray(Gd, order=order)
    expected = [w - 0.1 * g for w, g in zip(ws, backward(ws, prefix_products(ws), Gd))]
    st = d.Stepper(ws, lr=0.1)
    st.forward()
    st.apply(G)
    for a, b in zip(st.weights, expected):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    assert st._fused


def test_one_stopping_rule_for_gradient_descent_and_lockstep(rng):
    """train_together stops and diverges exactly where gradient_descent does, with the same message."""
    from dmf_edu.training.lockstep import train_together
    problem = d.sample_completion(d.random_low_rank(5, 4, 2, rng=rng), 14, rng=rng)
    w = d.init_weights((5, 4), 2, 1.0, rng=rng)
    with pytest.raises(d.DivergenceError, match=r"gradient descent diverged at step \d+: .*lower lr \(now 50\)") as alone:
        d.gradient_descent(problem, w, lr=50.0, max_steps=100)
    with pytest.raises(d.DivergenceError, match=r"run 0 diverged at step \d+: .*lower lr \(now 50\)") as lock:
        train_together(problem, [w], lr=50.0, max_steps=100)
    assert str(lock.value).split(" diverged")[1] == str(alone.value).split(" diverged")[1]
    assert int(lock.value.run.nit) == int(alone.value.run.nit)
    small = d.init_weights((5, 4), 2, 0.1, rng=rng)
    one = d.gradient_descent(problem, small, lr=0.1, max_steps=3000, loss_tol=1e-3, record_steps=[])
    (two,) = train_together(problem, [small], lr=0.1, max_steps=3000, loss_tol=1e-3)
    assert (int(one.nit), bool(one.success), one.status) == (int(two.nit), bool(two.success), two.status)


def test_run_result_shape_and_loading_old_key_names(rng, tmp_path):
    """success/status/message/nit/wall_time; a file written with steps/converged/stop_reason still loads."""
    import json
    problem = d.sample_completion(d.random_low_rank(5, 4, 2, rng=rng), 14, rng=rng)
    run = d.gradient_descent(problem, d.init_weights((5, 4), 2, 0.1, rng=rng), lr=0.1, max_steps=3000,
                             loss_tol=1e-3, record_steps=[])
    assert run.status == "loss_tol" and bool(run.success) and run.message.endswith("loss <= loss_tol.")
    assert 0 < int(run.nit) < 3000 and run.wall_time > 0
    capped = d.gradient_descent(problem, d.init_weights((5, 4), 2, 0.1, rng=rng), lr=0.1, max_steps=3,
                                loss_tol=1e-3, record_steps=[])
    assert capped.status == "max_steps" and not capped.success and "0 of 1 trials" in capped.message
    path = str(tmp_path / "old.npz")
    run.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["stop_reason"] = meta.pop("status")
    del meta["message"]
    arrays["steps"], arrays["converged"] = arrays.pop("nit"), arrays.pop("success")
    np.savez(path, meta=np.asarray(json.dumps(meta)), **arrays)
    old = d.Run.load(path)
    assert (int(old.nit), bool(old.success), old.status, old.message) == (int(run.nit), True, "loss_tol", run.message)
