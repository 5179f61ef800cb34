"""X5 — the 2x2 problem of E12 where every norm fails (Razin & Cohen, arXiv 2005.06398).

Observed ``W_12 = W_21 = 1``, ``W_22 = 0``.  Plain GD at depths 3 and 4 from balanced init with
``det W(0) > 0``: as the loss falls, ``|W_11|`` and every Schatten (quasi-)norm grow without
bound, ``|W_11| sqrt(2 loss) -> 1``, ``det`` stays positive and the effective rank tends to 1,
while Schatten-p minimization (p = 0.1, 0.5, 1, 2) returns ``W_11 ~ 0``.  Also recorded: the
perturbed variant ``W_22 = epsilon`` (GD approaches the rank-one completion ``W_11 = +1/epsilon``)
and when discrete GD breaks the sign of ``det`` (depth 2, large steps).
"""

from __future__ import annotations

import sys

import numpy as np

from .._io import _jsonable
from ._common import run_experiment, thin

ID = "X5"
TITLE = "E12 2x2 completion: |W11| and all norms grow as loss -> 0; Schatten minimizers stay at 0"

# Plain GD is stable only while lr < 2 / a_N(W11, W11) = 2 / (N |W11|^{2-2/N}) (E4): reaching
# loss 1e-4 (|W11| ~ 71) needs lr below ~8e-4 at depth 4, while lr 1e-2 already oscillates
# past loss ~1e-3 (|W11| ~ 22), which is where the quick mode stops.
FULL = dict(depths=[3, 4], lr=5e-4, init_scale=1e-2, loss_tol=1e-4, seeds=3, epsilon=0.1)
QUICK = dict(FULL, lr=1e-2, loss_tol=1e-3, seeds=1)


def run_task(task):
    from ..counterexamples import x5_razin_cohen

    c = task["config"]
    out = x5_razin_cohen(depths=c["depths"], lr=c["lr"], init_scale=c["init_scale"], loss_tol=c["loss_tol"],
                         seeds=c["seeds"], epsilon=c["epsilon"], seed=task["seed"], quick=task["quick"])
    rows = []
    for N, tr in out["trajectories"].items():
        for t, step in enumerate(tr["step"]):
            for s in range(np.shape(tr["loss"])[1]):
                rows.append(dict(depth=int(N), step=int(step), seed_index=s, loss=float(tr["loss"][t, s]),
                                 abs_w11=float(tr["abs_w11"][t, s]), det=float(tr["det"][t, s]),
                                 w11_times_sqrt_2loss=float(tr["w11_times_sqrt_2loss"][t, s]),
                                 effective_rank=float(tr["effective_rank"][t, s]),
                                 **{f"schatten_{p}": float(v[t, s]) for p, v in tr["schatten"].items()}))
    extra = dict(schatten_minimizers_w11=out["schatten_minimizers"],
                 schatten_minimizers_w11_from_3=out["schatten_minimizers_from_w11_3"],
                 perturbed=out["perturbed"], sign_pitfall=out["sign_pitfall"],
                 min_det={int(N): tr["min_det"] for N, tr in out["trajectories"].items()})
    return _jsonable([dict(rows=rows, extra=extra)])


def tasks(config, seed, quick=False):
    return [dict(key="all", config=config, seed=seed, quick=quick)]


def collect(rows, config):
    (out,) = rows
    rows = thin(out["rows"], lambda r: (r["depth"], r["seed_index"]), 300, spacing="geometric")
    return dict(params=config, optimizer="plain gradient descent", rows=rows, **out["extra"])


def headline(results):
    out = []
    for N in results["params"]["depths"]:
        last = [r for r in results["rows"] if r["depth"] == N and r["seed_index"] == 0][-1]
        out.append([f"depth {N}", last["loss"], last["abs_w11"], last["w11_times_sqrt_2loss"], last["effective_rank"]])
    return ["seed 0, last step", "loss", "|W11|", "|W11|sqrt(2 loss)", "eff. rank"], out


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def plot(results, path):
    import matplotlib.pyplot as plt

    from .._io import save_figure

    rows = results["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for k, N in enumerate(results["params"]["depths"]):
        pts = [r for r in rows if r["depth"] == N and r["seed_index"] == 0]
        loss = [r["loss"] for r in pts]
        axes[0].loglog(loss, [r["abs_w11"] for r in pts], "-", color=f"C{k}", label=f"depth {N}: |W11|")
        axes[0].loglog(loss, [r["schatten_1.0"] for r in pts], "--", color=f"C{k}", label=f"depth {N}: nuclear")
        axes[0].loglog(loss, [r["schatten_0.5"] for r in pts], ":", color=f"C{k}", label=f"depth {N}: Schatten-1/2")
        axes[1].semilogx(loss, [r["w11_times_sqrt_2loss"] for r in pts], "-", color=f"C{k}", label=f"depth {N}")
        axes[2].semilogx(loss, [r["effective_rank"] for r in pts], "-", color=f"C{k}", label=f"depth {N}")
    for ax in axes:
        ax.invert_xaxis()
        ax.set_xlabel("loss (decreasing ->)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("|W11| and norms of W")
    axes[1].set_ylabel("|W11| * sqrt(2 loss)")
    axes[1].axhline(1.0, color="k", lw=0.6)
    axes[2].set_ylabel("effective rank")
    mins = ", ".join(f"{w:.0e} (p={p})" for p, w in results["schatten_minimizers_w11"].items())
    fig.suptitle(f"X5: E12 problem, plain GD lr {results['params']['lr']:g}; W11 of the Schatten-p minimizers: {mins}",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
