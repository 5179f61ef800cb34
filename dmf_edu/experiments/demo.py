r"""``dmf-edu demo``: the headline experiment (X1) in small form.

100 x 100 rank-5 ground truth (``||M||_F = 100``), 2000 observed entries, depths 1, 2, 3 from
Gaussian init of scale 1e-3, trained with the reference code's adaptive step (E19, base rate
1e-3, mean loss) until the train MSE is 1e-6.  Expected picture (THEORY.md X1, X2): depth 1
only fits the observed entries (error ~0.8), depth 2 leaves an error around 1e-2..1e-1 with a
tail of small singular values, depth 3 recovers the matrix (error ~1e-5) with exactly five
singular values switched on one after another.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .._io import library_versions, save_figure, write_json
from .._validate import check_int, check_seed
from ..factorization import init_weights
from ..problems import sample_completion
from ..targets import random_low_rank
from ..training.loop import gradient_descent
from .runner import run_tasks

DEFAULTS = dict(m=100, n=100, rank=5, n_obs=2000, depths=(1, 2, 3), init_scale=1e-3,
                lr=1e-3, loss_tol=1e-6, max_steps=100_000, record_every=100)


def _demo_task(task):
    """One depth of the demo (module level, so a process pool can run it)."""
    params, depth = task["params"], task["depth"]
    data_rng, obs_rng, *init_rngs = np.random.SeedSequence(params["seed"]).spawn(2 + len(params["depths"]))
    M = random_low_rank(params["m"], params["n"], params["rank"], rng=np.random.default_rng(data_rng))
    problem = sample_completion(M, params["n_obs"], rng=np.random.default_rng(obs_rng), reduction="mean")
    weights = init_weights((params["m"], params["n"]), depth, params["init_scale"],
                           rng=np.random.default_rng(init_rngs[params["depths"].index(depth)]))
    start = time.perf_counter()
    run = gradient_descent(problem, weights, lr=params["lr"], max_steps=params["max_steps"],
                           optimizer="adaptive", loss_tol=params["loss_tol"],
                           record_every=params["record_every"],
                           progress=f"depth {depth}" if task["progress"] else False)
    h = run.history
    row = dict(method=f"depth-{depth}", depth=depth, steps=int(run.steps),
               converged=bool(run.converged), error=float(h["reconstruction_error"][-1]),
               rel_error=float(h["relative_error"][-1]),
               effective_rank=float(h["effective_rank"][-1]), seconds=time.perf_counter() - start)
    return [dict(row=row, trace=dict(step=h["step"].tolist(), singular_values=h["singular_values"].tolist()))]


def run_demo(seed=0, quick=False, progress=True, jobs=2, **overrides):
    """Run the demo and return ``{"params": ..., "rows": [...], "traces": {...}}``.

    The depths run as independent tasks on ``jobs`` processes (one BLAS thread each).
    ``quick`` shrinks the problem (30 x 30, rank 2, 300 observations) for tests.
    """
    seed = check_seed(seed)
    jobs = check_int(jobs, "jobs", minimum=1)
    params = dict(DEFAULTS, **overrides)
    if quick:
        params.update(m=30, n=30, rank=2, n_obs=300, max_steps=20_000, record_every=50)
    params.update(seed=seed, optimizer="adaptive (E19)", reduction="mean", init="gaussian",
                  depths=list(params["depths"]))
    tasks = [dict(key=f"depth-{depth}", depth=depth, params=params, progress=progress)
             for depth in params["depths"]]
    out = run_tasks("demo", tasks, _demo_task, jobs=jobs, progress=progress)
    rows = [o["row"] for o in out]
    traces = {o["row"]["method"]: {k: np.asarray(v) for k, v in o["trace"].items()} for o in out}
    return dict(params=params, rows=rows, traces=traces)


def format_table(rows):
    """Plain-text table of the demo rows."""
    lines = [f"{'method':<9} {'steps':>7} {'conv':>5} {'MSE error':>10} {'rel. error':>10} {'erank':>7} {'time':>7}"]
    for r in rows:
        lines.append(f"{r['method']:<9} {r['steps']:>7d} {str(r['converged']):>5} {r['error']:>10.3e} "
                     f"{r['rel_error']:>10.3e} {r['effective_rank']:>7.2f} {r['seconds']:>6.1f}s")
    return "\n".join(lines)


def plot_demo(results, path):
    """Top singular values of ``W`` against iteration for each depth, and the final errors."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    traces, rows = results["traces"], results["rows"]
    fig, axes = plt.subplots(1, len(traces) + 1, figsize=(4 * (len(traces) + 1), 3.4))
    for ax, (name, tr) in zip(axes, traces.items()):
        ax.semilogy(tr["step"], np.maximum(tr["singular_values"], 1e-12), lw=1)
        ax.set_title(f"{name}: top-10 singular values")
        ax.set_xlabel("iteration")
        ax.set_ylabel("singular value of W")
        ax.set_ylim(max(1e-6, 0.5 * float(np.min(tr["singular_values"]))), None)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    ax = axes[-1]
    ax.bar([r["method"] for r in rows], [r["error"] for r in rows], color="tab:blue")
    ax.set_yscale("log")
    ax.set_title("reconstruction error")
    ax.set_ylabel("MSE over all entries")
    p = results["params"]
    fig.suptitle(f"{p['m']}x{p['n']} rank-{p['rank']} completion, {p['n_obs']} observations, "
                 f"init {p['init_scale']:g}, {p['optimizer']}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def main(out="dmf-edu-demo", seed=0, quick=False, jobs=2):
    """Run, print the table, save ``out/demo.png`` and ``out/demo.json``; return the results."""
    t0 = time.perf_counter()
    results = run_demo(seed=seed, quick=quick, jobs=jobs)
    print(format_table(results["rows"]))
    png = os.path.join(out, "demo.png")
    plot_demo(results, png)
    side = dict(experiment="demo (X1/X2 in small form)", seed=seed, quick=quick, jobs=jobs,
                params=results["params"], versions=library_versions(),
                wall_time=time.perf_counter() - t0, rows=results["rows"], traces=results["traces"])
    write_json(os.path.join(out, "demo.json"), side)
    print(f"saved {png} and {os.path.join(out, 'demo.json')}")
    return results
