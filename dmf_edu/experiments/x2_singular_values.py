"""X2 — singular values of the end-to-end matrix during training (arXiv 1905.13655, THEORY.md §8).

The X1 data at 2000 observations; depths 1, 2, 3 from Gaussian init 1e-3 with the E19
optimizer; the top-10 singular values of W against the iteration.  What it shows: depth 1
raises all singular values together; depth 2 a few large ones with a tail of small ones;
depth 3 exactly five (the rank) switching on one after another (incremental learning,
E6 and E10).
"""

from __future__ import annotations

import os

import numpy as np

from .. import _io
from .._seeds import task_rng
from ..datasets import load_movielens, read_movielens
from .e19 import E19, E19_SHORT, train_runs
from .heldout import track
from .protocol import Experiment, Option, override
from .tables import field
from .x1_completion import completion_problem, initial_factors

ID = "X2"
TITLE = "singular values of W vs iteration, depths 1-3 (incremental learning)"

FULL = dict(m=100, n=100, rank=5, n_obs=2000, depths=[1, 2, 3], init_scale=1e-3, n_singular=10,
            lr=1e-3, loss_tol=1e-6, max_steps=300_000, record_every=200)
QUICK = dict(FULL, m=30, n=30, rank=3, n_obs=400, max_steps=40_000, record_every=50)
# E19's step moves the factors by about lr per iteration, and ratings of about 3.5 need a top
# singular value near 3.5 sqrt(943 * 1682) ~ 4400 (factors ~ 4400^(1/N)): lr 1e-2 gets depth 3
# there in a few thousand steps (depth 1 needs millions: it barely leaves zero, as in the paper).
# Checked on synthetic ratings of the same size only (943 x 1682, 100k ratings, rank 5 + noise):
# after 2,000 steps depth 3 had sigma_1 = 2.7e3 and held-out MSE 2.9 (from 13.0), depth 2
# sigma_1 = 2.6e2: depth 2 needs most of the 20,000 steps.  Records every 500 steps.
MOVIELENS = dict(data="movielens", path=None, width=100, test=0.2, depths=[1, 2, 3], init_scale=1e-3,
                 n_singular=10, lr=1e-2, loss_tol=1e-6, max_steps=20_000, every=500)
MOVIELENS_QUICK = dict(MOVIELENS, width=20, max_steps=1500, every=100)


def run_synthetic_task(task):
    """One depth on the X1 data (trial 0, the same draws as X1's run with these settings)."""
    config, depth, seed = task["config"], task["depth"], task["seed"]
    problem = completion_problem(config, seed, 0, config["n_obs"])
    init = initial_factors(config, seed, 0, config["n_obs"], depth, config["init_scale"])
    (run,), wall_time = train_runs(problem, [init], config, record_every=config["record_every"],
                                   n_singular=config["n_singular"])
    h = run.history
    s_truth = np.linalg.svd(problem.truth, compute_uv=False)[:config["rank"]]
    final = h["singular_values"][-1]
    on = final > 0.25 * s_truth[-1]
    switch = [int(h["step"][np.argmax(h["singular_values"][:, i] >= 0.5 * final[i])]) for i in range(len(final))]
    rows = [dict(depth=depth, step=int(step), index=i + 1, singular_value=float(v))
            for step, sv in zip(h["step"], h["singular_values"]) for i, v in enumerate(sv)]
    summary = dict(depth=depth, steps=int(run.nit), success=bool(run.success), wall_time=wall_time,
                   n_switched_on=int(on.sum()), switch_on_steps=[s for s, o in zip(switch, on) if o],
                   final_singular_values=final.tolist(), truth_singular_values=s_truth.tolist(),
                   reconstruction_error=float(h["reconstruction_error"][-1]))
    return [dict(row, summary=summary if row["step"] == 0 and row["index"] == 1 else None) for row in rows]


def run_task(task):
    """One depth: on the synthetic X1 data, or with ``config["data"] == "movielens"`` on the user's file."""
    if task["config"].get("data") == "movielens":
        return run_movielens_task(task)
    return run_synthetic_task(task)


def run_movielens_task(task):
    """One depth on the user's MovieLens file: singular values and held-out MSE every ``every`` steps."""
    config, depth = task["config"], task["depth"]
    train, test = load_movielens(config["path"], test=config["test"],
                                 rng=task_rng(task["seed"], "movielens split", config["test"]))
    rng = task_rng(task["seed"], "movielens init", depth, config["width"], config["init_scale"])
    res = track(train, depth, rng, config, test=test,
                n_singular=config["n_singular"], width=config["width"])
    summary = dict(depth=depth, steps=res["steps"], success=res["success"], wall_time=res["wall_time"],
                   shape=list(train.shape), n_train=train.n_observations, n_test=test.n_observations,
                   final_singular_values=res["singular_values"][-1], test_mse=res["test"][-1],
                   train_mse=res["train"][-1], best_test_mse=min(res["test"]),
                   heldout=[dict(step=s, test=t, train=r) for s, t, r in zip(res["step"], res["test"], res["train"])])
    rows = [dict(depth=depth, step=step, index=i + 1, singular_value=float(v))
            for step, sv in zip(res["step"], res["singular_values"]) for i, v in enumerate(sv)]
    return [dict(row, summary=summary if row["step"] == 0 and row["index"] == 1 else None) for row in rows]


def configure(quick=False, config=None):
    """The synthetic configuration, or with ``data="movielens"`` the MovieLens one (path required,
    the file read here: a bad file fails now, naming its line, not in a worker)."""
    config = dict(config or {})
    data = config.pop("data", "synthetic")
    if data == "synthetic":
        return override(ID, QUICK if quick else FULL, config)
    if data != "movielens":
        raise ValueError(f"data must be 'synthetic' or 'movielens', got {data!r}")
    config = override(f"{ID} (data='movielens')", MOVIELENS_QUICK if quick else MOVIELENS, config)
    if not config.get("path"):
        raise ValueError("data='movielens' needs path= (CLI: --path) to your u.data from MovieLens-100K")
    width = config["width"]
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1 (the hidden width of the factors), got {width!r}")
    read_movielens(config["path"])
    config["path"] = os.path.abspath(config["path"])
    return config


def tasks(config, seed):
    prefix = f"movielens_width-{config['width']}_" if config.get("data") == "movielens" else ""
    return [dict(key=f"{prefix}depth-{d}", depth=d, seed=seed, config=config, cost=d) for d in config["depths"]]


def collect(rows, config):
    rows = [dict(r) for r in rows]
    summaries = [r.pop("summary") for r in rows]
    return dict(params=config, optimizer=E19, rows=rows, summary=[s for s in summaries if s])


def headline(results):
    if results["params"].get("data") == "movielens":
        return (["depth", "test MSE", "best test MSE", "train MSE", "steps"],
                [[s["depth"], s["test_mse"], s["best_test_mse"], s["train_mse"], s["steps"]]
                 for s in results["summary"]])
    return (["depth", "switched on", "reconstruction error", "steps"],
            [[s["depth"], s["n_switched_on"], field(s, "reconstruction_error"), s["steps"]] for s in results["summary"]])


def plot(results, path):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    config, rows = results["params"], results["rows"]
    depths = config["depths"]
    movielens = config.get("data") == "movielens"
    panels = len(depths) + movielens
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.4))
    for ax, depth, summ in zip(np.atleast_1d(axes), depths, results["summary"]):
        for i in range(1, config["n_singular"] + 1):
            pts = [(r["step"], r["singular_value"]) for r in rows if r["depth"] == depth and r["index"] == i]
            steps, vals = zip(*pts)
            ax.plot(steps, vals, lw=1.2)
        ax.set_title(f"depth {depth}: " + (f"test MSE {summ['test_mse']:.3f}" if movielens
                                           else f"{summ['n_switched_on']} switched on"), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("singular value of W")
        ax.xaxis.set_major_locator(MaxNLocator(4))
    if movielens:
        _plot_heldout(np.atleast_1d(axes)[-1], results["summary"])
        m, n = results["summary"][0]["shape"]
        what = (f"MovieLens {m}x{n}, {results['summary'][0]['n_train']} training ratings, hidden width "
                f"{config['width']}")
    else:
        what = f"{config['m']}x{config['n']} rank {config['rank']}, {config['n_obs']} observations"
    fig.suptitle(f"X2: top-{config['n_singular']} singular values, {what}, init {config['init_scale']:g}, "
                 f"{E19_SHORT}", fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


def _plot_heldout(ax, summaries):
    """Held-out rating MSE along the MovieLens runs, one line per depth."""
    for summ in summaries:
        pts = summ["heldout"]
        ax.plot([p["step"] for p in pts], [p["test"] for p in pts], lw=1.3, label=f"depth {summ['depth']}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("held-out rating MSE (test split)")
    ax.set_title("held-out error", fontsize=10)
    ax.legend(fontsize=8)


OPTIONS = (Option("--data", "'movielens' runs on your MovieLens-100K u.data (needs --path)",
                  choices=("synthetic", "movielens")),
           Option("--path", "--data movielens: path to your ml-100k/u.data"),
           Option("--width", "--data movielens: hidden width of the factors (default 100)", type=int))


def options_config(values):
    """``--data/--path/--width`` as config overrides (None: the synthetic default)."""
    data, path, width = values.get("data"), values.get("path"), values.get("width")
    if data in (None, "synthetic") and path is None and width is None:
        return None
    if (data or "synthetic") == "synthetic":
        raise ValueError("--path and --width need --data movielens")
    if not path:
        raise ValueError("--data movielens needs --path to your MovieLens-100K u.data "
                         "(https://grouplens.org/datasets/movielens/100k/)")
    if width is not None and width < 1:
        raise ValueError(f"--width must be >= 1 (the hidden width of the factors), got {width}")
    return dict(data="movielens", path=path, **({} if width is None else dict(width=width)))


def output_name(config):
    """``X2``, or ``X2-movielens`` on the user's data (never writes over the committed figure)."""
    data = config.get("data", "synthetic")
    return ID + ("" if data == "synthetic" else f"-{data}")


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline, configure=configure, options=OPTIONS, options_config=options_config,
                        output_name=output_name)
