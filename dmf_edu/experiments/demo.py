r"""``dmf-edu demo``: the headline experiment (X1) in small form, through X1's own tasks.

100 x 100 rank-5 ground truth (``||M||_F = 100``), 2000 observed entries, depths 1, 2, 3 from
Gaussian init of scale 1e-3, trained with the reference code's adaptive step (E19, base rate
1e-3, mean loss) until the train MSE is 1e-6, the top singular values recorded every 100
steps.  It is X1's configuration with one trial, one count, no nuclear norm and no init
sweep, so its data and inits are those of X1's trial 0 at 2000 observations (same seed).
Expected picture (THEORY.md X1, X2): depth 1 only fits the observed entries (error ~0.8),
depth 2 leaves an error around 1e-2..1e-1 with a tail of small singular values, depth 3
recovers the matrix (error ~1e-5) with exactly five singular values switched on one after
another.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .._io import library_versions, save_figure, write_json
from .._validate import check_int, check_seed
from .tables import format_table
from .x1_completion import EXPERIMENT as X1

DEMO = dict(n_obs=[2000], depths=[1, 2, 3], trials=1, nuclear=False, sweep_n_obs=2000, sweep_scales=[],
            max_steps=100_000, record_every=100)
DEMO_QUICK = dict(DEMO, m=30, n=30, rank=2, n_obs=[300], sweep_n_obs=300, max_steps=20_000, record_every=50)
COLUMNS = ["method", "steps", "success", "MSE error", "rel. error", "erank", "wall time (s)"]


def run_demo(seed=0, quick=False, progress=True, jobs=2, **overrides):
    """Run the demo and return ``{"params": ..., "rows": [...], "traces": {...}}``.

    The depths run as independent X1 tasks on ``jobs`` processes (one BLAS thread each).
    ``quick`` shrinks the problem (30 x 30, rank 2, 300 observations) for tests; ``overrides``
    replace keys of X1's configuration.
    """
    seed = check_seed(seed)
    jobs = check_int(jobs, "jobs", minimum=1)
    results = X1.run(dict(DEMO_QUICK if quick else DEMO, **overrides), quick=False, seed=seed, jobs=jobs,
                     progress=progress)
    rows = [dict(r) for r in results["rows"]]
    traces = {r["method"]: {k: np.asarray(v) for k, v in r.pop("trace").items()} for r in rows}
    params = dict(results["params"], seed=seed, optimizer="adaptive (E19)", reduction="mean", init="gaussian")
    return dict(params=params, rows=rows, traces=traces)


def table(rows):
    """The demo rows as a plain-text table."""
    return format_table(COLUMNS, [[r["method"], r["steps"], r["success"], r["reconstruction_error"], r["rel_error"],
                                   r["effective_rank"], r["wall_time"]] for r in rows])


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
    ax.bar([r["method"] for r in rows], [r["reconstruction_error"] for r in rows], color="tab:blue")
    ax.set_yscale("log")
    ax.set_title("reconstruction error")
    ax.set_ylabel("MSE over all entries")
    p = results["params"]
    fig.suptitle(f"{p['m']}x{p['n']} rank-{p['rank']} completion, {p['n_obs'][0]} observations, "
                 f"init {p['init_scale']:g}, {p['optimizer']}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def main(out="dmf-edu-demo", seed=0, quick=False, jobs=2):
    """Run, print the table, save ``out/demo.png`` and ``out/demo.json``; return the results."""
    t0 = time.perf_counter()
    results = run_demo(seed=seed, quick=quick, jobs=jobs)
    print(table(results["rows"]))
    png = os.path.join(out, "demo.png")
    plot_demo(results, png)
    side = dict(experiment="demo (X1/X2 in small form)", seed=seed, quick=quick, jobs=jobs,
                params=results["params"], versions=library_versions(),
                wall_time=time.perf_counter() - t0, rows=results["rows"], traces=results["traces"])
    write_json(os.path.join(out, "demo.json"), side)
    print(f"saved {png} and {os.path.join(out, 'demo.json')}")
    return results
