"""X7 — saddle-escape stages equal the rank (Cao et al., arXiv 2212.14150; E17, E10).

Fully observed rank-R targets (R = 1..5, separated singular values ``s_k = 2^{R-k}``) at
depths 2, 3, 4 from small balanced init, plain GD.  The stage detector counts plateaus of
the loss followed by one more singular value leaving the floor; at each plateau the Hessian of
``phi`` (hand-written Hessian-vector products, Lanczos) has a negative eigenvalue, and the end
point is second-order stationary.  A second part ties escape times to E10 (identity init,
commuting target): measured GD times against the exact closed form, and ``lambda_min`` at
the init against ``-(N-1) s_1 alpha^{N-2}``.
"""

from __future__ import annotations

import sys

import numpy as np

from .._io import _jsonable
from ._common import run_experiment

ID = "X7"
TITLE = "rank R = 1..5 targets, depths 2-4: saddle-escape stages == R; Hessian signatures (E17)"

FULL = dict(ranks=[1, 2, 3, 4, 5], depths=[2, 3, 4], size=6, escape_alphas=[0.3, 0.2, 0.1])
QUICK = dict(FULL, ranks=[1, 2], depths=[2, 3], size=4, escape_alphas=[0.3, 0.2])


def run_task(task):
    from ..saddles_experiment import x7_escape_times, x7_run

    c = task["config"]
    if task["part"] == "stages":
        r = x7_run(task["rank"], task["depth"], size=c["size"], seed=task["seed"])
        row = dict(part="stages", rank=r["rank"], depth=r["depth"], stages=r["n_stages"],
                   init_scale=r["init_scale"], lr=r["lr"], steps=r["steps"], escape_steps=r["escape_steps"],
                   plateau_steps=r["plateau_steps"], plateau_lambda_min=r["plateau_lambda_min"],
                   plateau_loss=r["plateau_loss"], end_kind=r["end"]["kind"],
                   end_lambda_min=r["end"].get("lambda_min"), final_loss=r["final_loss"],
                   target_singular_values=r["s"],
                   trace=dict(step=r["history"]["step"], loss=r["history"]["loss"],
                              singular_values=r["history"]["singular_values"]))
        return _jsonable([row])
    rows = x7_escape_times(alphas=c["escape_alphas"], depths=c["depths"], seed=task["seed"])
    return _jsonable([dict(part="escape", **r) for r in rows])


def tasks(config, seed, quick=False):
    out = [dict(key=f"stages_R={R}_N={N}", part="stages", rank=R, depth=N, seed=seed, config=config)
           for N in config["depths"] for R in config["ranks"]]
    out.append(dict(key="escape", part="escape", seed=seed, config=config))
    return out


def collect(rows, config):
    return dict(params=config, optimizer="plain gradient descent", rows=rows)


def headline(results):
    stages = {(r["depth"], r["rank"]): r["stages"] for r in results["rows"] if r["part"] == "stages"}
    ranks = results["params"]["ranks"]
    return (["stages; rank R"] + ranks, [[f"depth {N}"] + [stages.get((N, R)) for R in ranks]
                                         for N in results["params"]["depths"]])


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def plot(results, path):
    import matplotlib.pyplot as plt

    from .._io import save_figure

    rows, config = results["rows"], results["params"]
    stages = [r for r in rows if r["part"] == "stages"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    for k, N in enumerate(config["depths"]):
        pts = [r for r in stages if r["depth"] == N]
        ax.plot([r["rank"] for r in pts], [r["stages"] for r in pts], "o-", color=f"C{k}",
                label=f"depth {N}", ms=8 - 2 * k)
    ax.plot(config["ranks"], config["ranks"], "k:", lw=0.8, label="stages = R")
    ax.set_xlabel("rank R of the target")
    ax.set_ylabel("detected saddle-escape stages")
    ax.legend(fontsize=7)
    ax.set_title("stages vs rank", fontsize=9)
    show = max(config["ranks"])
    ax = axes[1]
    for k, N in enumerate(config["depths"]):
        r = next(r for r in stages if r["depth"] == N and r["rank"] == show)
        tr = r["trace"]
        ax.semilogy(np.asarray(tr["step"]) / max(tr["step"]), tr["loss"], color=f"C{k}", label=f"depth {N}")
    ax.set_xlabel("iteration / total")
    ax.set_ylabel("loss")
    ax.set_title(f"rank-{show} target: plateaus of the loss", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    for k, N in enumerate(config["depths"]):
        for r in (r for r in stages if r["depth"] == N):
            lam = np.abs(np.asarray(r["plateau_lambda_min"], float))
            ax.semilogy([r["rank"]] * len(lam), lam, "o", color=f"C{k}", ms=4,
                        label=f"depth {N}" if r["rank"] == config["ranks"][0] else None)
    ax.set_xlabel("rank R of the target")
    ax.set_ylabel("-lambda_min of the Hessian")
    ax.set_title("negative curvature at every plateau (lambda_min < 0)", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle("X7: saddle-escape stages of deep factorizations (plain GD, balanced small init)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
