"""X2 — singular values of the end-to-end matrix during training (arXiv 1905.13655, THEORY.md §8).

The X1 data at 2000 observations; depths 1, 2, 3 from Gaussian init 1e-3 with the E19
optimizer; the top-10 singular values of W against the iteration.  What it shows: depth 1
raises all singular values together; depth 2 a few large ones with a tail of small ones;
depth 3 exactly five (the rank) switching on one after another (incremental learning,
E6 and E10).
"""

from __future__ import annotations

import sys

import numpy as np

from ._common import E19, E19_SHORT, child_rng, completion_problem, run_experiment, train

ID = "X2"
TITLE = "singular values of W vs iteration, depths 1-3 (incremental learning)"

FULL = dict(m=100, n=100, rank=5, n_obs=2000, depths=[1, 2, 3], init_scale=1e-3, n_singular=10,
            lr=1e-3, loss_tol=1e-6, max_steps=300_000, record_every=200)
QUICK = dict(FULL, m=30, n=30, rank=3, n_obs=400, max_steps=40_000, record_every=50)


def run_task(task):
    config = task["config"]
    problem = completion_problem(config, task["seed"], 0, config["n_obs"])
    depth = task["depth"]
    run, seconds = train(problem, depth, config["init_scale"], child_rng(task["seed"], 0, 2, depth), config,
                         record_every=config["record_every"], n_singular=config["n_singular"])
    h = run.history
    s_truth = np.linalg.svd(problem.truth, compute_uv=False)[:config["rank"]]
    final = h["singular_values"][-1]
    on = final > 0.25 * s_truth[-1]
    switch = [int(h["step"][np.argmax(h["singular_values"][:, i] >= 0.5 * final[i])]) for i in range(len(final))]
    rows = [dict(depth=depth, step=int(step), index=i + 1, singular_value=float(v))
            for step, sv in zip(h["step"], h["singular_values"]) for i, v in enumerate(sv)]
    summary = dict(depth=depth, steps=int(run.steps), converged=bool(run.converged), seconds=seconds,
                   n_switched_on=int(on.sum()), switch_on_steps=[s for s, o in zip(switch, on) if o],
                   final_singular_values=final.tolist(), truth_singular_values=s_truth.tolist(),
                   error=float(h["reconstruction_error"][-1]))
    return [dict(row, summary=summary if row["step"] == 0 and row["index"] == 1 else None) for row in rows]


def tasks(config, seed, quick=False):
    return [dict(key=f"depth-{d}", depth=d, seed=seed, config=config, cost=d) for d in config["depths"]]


def collect(rows, config):
    rows = [dict(r) for r in rows]
    summaries = [r.pop("summary") for r in rows]
    return dict(params=config, optimizer=E19, rows=rows, summary=[s for s in summaries if s])


def headline(results):
    return (["depth", "switched on", "error", "steps"],
            [[s["depth"], s["n_switched_on"], s["error"], s["steps"]] for s in results["summary"]])


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def plot(results, path):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .._io import save_figure

    config, rows = results["params"], results["rows"]
    depths = config["depths"]
    fig, axes = plt.subplots(1, len(depths), figsize=(4 * len(depths), 3.4))
    for ax, depth, summ in zip(np.atleast_1d(axes), depths, results["summary"]):
        for i in range(1, config["n_singular"] + 1):
            pts = [(r["step"], r["singular_value"]) for r in rows if r["depth"] == depth and r["index"] == i]
            steps, vals = zip(*pts)
            ax.plot(steps, vals, lw=1.2)
        ax.set_title(f"depth {depth}: {summ['n_switched_on']} switched on", fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("singular value of W")
        ax.xaxis.set_major_locator(MaxNLocator(4))
    fig.suptitle(f"X2: top-{config['n_singular']} singular values, {config['m']}x{config['n']} rank {config['rank']}, "
                 f"{config['n_obs']} observations, init {config['init_scale']:g}, {E19_SHORT}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
