"""X8 — plateau (escape) times of one mode and of a diagonal problem (E10, E11; THEORY.md §3, §8).

Part "escape": a 1x1 factorization ``W = w_N ... w_1`` fitting ``s = 1`` (loss ``1/2 (W - s)^2``)
from the balanced init ``w_j = alpha``, plain GD with a small step; the escape time is the
first time ``W >= s/2`` (a trial stops updating when ``loss <= s^2/8``, so its step count is
the escape step).  Compared with the exact E10 time and its asymptote
``1/((N-2) s alpha^{N-2})`` (``log(1/alpha)/s`` at N = 2); the log-log slope of the GD times
against the three smallest alphas is close to ``-(N-2)`` for N >= 3.

Part "diagonal": ``1/2 ||W_N ... W_1 - diag(s)||_F^2`` (all entries observed) from
``W_j = alpha I``: by E11 each diagonal entry follows its own one-mode flow, so the modes
are learned one after another, at times in the ratio ``s_1/s_i`` for N >= 3 as alpha -> 0.
GD trajectories are compared with the E10 closed form.
"""

from __future__ import annotations

import numpy as np

from .. import _io
from ..dynamics import escape_time, escape_time_asymptotic, scalar_trajectory
from ..factorization import init_weights
from ..problems import MatrixCompletion
from ..training.loop import gradient_descent
from .protocol import Experiment
from .tables import thin

ID = "X8"
TITLE = "plateau times follow alpha^-(N-2); GD matches the E10 closed form"

FULL = dict(depths=[2, 3, 4], s=1.0, alphas=[0.3, 0.2, 0.1, 0.07, 0.05, 0.03], lr=2e-3,
            targets=[4.0, 2.0, 1.0], diag_alpha=0.05, diag_lr=1e-3, record_every=20)
QUICK = dict(FULL, alphas=[0.3, 0.2, 0.1, 0.07], lr=1e-2, diag_alpha=0.1, diag_lr=5e-3, record_every=10)


def _escape_task(task):
    config, N = task["config"], task["depth"]
    s, lr = config["s"], config["lr"]
    alphas = np.asarray(config["alphas"], float)
    weights = [w[:, None, None] * np.ones((len(alphas), 1, 1))
               for w in [alphas] * N]                          # balanced: every factor = alpha
    problem = MatrixCompletion((1, 1), [0], [0], [s])
    t_exact = escape_time(s, alphas, N)
    max_steps = int(1.2 * np.max(t_exact) / lr) + 10
    run = gradient_descent(problem, weights, lr=lr, max_steps=max_steps, loss_tol=s * s / 8,
                           record_steps=[])
    return [dict(part="escape", depth=N, alpha=float(a), t_gd=float(k * lr), t_closed=float(te),
                 t_asymptotic=float(ta), success=bool(c))
            for a, k, te, ta, c in zip(alphas, run.nit, t_exact,
                                       escape_time_asymptotic(s, alphas, N), run.success)]


def _diagonal_task(task):
    config, N = task["config"], task["depth"]
    targets = np.sort(np.asarray(config["targets"], float))[::-1]
    d = targets.size
    rows, cols = np.divmod(np.arange(d * d), d)
    problem = MatrixCompletion((d, d), rows, cols, np.diag(targets).ravel())
    alpha, lr = config["diag_alpha"], config["diag_lr"]
    a0 = alpha ** N
    t_end = 1.5 * float(np.max(escape_time(targets, alpha, N)))
    run = gradient_descent(problem, init_weights((d, d), N, a0, kind="identity"), lr=lr,
                           max_steps=int(t_end / lr), record_every=config["record_every"], n_singular=d)
    t = run.history["step"] * lr
    # W stays diagonal with positive entries (E11), so its singular values, in descending
    # order, are the modes in the order of the targets (sorted descending)
    sv = run.history["singular_values"]
    out = []
    for i, s in enumerate(targets):
        closed = scalar_trajectory(t, s, a0, N)
        out += [dict(part="diagonal", depth=N, mode=float(s), t=float(ti), a_gd=float(g), a_closed=float(c))
                for ti, g, c in zip(t, sv[:, i], closed)]
    return out


def run_task(task):
    return _escape_task(task) if task["part"] == "escape" else _diagonal_task(task)


def tasks(config, seed):
    """No random draw: the E10 comparison needs the exact balanced (one mode) and identity
    (diagonal) inits, so ``seed`` only names the cache folder and is recorded in the sidecar."""
    return [dict(key=f"{part}-depth-{N}", part=part, depth=N, config=config)
            for part in ("escape", "diagonal") for N in config["depths"]]


def collect(rows, config):
    summary = summarize(rows, config)                       # from every recorded step
    rows = thin(rows, lambda r: (r["depth"], r["mode"]) if r["part"] == "diagonal" else None, 600)
    return dict(params=config, optimizer="plain gradient descent", rows=rows, summary=summary)


def headline(results):
    return (["depth", "log-log slope", "expected", "max gap GD vs E10"],
            [[s["depth"], s["loglog_slope"], s["expected_slope"], s["max_rel_gap_gd_vs_closed"]]
             for s in results["summary"]])


def summarize(rows, config):
    out = []
    for N in config["depths"]:
        esc = [r for r in rows if r["part"] == "escape" and r["depth"] == N]
        alpha = np.array([r["alpha"] for r in esc])
        t_gd = np.array([r["t_gd"] for r in esc])
        t_cl = np.array([r["t_closed"] for r in esc])
        small = np.argsort(alpha)[:3]                 # the asymptotic law holds as alpha -> 0
        slope = float(np.polyfit(np.log(alpha[small]), np.log(t_gd[small]), 1)[0])
        diag = [r for r in rows if r["part"] == "diagonal" and r["depth"] == N]
        cross = []
        for s in config["targets"]:
            tr = [r for r in diag if r["mode"] == s]
            cross.append(next((r["t"] for r in tr if r["a_gd"] >= s / 2), None))
        gap = max(abs(r["a_gd"] - r["a_closed"]) / r["mode"] for r in diag)
        out.append(dict(depth=N, loglog_slope=slope, expected_slope=-(N - 2) if N >= 3 else None,
                        max_rel_gap_gd_vs_closed=float(np.max(np.abs(t_gd - t_cl) / t_cl)),
                        diagonal_half_times=cross,
                        diagonal_max_gap=float(gap)))
    return out


def plot(results, path):
    import matplotlib.pyplot as plt

    rows, config = results["rows"], results["params"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, N in enumerate(config["depths"]):
        esc = [r for r in rows if r["part"] == "escape" and r["depth"] == N]
        a = [r["alpha"] for r in esc]
        color = f"C{k}"
        ax.loglog(a, [r["t_gd"] for r in esc], "o", color=color, label=f"N={N}: GD")
        ax.loglog(a, [r["t_closed"] for r in esc], "-", color=color, label=f"N={N}: E10 exact")
        ax.loglog(a, [r["t_asymptotic"] for r in esc], ":", color=color)
    ax.set_xticks(config["alphas"], [f"{a:g}" for a in config["alphas"]])
    ax.minorticks_off()
    ax.set_xlabel("init scale alpha (per factor)")
    ax.set_ylabel("escape time (W reaches s/2)")
    ax.set_title("one mode: dots GD, lines E10, dotted asymptote", fontsize=9)
    ax.legend(fontsize=7)
    N = 3 if 3 in config["depths"] else config["depths"][-1]
    diag = [r for r in rows if r["part"] == "diagonal" and r["depth"] == N]
    for k, s in enumerate(config["targets"]):
        tr = [r for r in diag if r["mode"] == s]
        ax2.plot([r["t"] for r in tr], [r["a_gd"] for r in tr], "-", color=f"C{k}", label=f"s={s:g}: GD")
        ax2.plot([r["t"] for r in tr], [r["a_closed"] for r in tr], "--", color="k", lw=0.8)
    ax2.set_xlabel("time t = step x lr")
    ax2.set_ylabel("singular value of W")
    ax2.set_title(f"diagonal target, depth {N}, alpha {config['diag_alpha']:g} (dashed: E10)", fontsize=9)
    ax2.legend(fontsize=7)
    fig.suptitle("X8: plateaus of deep factorizations (plain GD)", fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
