"""X4 — commuting (diagonal) sensing: every depth approaches the minimum nuclear norm solution (E9).

Diagonal measurements ``A_k = diag(a_k)`` of ``M = diag(1, 1, 0, 0)`` chosen so that the minimum
nuclear norm solution, ``diag(0, 0, 0, 1)``, is far from ``M``; plain GD at depths 2, 3, 4
from ``W_j(0) = alpha^{1/N} I``.  As ``alpha -> 0`` the distance of the GD solution to the minimum
nuclear norm solution (from the ADMM solver, checked against ``scipy.optimize.linprog``)
shrinks at every depth, while its distance to ``M`` does not (arXiv 1905.13655 / 1705.09280).
"""

from __future__ import annotations

import sys

import numpy as np

from .._io import _jsonable
from ._common import run_experiment

ID = "X4"
TITLE = "commuting sensing: GD at every depth -> minimum nuclear norm solution as alpha -> 0 (E9)"

FULL = dict(depths=[2, 3, 4], alphas=[1e-1, 1e-2, 1e-3, 1e-4], max_steps=200_000)
QUICK = dict(FULL, alphas=[1e-1, 1e-2, 1e-3], max_steps=60_000)


def run_task(task):
    from ..counterexamples import x4_commuting_sensing

    c = task["config"]
    out = x4_commuting_sensing(depths=c["depths"], alphas=c["alphas"], max_steps=c["max_steps"])
    truth = np.asarray(out["truth"])
    rows = []
    for N, r in out["runs"].items():
        for i, alpha in enumerate(r["alphas"]):
            W = r["W"][i]
            rows.append(dict(depth=int(N), alpha=float(alpha), distance_to_min_nuclear=float(r["distance"][i]),
                             distance_to_truth=float(np.linalg.norm(W - truth) / np.linalg.norm(truth)),
                             loss=float(r["loss"][i]), converged=bool(r["converged"][i]),
                             steps=int(r["steps"][i]), lr=float(r["lr"]), W_diagonal=np.diag(W).tolist()))
    info = dict(min_nuclear_admm=out["min_trace"], min_nuclear_linprog=out["linprog_psd"],
                min_nuclear_free_admm=out["min_nuclear"], min_nuclear_free_linprog=out["linprog_free"],
                solver_status=out["solver_status"], truth_diagonal=np.diag(truth), A_diagonals=out["A_diag"],
                y=out["y"])
    return _jsonable([dict(rows=rows, info=info)])


def tasks(config, seed, quick=False):
    """One task; ``seed`` is unused: the instance is fixed and GD deterministic."""
    return [dict(key="all", config=config)]


def collect(rows, config):
    (out,) = rows
    return dict(params=config, optimizer="plain gradient descent", rows=out["rows"], solution=out["info"])


def headline(results):
    alphas = sorted({r["alpha"] for r in results["rows"]}, reverse=True)
    dist = {(r["depth"], r["alpha"]): r["distance_to_min_nuclear"] for r in results["rows"]}
    return (["to min nuclear; alpha"] + [f"{a:g}" for a in alphas],
            [[f"depth {N}"] + [dist.get((N, a)) for a in alphas] for N in results["params"]["depths"]])


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def plot(results, path):
    import matplotlib.pyplot as plt

    from .._io import save_figure

    rows = results["rows"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for k, N in enumerate(results["params"]["depths"]):
        pts = [r for r in rows if r["depth"] == N]
        ax.loglog([r["alpha"] for r in pts], [r["distance_to_min_nuclear"] for r in pts], "o-", color=f"C{k}",
                  label=f"depth {N}: to min nuclear norm")
        ax.loglog([r["alpha"] for r in pts], [r["distance_to_truth"] for r in pts], "x:", color=f"C{k}",
                  label=f"depth {N}: to ground truth")
    ax.invert_xaxis()
    ax.set_xlabel("init scale alpha (W(0) = alpha I)")
    ax.set_ylabel("relative Frobenius distance")
    ax.set_title("X4: diagonal sensing, plain GD (E9)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
