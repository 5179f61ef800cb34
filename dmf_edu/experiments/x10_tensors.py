"""X10 — tensor completion: CP factorization from small init vs GD on the entries vs the nuclear norm of
the most square unfolding (arXiv 2102.09972; THEORY.md §10, E20-E22).

Part "recovery": an order-3 (8x8x8) and an order-4 (8^4) rank-1 ground truth with RMS entry 1
(``||W*||_F^2`` = number of entries), ``n_obs`` entries observed uniformly without replacement.
Three methods on the same observations, from the same small init:

* ``cp`` — a CP factorization with ``R = components`` components from :func:`init_cp` of end-to-end
  scale ``init_scale`` (balanced), the E19 adaptive optimizer on the mean loss, stopped at train MSE
  ``loss_tol`` or ``max_steps``; its measured tensor rank (:func:`tensor_rank`, tol ``rank_tol``);
* ``entrywise`` — GD on the tensor entries themselves from the very init of the CP run
  (:func:`entrywise_gd`, the "linear" model), trained to an exact fit of the observed entries: the
  limit of any gradient method on this linear least-squares problem, so the optimizer does not matter;
  unobserved entries stay at their init;
* ``nuclear`` — nuclear-norm minimization of the most square unfolding (8x64, 64x64) with
  ``|X_k - y_k| <= eps`` (:func:`unfolding_nuclear_norm`).

Error: ``||W - W*||_F^2 / ||W*||_F^2``; beside it the CP tensor rank, and for every method the numerical
rank of the most square unfolding (singular values above ``rank_tol`` times the largest).

Part "dynamics": one CP run on a rank-3 order-3 truth (component weights ``dynamics_weights``, unit
random directions, RMS 1) from the same kind of init; every component norm along the run (E22): the
components switch on one after another.
"""

from __future__ import annotations

import time

import numpy as np

from .. import _io
from .._seeds import task_rng
from ..tensors import (TensorCompletion, cp_to_tensor, entrywise_gd, gradient_descent,
                       init_cp, most_square_split, tensor_rank, unfolding_nuclear_norm)
from .e19 import E19, E19_SHORT
from .protocol import Experiment
from .tables import field, thin

ID = "X10"
TITLE = "tensor completion 8^3 / 8^4 rank 1: CP from small init vs GD on entries vs unfolding nuclear norm"
METHODS = ("cp", "entrywise", "nuclear")
LABELS = {"cp": "CP factorization (E19)", "entrywise": "GD on the entries", "nuclear": "nuclear norm of unfolding"}
COLORS = {"cp": "C0", "entrywise": "C1", "nuclear": "C2"}
BASELINES = ("entrywise: plain GD on the entries (mean loss, lr = n_obs/4, i.e. each residual halves per "
             "step) to an exact fit of the observed entries; nuclear: the certified ADMM solver of "
             "dmf_edu.baselines on the most square unfolding")

# n_obs: observation counts per order (keys are the order as text, JSON-safe)
FULL = dict(dim=8, orders=[3, 4], truth_rank=1, components=10, init_scale=1e-3, lr=1e-3, loss_tol=1e-6,
            max_steps=100_000, trials=5, rank_tol=1e-2, eps=1e-3, linear_steps=200,
            n_obs={"3": [25, 50, 75, 100, 150, 200, 300, 400, 511],
                   "4": [100, 200, 300, 500, 750, 1000, 2000, 4000]},
            dynamics_order=3, dynamics_weights=[3.0, 2.0, 1.0], dynamics_n_obs=300, record_every=100)
QUICK = dict(FULL, trials=1, max_steps=30_000, n_obs={"3": [40, 150, 400], "4": [300, 1000]},
             record_every=250)


# --------------------------------------------------------------------------- the data

def truth_components(order, config, seed, trial, weights=None):
    """The ground truth's CP factors and its RMS rescaling: ``(vectors, scale)``.

    Component ``r`` is ``weights[r] u_r^(1) o ... o u_r^(N)`` (default ``truth_rank`` equal weights)
    with unit vectors of random Gaussian direction; ``scale`` makes ``||W*||_F^2`` the number of entries.
    """
    weights = np.ones(config["truth_rank"]) if weights is None else np.asarray(weights, float)
    d, R = config["dim"], weights.size
    rng = task_rng(seed, "truth", order, d, R, [float(w) for w in weights], trial)
    vectors = [rng.standard_normal((d, R)) for _ in range(order)]
    vectors = [V / np.linalg.norm(V, axis=0) for V in vectors]
    vectors[0] = vectors[0] * weights
    return vectors, float(np.sqrt(d ** order) / np.linalg.norm(cp_to_tensor(vectors)))


def ground_truth(order, config, seed, trial, weights=None):
    """The ``dim^order`` truth of :func:`truth_components`, RMS entry 1 (row-major array)."""
    vectors, scale = truth_components(order, config, seed, trial, weights)
    return np.ascontiguousarray(scale * cp_to_tensor(vectors))


def observe(T, n_obs, rng):
    """``n_obs`` entries of ``T`` chosen uniformly without replacement: a mean-loss :class:`TensorCompletion`."""
    if not 1 <= n_obs <= T.size:
        raise ValueError(f"n_obs = {n_obs} must lie in 1 .. {T.size} (the number of entries); fix config['n_obs']")
    flat = np.sort(rng.choice(T.size, size=n_obs, replace=False))
    index = np.stack(np.unravel_index(flat, T.shape), axis=1)
    return TensorCompletion(T.shape, index, T.reshape(-1)[flat], reduction="mean", truth=T)


def recovery_problem(order, config, seed, trial, n_obs):
    """The rank-1 truth of ``(order, trial)`` (shared by every count) and ``n_obs`` observations of it."""
    T = ground_truth(order, config, seed, trial)
    rng = task_rng(seed, "observed entries", order, config["dim"], config["truth_rank"], trial, n_obs)
    return observe(T, n_obs, rng)


def initial_factors(order, config, seed, trial, n_obs, part="recovery"):
    """The balanced CP init of one run, named by the run's own parameters."""
    shape = (config["dim"],) * order
    rng = task_rng(seed, "init", part, order, config["dim"], trial, n_obs, config["components"],
                   config["init_scale"])
    return init_cp(shape, config["components"], config["init_scale"], rng=rng)


def unfolding_rank(W, tol):
    """Numerical rank of the most square unfolding: singular values above ``tol`` times the largest."""
    rows, cols = most_square_split(W.shape)
    m = int(np.prod([W.shape[n] for n in rows]))
    s = np.linalg.svd(np.transpose(W, rows + cols).reshape(m, -1), compute_uv=False)
    return int(np.count_nonzero(s > tol * s[0])) if s[0] > 0 else 0


def _train_cp(problem, factors, config, **record):
    settings = dict(lr=config["lr"], max_steps=config["max_steps"], optimizer="adaptive",
                    loss_tol=config["loss_tol"], rank_tol=config["rank_tol"])
    return gradient_descent(problem, factors, **settings, **(record or dict(record_steps=[])))


# --------------------------------------------------------------------------- the tasks

def tasks(config, seed):
    """One task per (order, count, trial) holding the three methods on one draw, the costly
    (order 4, many observations) first; plus the dynamics run."""
    out = [dict(key="dynamics", part="dynamics", seed=seed, config=config)]
    for order in sorted(config["orders"], reverse=True):
        for k in sorted(config["n_obs"][str(order)], reverse=True):
            for trial in range(config["trials"]):
                out.append(dict(key=f"order={order}_nobs={k}_trial={trial}", part="recovery", order=order,
                                n_obs=k, trial=trial, seed=seed, config=config))
    return out


def run_task(task):
    return _recovery_task(task) if task["part"] == "recovery" else _dynamics_task(task)


def _recovery_task(task):
    config, order, k, trial, seed = task["config"], task["order"], task["n_obs"], task["trial"], task["seed"]
    problem = recovery_problem(order, config, seed, trial, k)
    factors = initial_factors(order, config, seed, trial, k)
    tol = config["rank_tol"]
    common = dict(part="recovery", order=order, n_obs=k, trial=trial, seed=seed)

    def row(method, W, start, **extra):
        err = float(problem.evaluate(W)["reconstruction_error"])
        return dict(common, method=method, reconstruction_error=err, unfolding_rank=unfolding_rank(W, tol),
                    wall_time=time.perf_counter() - start, **extra)

    start = time.perf_counter()
    run = _train_cp(problem, factors, config)
    rows = [row("cp", run.W, start, tensor_rank=int(tensor_rank(run.factors, tol)), steps=int(run.nit),
                success=bool(run.success), train_error=float(problem.train_error(run.factors)))]
    start = time.perf_counter()
    init = np.ascontiguousarray(cp_to_tensor(factors))     # the very init of the CP run, row-major
    W, losses = entrywise_gd(problem, config["init_scale"], lr=k / 4.0, max_steps=config["linear_steps"], init=init)
    rows.append(row("entrywise", W, start, tensor_rank=None, steps=config["linear_steps"],
                    success=bool(2 * losses[-1] <= config["loss_tol"]), train_error=float(2 * losses[-1])))
    start = time.perf_counter()
    W, res = unfolding_nuclear_norm(problem, eps=config["eps"])
    rows.append(row("nuclear", W, start, tensor_rank=None, steps=None, success=res.status == "optimal",
                    status=str(res.status)))
    return rows


def _dynamics_task(task):
    config, seed = task["config"], task["seed"]
    order, weights, k = config["dynamics_order"], config["dynamics_weights"], config["dynamics_n_obs"]
    T = ground_truth(order, config, seed, 0, weights=weights)
    rng = task_rng(seed, "observed entries", "dynamics", order, config["dim"], list(map(float, weights)), k)
    problem = observe(T, k, rng)
    factors = initial_factors(order, config, seed, 0, k, part="dynamics")
    start = time.perf_counter()
    run = _train_cp(problem, factors, config, record_every=config["record_every"])
    h = run.history
    scale = truth_components(order, config, seed, 0, weights)[1]
    rows = [dict(part="dynamics", step=int(s), loss=float(l), reconstruction_error=float(e), tensor_rank=int(r),
                 component_norms=[float(x) for x in c])
            for s, l, e, r, c in zip(h["step"], h["loss"], h["reconstruction_error"], h["tensor_rank"],
                                     h["component_norms"])]
    rows[-1].update(success=bool(run.success), wall_time=time.perf_counter() - start,
                    truth_component_norms=[float(scale * w) for w in weights], n_obs=k, order=order)
    return rows


# --------------------------------------------------------------------------- results

def collect(rows, config):
    dynamics = thin([r for r in rows if r["part"] == "dynamics"], lambda r: "dynamics", 400)
    recovery = [r for r in rows if r["part"] == "recovery"]
    recovery.sort(key=lambda r: (r["order"], r["n_obs"], METHODS.index(r["method"]), r["trial"]))
    return dict(experiment=ID, params=config, optimizer=f"CP: {E19}", baselines=BASELINES,
                rows=recovery + dynamics, summary=summarize(recovery + dynamics, config))


def summarize(rows, config):
    """Median, min and max error, median ranks and success counts per (order, method, n_obs); the
    dynamics run's switch-on steps."""
    table = []
    for order in config["orders"]:
        for method in METHODS:
            for k in config["n_obs"][str(order)]:
                here = [r for r in rows if r["part"] == "recovery" and r["order"] == order
                        and r["method"] == method and r["n_obs"] == k]
                if not here:
                    continue
                err = np.array([field(r, "reconstruction_error") for r in here])
                ranks = [r["tensor_rank"] for r in here if r.get("tensor_rank") is not None]
                table.append(dict(order=order, method=method, n_obs=k, trials=len(here),
                                  median_error=float(np.median(err)), min_error=float(err.min()),
                                  max_error=float(err.max()),
                                  median_tensor_rank=float(np.median(ranks)) if ranks else None,
                                  median_unfolding_rank=float(np.median([r["unfolding_rank"] for r in here])),
                                  successes=int(sum(bool(field(r, "success")) for r in here))))
    return dict(recovery=table, dynamics=switch_on(rows, config))


def switch_on(rows, config):
    """For the dynamics run: the step at which each component that ends above ``rank_tol`` times the
    largest first reaches half its final norm, components sorted by final norm (largest first)."""
    dyn = [r for r in rows if r["part"] == "dynamics"]
    if not dyn:
        return None
    steps = np.array([r["step"] for r in dyn])
    norms = np.array([r["component_norms"] for r in dyn])          # (steps, R)
    final = norms[-1]
    order = [int(c) for c in np.argsort(final)[::-1] if final[c] > config["rank_tol"] * final.max()]
    half = [int(steps[np.argmax(norms[:, c] >= final[c] / 2)]) for c in order]
    return dict(components=order, final_norms=[float(final[c]) for c in order], half_steps=half,
                truth_component_norms=dyn[-1].get("truth_component_norms"),
                final_tensor_rank=int(dyn[-1]["tensor_rank"]), steps=int(steps[-1]),
                reconstruction_error=float(dyn[-1]["reconstruction_error"]), success=dyn[-1].get("success"))


def headline(results):
    """Per order and count: median error of each method, CP tensor rank, nuclear unfolding rank."""
    table = {(r["order"], r["method"], r["n_obs"]): r for r in results["summary"]["recovery"]}
    keys = sorted({(o, k) for o, _, k in table})
    rows = []
    for o, k in keys:
        cp, lin, nuc = (table.get((o, m, k), {}) for m in METHODS)
        rows.append([f"order {o}", k, cp.get("median_error"), cp.get("median_tensor_rank"), lin.get("median_error"),
                     nuc.get("median_error"), nuc.get("median_unfolding_rank")])
    return (["tensor", "observations", "CP error", "CP tensor rank", "entrywise error", "nuclear error",
             "nuclear unfolding rank"], rows)


# --------------------------------------------------------------------------- figure

def plot(results, path):
    import matplotlib.pyplot as plt

    config, summary = results["params"], results["summary"]
    orders = list(config["orders"])
    fig = plt.figure(figsize=(5.0 * (len(orders) + 1), 6.6))
    grid = fig.add_gridspec(2, len(orders) + 1, height_ratios=[3, 2])
    for j, order in enumerate(orders):
        table = [r for r in summary["recovery"] if r["order"] == order]
        top = fig.add_subplot(grid[0, j])
        _plot_errors(top, table, order, config)
        _plot_ranks(fig.add_subplot(grid[1, j], sharex=top), table, order, config)
    _plot_dynamics(fig.add_subplot(grid[:, -1]), [r for r in results["rows"] if r["part"] == "dynamics"],
                   summary["dynamics"], config)
    fig.suptitle(f"X10: tensor completion of a rank-1 truth, CP with R = {config['components']} from init "
                 f"{config['init_scale']:g} ({E19_SHORT}) vs GD on the entries vs unfolding nuclear norm",
                 fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


def _plot_errors(ax, table, order, config):
    floor = 1e-12
    for method in METHODS:
        pts = [r for r in table if r["method"] == method]
        if not pts:
            continue
        ks = [r["n_obs"] for r in pts]
        ax.semilogy(ks, [max(r["median_error"], floor) for r in pts], "o-" if method == "cp" else "s--",
                    color=COLORS[method], label=LABELS[method])
        ax.fill_between(ks, [max(r["min_error"], floor) for r in pts], [max(r["max_error"], floor) for r in pts],
                        color=COLORS[method], alpha=0.15, lw=0)
    ax.set_xlabel("number of observed entries")
    ax.set_ylabel("reconstruction error ||W - W*||² / ||W*||²")
    shape = "x".join([str(config["dim"])] * order)
    ax.set_title(f"order {order} ({shape}): median of {config['trials']} trial(s), band min-max", fontsize=9)
    ax.legend(fontsize=7)


def _plot_ranks(ax, table, order, config):
    cp = [r for r in table if r["method"] == "cp"]
    ax.plot([r["n_obs"] for r in cp], [r["median_tensor_rank"] for r in cp], "o-", color=COLORS["cp"],
            label="CP: tensor rank")
    for method in METHODS:
        pts = [r for r in table if r["method"] == method]
        ax.plot([r["n_obs"] for r in pts], [r["median_unfolding_rank"] for r in pts], "v:", ms=4,
                color=COLORS[method], label=f"{method}: rank of unfolding")
    ax.set_xlabel("number of observed entries")
    ax.set_ylabel(f"fitted rank, median (tol {config['rank_tol']:g})")
    ax.set_title(f"order {order}: CP tensor rank; rank of the most square unfolding", fontsize=9)
    ax.legend(fontsize=7, ncol=2)


def _plot_dynamics(ax, rows, info, config):
    steps = np.array([r["step"] for r in rows])
    norms = np.array([r["component_norms"] for r in rows])
    on = list((info or {}).get("components") or [])
    for c in range(norms.shape[1]):
        if c in on:
            k = on.index(c)
            ax.semilogy(steps, norms[:, c], "-", lw=1.6, color=["C0", "C3", "C2", "C4", "C1"][k % 5],
                        label=f"component {k + 1} (half at step {info['half_steps'][k]})")
        else:
            ax.semilogy(steps, norms[:, c], "-", lw=0.7, color="0.6")
    for s in (info or {}).get("truth_component_norms") or []:
        ax.axhline(s, color="k", ls=":", lw=0.8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("component norm ||w_r^(1)|| ... ||w_r^(N)||")
    weights = ", ".join(f"{w:g}" for w in config["dynamics_weights"])
    ax.set_title(f"order {config['dynamics_order']}, rank-{len(config['dynamics_weights'])} truth (weights "
                 f"{weights}), {config['dynamics_n_obs']} observations:\nall R = {config['components']} "
                 "component norms along one run (grey: never on; dotted: truth)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
