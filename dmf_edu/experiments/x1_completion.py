"""X1 — matrix completion, depth versus nuclear norm (arXiv 1905.13655, THEORY.md §8).

100x100 rank-5 ground truth (||M||_F = 100), |Omega| from 1000 to 5000, depths 1-4 trained
from Gaussian init 1e-3 with the E19 optimizer to train MSE 1e-6, against nuclear-norm
minimization with |X_ij - M_ij| <= 1e-3 on Omega; plus depth 2 at 2000 observations for
init scales 1e-3 ... 1e-6.  What it shows: depth >= 3 recovers with fewer observations
than depth 2 and the nuclear norm; the depth-2 error falls as the init shrinks; with
enough observations every method succeeds.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import _io
from .._validate import check_int, check_seed
from ..baselines.nuclear_norm import nuclear_norm_minimization
from ..baselines.schatten import schatten_minimization
from ..factorization import init_weights
from ..metrics import effective_rank, reconstruction_error
from ..problems import sample_completion
from ..targets import random_low_rank
from ..training.loop import gradient_descent
from .recovery import (E19, E19_SHORT, child_rng, max_count, recovery_problem, result_row, run_experiment, train_runs)

ID = "X1"
TITLE = "completion 100x100 rank 5: error vs observations, depths 1-4 vs nuclear norm"

FULL = dict(problem="completion", m=100, n=100, rank=5, n_obs=[1000, 1500, 2000, 2500, 3000, 4000, 5000],
            depths=[1, 2, 3, 4], trials=3, init_scale=1e-3, nuclear=True, eps=1e-3,
            sweep_n_obs=2000, sweep_depth=2, sweep_scales=[1e-3, 1e-4, 1e-5, 1e-6],
            lr=1e-3, loss_tol=1e-6, max_steps=300_000, lockstep=False)
QUICK = dict(FULL, m=30, n=30, rank=2, n_obs=[150, 300], depths=[1, 2, 3], trials=1,
             sweep_n_obs=300, sweep_scales=[1e-3, 1e-5], max_steps=40_000)


def _runs(config):
    """``(n_obs, depth, init_scale)`` of every factorization run of one trial."""
    runs = [(k, depth, config["init_scale"]) for k in config["n_obs"] for depth in config["depths"]]
    runs += [(config["sweep_n_obs"], config["sweep_depth"], scale) for scale in config["sweep_scales"]]
    return list(dict.fromkeys(runs))                       # the sweep point may be in the main grid


def tasks(config, seed, quick=False):
    """One task per run, or with ``config["lockstep"]`` one per (trial, n_obs) holding every run
    that shares those measurements (trained together: :mod:`dmf_edu.training.lockstep`), or with
    ``config["nested"]`` too one per trial holding every run (the counts are nested prefixes of
    one draw); plus the nuclear norm per (trial, n_obs)."""
    out = []
    for trial in range(config["trials"]):           # trial by trial, the costly counts first: an
        runs = _runs(config)                         # interrupted sweep holds whole trials
        if config.get("nested"):
            out.append(dict(key=f"nested_{len(runs)}-runs_trial={trial}", kind="dmf", n_obs=max_count(config),
                            runs=[list(r) for r in runs], trial=trial, seed=seed, config=config))
        for k in sorted(config["n_obs"], reverse=True):
            for group in _groups([[k, d, s] for kk, d, s in runs if kk == k], config):
                name = "depths-" + "-".join(str(d) for d in dict.fromkeys(d for _, d, _ in group)) \
                    if len(group) > 1 else f"depth-{group[0][1]}_init={group[0][2]:g}"
                out.append(dict(key=f"nobs={k}_{name}_trial={trial}", kind="dmf", n_obs=k, runs=group,
                                trial=trial, seed=seed, config=config))
            if config["nuclear"]:
                out.append(dict(key=f"nobs={k}_nuclear_trial={trial}", kind="nuclear", n_obs=k,
                                trial=trial, seed=seed, config=config))
    return out


def _groups(here, config):
    """The training tasks of one count's runs ``here``: none (nested: the trial's task has them),
    one lockstep group, or one task per run."""
    if config.get("nested"):
        return []
    return [here] if config.get("lockstep") else [[r] for r in here]


def run_task(task):
    config = task["config"]
    problem = recovery_problem(config, task["seed"], task["trial"], task["n_obs"])
    common = dict(n_obs=task["n_obs"], seed=task["seed"], trial=task["trial"])
    if task["kind"] == "nuclear":
        res = nuclear_norm_minimization(problem, eps=config["eps"])
        return [result_row(res.X, problem.truth, method="nuclear", depth=None, init_scale=None,
                           status=str(getattr(res, "status", "")), **common)]
    inits = []
    for k, depth, scale in task["runs"]:
        rng = child_rng(task["seed"], task["trial"], 2, k, depth, round(-np.log10(scale) * 100))
        inits.append(init_weights(problem.shape, depth, scale, rng=rng))
    counts = [k for k, _, _ in task["runs"]] if config.get("nested") else None
    runs, seconds = train_runs(problem, inits, config, counts=counts)
    return [result_row(run.W, problem.truth, method=f"depth-{depth}", depth=depth, init_scale=scale,
                       steps=int(run.steps), converged=bool(run.converged), seconds=seconds,
                       lockstep=len(runs), **dict(common, n_obs=k))
            for (k, depth, scale), run in zip(task["runs"], runs)]


def run(config=None, quick=False, seed=0, jobs=1, cache_dir=None, progress=True, executor=None):
    return run_experiment(sys.modules[__name__], config, quick, seed, jobs=jobs, cache_dir=cache_dir,
                          progress=progress, executor=executor)


def collect(rows, config, experiment=ID):
    """The results dict (rows, summary) of X1, or of X3 (``experiment="X3"``)."""
    return dict(experiment=experiment, params=config, optimizer=E19, rows=rows, summary=summarize(rows, config))


def headline(results):
    """Median error per method (rows) and count (columns), main init scale."""
    table = results["summary"]["median_error"]
    counts = list(dict.fromkeys(r["n_obs"] for r in table))
    methods = list(dict.fromkeys(r["method"] for r in table))
    value = {(r["method"], r["n_obs"]): r["median_error"] for r in table}
    return (["median error"] + [str(k) for k in counts],
            [[m] + [value[m, k] for k in counts] for m in methods])


def summarize(rows, config):
    """Median error per (method, n_obs) at the main init scale, and the depth-2 init sweep."""
    def median(method, k, scale=config["init_scale"]):
        vals = [r["error"] for r in rows if r["method"] == method and r["n_obs"] == k
                and (r["init_scale"] in (None, scale))]
        return float(np.median(vals)) if vals else None

    methods = [f"depth-{d}" for d in config["depths"]] + (["nuclear"] if config["nuclear"] else [])
    table = [dict(method=m, n_obs=k, median_error=median(m, k)) for m in methods for k in config["n_obs"]]
    sweep = [dict(init_scale=s, median_error=median(f"depth-{config['sweep_depth']}", config["sweep_n_obs"], s))
             for s in config["sweep_scales"]]
    return dict(median_error=table, depth2_init_sweep=sweep)


def plot(results, path):
    import matplotlib.pyplot as plt

    config, summary = results["params"], results["summary"]
    sweep = summary["depth2_init_sweep"]
    fig, axes = plt.subplots(1, 2 if len(sweep) > 1 else 1, figsize=(10 if len(sweep) > 1 else 5.5, 3.8),
                             squeeze=False)
    ax = axes[0, 0]
    methods = sorted({r["method"] for r in summary["median_error"]},
                     key=lambda m: (m == "nuclear", m))
    for method in methods:
        pts = [(r["n_obs"], r["median_error"]) for r in summary["median_error"] if r["method"] == method]
        ks, errs = zip(*pts)
        color = "C4" if method == "nuclear" else f"C{int(method.split('-')[1]) - 1}"   # same in X1 and X3
        ax.semilogy(ks, np.maximum(errs, 1e-12), "o-" if method != "nuclear" else "s--", color=color, label=method)
    what = "measurements" if config.get("problem") == "sensing" else "observed entries"
    ax.set_xlabel(f"number of {what}")
    ax.set_ylabel("reconstruction error (MSE over entries)")
    ax.set_title(f"{config['problem']}, init {config['init_scale']:g}, median of {config['trials']} trial(s)", fontsize=9)
    ax.legend(fontsize=8)
    if len(sweep) > 1:
        _plot_init_sweep(axes[0, 1], sweep, config, what)
    fig.suptitle(f"{results.get('experiment', ID)}: {config['m']}x{config['n']} rank-{config['rank']} "
                 f"{config['problem']} ({E19_SHORT})", fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


def _plot_init_sweep(ax2, sweep, config, what):
    ax2.loglog([s["init_scale"] for s in sweep], [s["median_error"] for s in sweep], "o-", color="tab:orange")
    ax2.invert_xaxis()
    ax2.set_xlabel("init scale")
    ax2.set_ylabel("reconstruction error (MSE over entries)")
    ax2.set_title(f"depth {config['sweep_depth']}, {config['sweep_n_obs']} {what}", fontsize=9)


# --------------------------------------------------------------------------- deep factorization vs Schatten-2/N

def schatten_vs_depth(size=100, rank=5, n_obs=2000, depths=(2, 3), init_scale=1e-3, lr=1e-3,
                      max_steps=100_000, train_tol=1e-6, nuclear_eps=1e-3, seed=0, quick=False):
    r"""X1 regime: deep factorization vs nuclear norm vs Schatten-``2/N`` minimization.

    Parameters
    ----------
    size, rank, n_obs : ints
        ``size x size`` ground truth of rank ``rank`` (:func:`~dmf_edu.random_low_rank`,
        RMS entry 1), ``n_obs`` observed entries.
    depths : ints >= 2
    init_scale, lr, max_steps, train_tol :
        E19 adaptive optimizer on the mean loss (the reference code's setting), Gaussian init of
        end-to-end scale ``init_scale``, stopped at train MSE ``train_tol``.
    nuclear_eps : float
        Tolerance of the nuclear-norm baseline (1e-3 in the reference code).
    seed : int
    quick : bool
        30 x 30, rank 2, 300 observations.

    Returns
    -------
    dict
        ``rows``: list of dicts with ``method`` ("gd", "schatten", "nuclear"), ``depth`` (None for
        nuclear), ``p`` (``2/N`` for Schatten, 1 for nuclear), ``reconstruction_error`` (MSE over
        entries), ``effective_rank``, ``status``/``converged``; plus the settings.

    Notes
    -----
    E9's consequence (arXiv 1905.13655): no single Schatten-p quasi-norm (``p = 2/N`` the natural
    guess) describes depth-``N`` factorization; with few observations the three solutions differ
    in error and effective rank.
    """
    if quick:
        size, rank, n_obs, max_steps = 30, 2, 300, min(max_steps, 40_000)
    ss = np.random.SeedSequence(check_seed(seed)).spawn(3)
    M = random_low_rank(size, size, rank, rng=np.random.default_rng(ss[0]))
    problem = sample_completion(M, n_obs, rng=np.random.default_rng(ss[1]), reduction="mean")
    rows = []
    nn = nuclear_norm_minimization(problem, eps=nuclear_eps)
    rows.append(dict(method="nuclear", depth=None, p=1.0, reconstruction_error=float(reconstruction_error(nn.X, M)),
                     effective_rank=float(effective_rank(nn.X)), status=nn.status))
    for N in depths:
        N = check_int(N, "depths", minimum=2)
        sp = schatten_minimization(problem, 2.0 / N)
        rows.append(dict(method="schatten", depth=N, p=2.0 / N,
                         reconstruction_error=float(reconstruction_error(sp.X, M)),
                         effective_rank=float(effective_rank(sp.X)), status=sp.status))
        w0 = init_weights((size, size), N, init_scale, rng=np.random.default_rng(ss[2]))
        run = gradient_descent(problem, w0, lr=lr, max_steps=max_steps, loss_tol=train_tol,
                               optimizer="adaptive", record_steps=())
        rows.append(dict(method="gd", depth=N, p=None,
                         reconstruction_error=float(reconstruction_error(run.W, M)),
                         effective_rank=float(effective_rank(run.W)),
                         status="converged" if run.converged else "max_steps", steps=int(run.steps)))
    return dict(rows=rows, size=size, rank=rank, n_obs=n_obs, init_scale=init_scale, lr=lr,
                optimizer="adaptive (E19)", seed=seed)
