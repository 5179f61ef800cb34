"""dmf_edu.tensors.gradient_descent: the one training loop driving a CP factorization (§10, E19-E22)."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu import tensors as T


def _problem(rng, shape=(6, 5, 4), rank=2, K=70, reduction="mean", batch=None):
    truth = T.cp_to_tensor(T.init_cp(shape, rank, np.sqrt(np.prod(shape[1:])), rng=rng))
    flat = rng.choice(int(np.prod(shape)), K, replace=False)
    index = np.array(np.unravel_index(flat, shape)).T
    values = truth.reshape(-1)[flat]
    if batch is not None:
        values = values + 0.01 * rng.standard_normal((batch, K))
    return T.TensorCompletion(shape, index, values, reduction=reduction, truth=truth)


def test_plain_gd_steps_equal_E20_updates_and_the_run_has_the_cp_history(rng):
    p = _problem(rng)
    f0 = T.init_cp(p.shape, 3, 0.5, rng=rng)
    run = T.gradient_descent(p, f0, lr=0.05, max_steps=3, record_every=1)
    fs = [A.copy() for A in f0]
    for _ in range(3):
        grads = T.cp_gradients(fs, p.gradient(T.cp_to_tensor(fs)))
        fs = [A - 0.05 * g for A, g in zip(fs, grads)]
    for a, b in zip(run.weights, fs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert isinstance(run, T.CPRun) and isinstance(run, d.Run)
    np.testing.assert_allclose(run.W, T.cp_to_tensor(fs), rtol=1e-12)
    h = run.history
    assert h["step"].tolist() == [0, 1, 2, 3]
    assert h["component_norms"].shape == (4, 3) and h["tensor_rank"].shape == (4,)
    assert h["component_balancedness"].shape == (4, 2, 3)
    for key in ("loss", "train_error", "balancedness", "reconstruction_error", "relative_error", "mse", "time"):
        assert h[key].shape == (4,), key
    np.testing.assert_allclose(h["component_norms"][-1], T.component_norms(run.weights), rtol=1e-12)
    assert np.all(np.diff(h["loss"]) < 0)
    assert run.nit == 3 and run.status == "max_steps" and not run.success and run.wall_time > 0


def test_callers_factors_are_not_modified(rng):
    p = _problem(rng)
    f0 = T.init_cp(p.shape, 2, 0.5, rng=rng)
    before = [A.copy() for A in f0]
    T.gradient_descent(p, f0, lr=0.05, max_steps=5, record_steps=[])
    assert all(np.array_equal(a, b) for a, b in zip(f0, before))


def test_E19_adaptive_reaches_loss_tol_and_keeps_its_state(rng):
    p = _problem(rng)
    run = T.gradient_descent(p, T.init_cp(p.shape, 4, 1e-2, rng=rng), lr=1e-2, optimizer="adaptive",
                             max_steps=20000, loss_tol=1e-4)
    assert run.success and run.status == "loss_tol" and run.nit < 20000
    assert run.state["t"] == run.nit and run.state["s"] > 0
    assert run.history["loss"][-1] <= 1e-4 < run.history["loss"][0]


def test_resume_from_a_checkpoint_equals_one_uninterrupted_run(rng, tmp_path):
    p = _problem(rng)
    train, val = p.split(10, rng=rng)
    f0 = T.init_cp(p.shape, 3, 0.1, rng=rng)
    kw = dict(lr=1e-2, optimizer="adaptive", record_every=7, validation=val, keep_best=True)
    whole = T.gradient_descent(train, f0, max_steps=60, **kw)
    path = tmp_path / "cp.npz"
    half = T.gradient_descent(train, f0, max_steps=25, checkpoint=path, checkpoint_every=10, **kw)
    assert half.nit == 25
    loaded = d.Run.load(path)
    assert isinstance(loaded, T.CPRun) and loaded.W.shape == p.shape
    rest = T.gradient_descent(train, f0, max_steps=60, checkpoint=path, **kw)
    for a, b in zip(rest.weights, whole.weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(rest.last_weights, whole.last_weights):
        np.testing.assert_array_equal(a, b)
    assert rest.state["t"] == whole.state["t"]
    np.testing.assert_array_equal(rest.state["s"], whole.state["s"])
    common = np.isin(rest.history["step"], whole.history["step"])      # rest also holds step 25 (its stop)
    np.testing.assert_array_equal(rest.history["step"][common], whole.history["step"])
    np.testing.assert_array_equal(rest.history["component_norms"][common], whole.history["component_norms"])
    np.testing.assert_array_equal(rest.history["validation_error"][common], whole.history["validation_error"])
    other = T.TensorCompletion(p.shape, train.index, train.values + 1.0, reduction=p.reduction)
    with pytest.raises(ValueError, match="the problem's data differ"):
        T.gradient_descent(other, f0, max_steps=60, checkpoint=path, **kw)


def test_validation_keep_best_and_patience_per_trial(rng):
    p = _problem(rng, batch=3)
    train, val = p.split(15, rng=rng)
    f0 = T.init_cp(p.shape, 3, 0.3, rng=rng, batch_shape=3)
    run = T.gradient_descent(train, f0, lr=5e-2, optimizer="adaptive", max_steps=3000, record_every=20,
                             validation=val, keep_best=True, patience=3)
    h = run.history
    assert h["validation_error"].shape == (len(h["step"]), 3)
    best = np.nanmin(np.where(h["step"][:, None] <= run.nit, h["validation_error"], np.nan), axis=0)
    np.testing.assert_allclose(run.best_validation_error, best)
    np.testing.assert_allclose(val.train_error(run.weights), run.best_validation_error, rtol=1e-12)
    if run.status == "patience":
        assert np.all(run.stopped_early | run.success)


def test_divergence_raises_with_the_run_attached(rng):
    p = _problem(rng, reduction="sum")
    with pytest.raises(d.DivergenceError, match="diverged") as err:
        T.gradient_descent(p, T.init_cp(p.shape, 2, 3.0, rng=rng), lr=5.0, max_steps=200)
    assert isinstance(err.value.run, T.CPRun) and len(err.value.run.weights) == 3


def test_batched_trials_with_one_frozen_equal_the_single_runs(rng):
    """A trial that reaches loss_tol stops moving (the E19 mask) while the others go on; each trial
    equals its own single run."""
    p = _problem(rng)
    f_fast = T.init_cp(p.shape, 3, 0.5, rng=1)
    f_slow = T.init_cp(p.shape, 3, 1e-3, rng=2)
    stacked = [np.stack([a, b]) for a, b in zip(f_fast, f_slow)]
    kw = dict(lr=1e-2, optimizer="adaptive", max_steps=1500, loss_tol=1e-4, record_every=50)
    both = T.gradient_descent(p, stacked, **kw)
    alone = [T.gradient_descent(p, f, **kw) for f in (f_fast, f_slow)]
    assert both.nit[0] < both.nit[1]                    # trial 0 froze first
    for i, one in enumerate(alone):
        assert both.nit[i] == one.nit and both.success[i] == one.success
        for a, b in zip(both.weights, one.weights):
            np.testing.assert_allclose(a[i], b, rtol=1e-10, atol=1e-14)
    assert both.history["component_norms"].shape == (len(both.history["step"]), 2, 3)
    assert both.history["component_balancedness"].shape == (len(both.history["step"]), 2, 2, 3)
    for i, one in enumerate(alone):                     # per-trial history items on the right axis
        common = np.isin(both.history["step"], one.history["step"])
        np.testing.assert_allclose(both.history["tensor_rank"][common, i],
                                   one.history["tensor_rank"][np.isin(one.history["step"], both.history["step"])])
        np.testing.assert_allclose(both.history["component_norms"][common, i],
                                   one.history["component_norms"][np.isin(one.history["step"],
                                                                          both.history["step"])], rtol=1e-8)


def test_plain_gd_masks_a_converged_trial(rng):
    p = _problem(rng)
    stacked = [np.stack([a, b]) for a, b in zip(T.init_cp(p.shape, 3, 0.5, rng=1), T.init_cp(p.shape, 3, 0.1, rng=2))]
    run = T.gradient_descent(p, stacked, lr=0.05, max_steps=800, loss_tol=0.05, record_steps=[])
    assert run.nit[0] != run.nit[1]
    single = T.gradient_descent(p, [A[0] for A in stacked], lr=0.05, max_steps=800, loss_tol=0.05, record_steps=[])
    for a, b in zip(run.weights, single.weights):
        np.testing.assert_allclose(a[0], b, rtol=1e-10, atol=1e-14)


def test_incremental_rank_learning_through_the_loop(rng):
    """E22 (§10): from a small balanced init the component norms leave the floor one after another
    on a rank-3 truth with separated component sizes (4, 2, 1); R = 5 components (overparameterized)."""
    shape = (8, 8, 8)
    units = [np.linalg.qr(rng.standard_normal((8, 3)))[0] for _ in shape]
    truth = T.cp_to_tensor([units[0] * np.array([4.0, 2.0, 1.0])] + units[1:])
    p = T.TensorCompletion.from_tensor(truth, truth=truth)     # every entry observed, sum loss
    run = T.gradient_descent(p, T.init_cp(shape, 5, 1e-3, rng=rng), lr=0.05, max_steps=1500, record_every=10)
    steps = run.history["step"]
    top = np.sort(run.history["component_norms"], axis=1)[:, ::-1]      # k-th largest per record
    assert np.all(top[0] < 1e-2)                                         # all start on the floor
    off = [top[:, k] > 0.1 for k in range(3)]
    assert all(o.any() for o in off)
    leave = [steps[np.argmax(o)] for o in off]
    assert leave[0] < leave[1] < leave[2]                                # one after another
    first = np.argmax(off[0])
    assert run.history["tensor_rank"][first] == 1                        # one component on, the rest below 1e-2
    assert run.history["tensor_rank"][-1] >= 3
    assert run.history["relative_error"][-1] < 0.05


@pytest.mark.parametrize("bad, match", [
    (lambda fs: fs[:1], "factors has 1 factor"),
    (lambda fs: [fs[0], fs[1][:, :2], fs[2]], r"factors\[1\] has shape"),
    (lambda fs: [fs[0], fs[1], fs[2][:3]], "factors give a 6x5x3 tensor but the problem is 6x5x4"),
    (lambda fs: [fs[0] * np.nan, fs[1], fs[2]], r"factors\[0\]"),
])
def test_bad_factors_are_one_line_value_errors_naming_the_argument(rng, bad, match):
    p = _problem(rng)
    fs = T.init_cp(p.shape, 3, 0.1, rng=rng)
    with pytest.raises(ValueError, match=match) as err:
        T.gradient_descent(p, bad(fs), lr=0.1, max_steps=1)
    assert "\n" not in str(err.value)


def test_wrong_problem_truth_and_validation_are_named(rng):
    p = _problem(rng)
    fs = T.init_cp(p.shape, 2, 0.1, rng=rng)
    with pytest.raises(TypeError, match="problem must be a TensorCompletion"):
        T.gradient_descent(d.sample_completion(np.ones((4, 4)), 5, rng=rng), fs, lr=0.1, max_steps=1)
    with pytest.raises(ValueError, match="truth must have at least 3 dimension"):
        T.gradient_descent(p, fs, lr=0.1, max_steps=1, truth=np.ones((6, 5)))
    other = _problem(rng, shape=(6, 5, 3))
    with pytest.raises(ValueError, match="validation is 6x5x3 but the problem is 6x5x4"):
        T.gradient_descent(p, fs, lr=0.1, max_steps=1, validation=other)


def test_callback_sees_the_dense_tensor_and_can_stop(rng):
    p = _problem(rng)
    seen = []

    def cb(v):
        seen.append((v.step, v.W.shape))
        return v.step >= 20

    run = T.gradient_descent(p, T.init_cp(p.shape, 2, 0.1, rng=rng), lr=0.05, max_steps=100, record_every=10,
                             callback=cb)
    assert run.status == "callback" and run.nit == 20 and seen[-1] == (20, p.shape)
