"""X6 — finite versus infinite depth (Cohen, Menon, Veraszto, arXiv 2210.12497; E3-E5, E15, E16).

End-to-end flows of depths 2, 3, 4, 8, 32 and infinity in the rescaled time ``tau = N t`` from
one small init, on three small completions (2x2 with the diagonal observed; the E12
problem; a random rank-1 5x5).  Depths are compared at equal loss: the depth-N solution
approaches the N = infinity one, the effective rank falls with depth, and the volume (E15)
and fibre entropy (E16) are recorded along the trajectories.
"""

from __future__ import annotations

import sys

import numpy as np

from .._io import _jsonable
from ._common import run_experiment

ID = "X6"
TITLE = "finite vs infinite depth flows on small completions: convergence to N = inf, rank, volume"

FULL = dict(depths=["2", "3", "4", "8", "32", "inf"], init_scale=1e-2)
QUICK = dict(FULL, depths=["2", "4", "inf"])


def _depth(x):
    return np.inf if str(x) == "inf" else int(x)


def run_task(task):
    from ..saddles_experiment import x6_depth_limit

    c = task["config"]
    out = x6_depth_limit(depths=[_depth(x) for x in c["depths"]], init_scale=c["init_scale"],
                         quick=task["quick"], seed=task["seed"])
    rows = []
    for name, res in out.items():
        for i, N in enumerate(res["depths"]):
            label = "inf" if N == np.inf else str(int(N))
            rows.append(dict(problem=name, depth=label, final_loss=res["final_loss"][i],
                             final_effective_rank=res["final_erank"][i], stop_time=res["stop_time"][i],
                             distance_to_inf=res["distance_to_inf"][i], final_W=res["final_W"][i],
                             trace=dict(t=res["t"][i], loss=res["loss"][i],
                                        effective_rank=res["effective_rank"][i],
                                        log_volume=res["log_volume"][i], entropy=res["entropy"][i])))
    return _jsonable(rows)


def tasks(config, seed, quick=False):
    return [dict(key="all", config=config, quick=quick, seed=seed)]


def collect(rows, config):
    return dict(params=config, optimizer="gradient flow (scipy solve_ivp, LSODA), rescaled time", rows=rows)


def headline(results):
    rows = results["rows"]
    depths = [d for d in results["params"]["depths"] if d != "inf"]
    dist = {(r["problem"], r["depth"]): r["distance_to_inf"] for r in rows}
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    return (["distance to N=inf; N"] + depths, [[p] + [dist.get((p, d)) for d in depths] for p in problems])


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def plot(results, path):
    import matplotlib.pyplot as plt

    from .._io import save_figure

    rows = results["rows"]
    names = list(dict.fromkeys(r["problem"] for r in rows))
    fig, axes = plt.subplots(3, len(names), figsize=(4.5 * len(names), 9.5), squeeze=False)
    for j, name in enumerate(names):
        pts = [r for r in rows if r["problem"] == name]
        finite = [r for r in pts if r["depth"] != "inf"]
        ax = axes[0, j]
        depths = [float(r["depth"]) for r in finite]
        ax.loglog(depths, [max(r["distance_to_inf"], 1e-16) for r in finite], "o-")
        ax.set_xticks(depths, [r["depth"] for r in finite])
        ax.minorticks_off()
        ax.set_xlabel("depth N")
        ax.set_ylabel("distance of W_N to W_inf (relative)")
        ranks = ", ".join(f"{r['depth']}: {r['final_effective_rank']:.2f}" for r in pts)
        ax.set_title(f"{name}\neffective rank  {ranks}", fontsize=8)
        for ax, key, label in ((axes[1, j], "effective_rank", "effective rank of W"),
                               (axes[2, j], "entropy", "fibre entropy S_N (E16)")):
            for k, r in enumerate(pts):
                t = np.asarray(r["trace"]["t"], float)
                keep = t > 0
                ax.semilogx(t[keep], np.asarray(r["trace"][key], float)[keep], color=f"C{k}",
                            label=f"N={r['depth']}")
            ax.set_xlabel("rescaled time tau = N t")
            ax.set_ylabel(label)
        axes[1, j].legend(fontsize=7)
    fig.suptitle("X6: end-to-end flows (E3/E5), depths compared at equal loss", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
