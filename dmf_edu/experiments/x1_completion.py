"""X1 — matrix completion, depth versus nuclear norm (arXiv 1905.13655, THEORY.md §8).

100x100 rank-5 ground truth (||M||_F = 100), |Omega| from 1000 to 5000, depths 1-4 trained
from Gaussian init 1e-3 with the E19 optimizer to train MSE 1e-6, against nuclear-norm
minimization with |X_ij - M_ij| <= 1e-3 on Omega; plus depth 2 at 2000 observations for
init scales 1e-3 ... 1e-6.  What it shows: depth >= 3 recovers with fewer observations
than depth 2 and the nuclear norm; the depth-2 error falls as the init shrinks; with
enough observations every method succeeds.
"""

from __future__ import annotations

import numpy as np

from .. import _io
from .._validate import check_int, check_seed
from .._seeds import task_rng
from ..baselines.nuclear_norm import nuclear_norm_minimization
from ..baselines.schatten import schatten_minimization
from ..factorization import init_weights
from ..metrics import effective_rank, reconstruction_error, relative_error
from ..problems import MatrixSensing, gaussian_sensing, sample_completion
from ..targets import random_low_rank
from .e19 import E19, E19_SHORT, train_runs
from .protocol import Experiment
from .tables import field

ID = "X1"
TITLE = "completion 100x100 rank 5: error vs observations, depths 1-4 vs nuclear norm"

# record_every: None, or a history (top singular values of W) every that many steps (the demo's)
FULL = dict(problem="completion", m=100, n=100, rank=5, n_obs=[1000, 1500, 2000, 2500, 3000, 4000, 5000],
            depths=[1, 2, 3, 4], trials=3, init_scale=1e-3, nuclear=True, eps=1e-3,
            sweep_n_obs=2000, sweep_depth=2, sweep_scales=[1e-3, 1e-4, 1e-5, 1e-6],
            lr=1e-3, loss_tol=1e-6, max_steps=300_000, lockstep=False, record_every=None)
QUICK = dict(FULL, m=30, n=30, rank=2, n_obs=[150, 300], depths=[1, 2, 3], trials=1,
             sweep_n_obs=300, sweep_scales=[1e-3, 1e-5], max_steps=40_000)


# --------------------------------------------------------------------------- the data (X1, X2, X3, demo)

def ground_truth(config, seed, trial):
    """The rank-``config["rank"]`` truth of trial ``trial`` (shared by every count, X1 and X3)."""
    m, n, rank = config["m"], config["n"], config["rank"]
    return random_low_rank(m, n, rank, rng=task_rng(seed, "truth", m, n, rank, trial))


def completion_problem(config, seed, trial, n_obs):
    """Ground truth of trial ``trial`` and ``n_obs`` observations of it (mean loss)."""
    M = ground_truth(config, seed, trial)
    rng = task_rng(seed, "observed entries", config["m"], config["n"], config["rank"], trial, n_obs)
    return sample_completion(M, n_obs, rng=rng, reduction="mean")


def sensing_problem(config, seed, trial, n_measurements):
    """The same ground truth as :func:`completion_problem`, seen through Gaussian measurements
    ``A_k`` with i.i.d. ``N(0, 1/n^2)`` entries (THEORY.md §7).  With ``config["nested"]`` the
    ``k`` measurements are the first ``k`` of one draw of :func:`max_count` per trial."""
    M = ground_truth(config, seed, trial)
    K = max_count(config) if config.get("nested") else n_measurements
    precision = config.get("precision", "double")
    rng = task_rng(seed, "measurements", config["m"], config["n"], config["rank"], trial, K)
    problem = gaussian_sensing(M, K, rng=rng, reduction="mean", precision=precision)
    if K == n_measurements:
        return problem
    return MatrixSensing(problem.A[:n_measurements], problem.y[:n_measurements], reduction="mean", truth=M,
                         precision=precision)


def max_count(config):
    """The largest measurement count of a sweep (main grid and init-scale sweep)."""
    return max(list(config["n_obs"]) + [config["sweep_n_obs"]])


def recovery_problem(config, seed, trial, k):
    """Completion (``k`` observed entries) or sensing (``k`` measurements), per ``config["problem"]``."""
    make = sensing_problem if config.get("problem") == "sensing" else completion_problem
    return make(config, seed, trial, k)


def initial_factors(config, seed, trial, n_obs, depth, init_scale):
    """The Gaussian init of one run, named by the run's own parameters."""
    m, n = config["m"], config["n"]
    rng = task_rng(seed, "init", m, n, config["rank"], trial, n_obs, depth, init_scale)
    return init_weights((m, n), depth, init_scale, rng=rng)


def result_row(W, truth, **fields):
    """A tidy row: the given fields plus reconstruction_error (MSE over entries), rel_error, effective_rank."""
    row = dict(fields)
    row.update(reconstruction_error=float(reconstruction_error(W, truth)), rel_error=float(relative_error(W, truth)),
               effective_rank=float(effective_rank(W)))
    return row


# --------------------------------------------------------------------------- the experiment

def _runs(config):
    """``(n_obs, depth, init_scale)`` of every factorization run of one trial."""
    runs = [(k, depth, config["init_scale"]) for k in config["n_obs"] for depth in config["depths"]]
    runs += [(config["sweep_n_obs"], config["sweep_depth"], scale) for scale in config["sweep_scales"]]
    return list(dict.fromkeys(runs))                       # the sweep point may be in the main grid


def tasks(config, seed):
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
    inits = [initial_factors(config, task["seed"], task["trial"], k, depth, scale) for k, depth, scale in task["runs"]]
    counts = [k for k, _, _ in task["runs"]] if config.get("nested") else None
    every = config.get("record_every")
    record = dict(record_every=every, n_singular=10) if every else {}
    runs, wall_time = train_runs(problem, inits, config, counts=counts, **record)
    rows = [result_row(run.W, problem.truth, method=f"depth-{depth}", depth=depth, init_scale=scale,
                       steps=int(run.nit), success=bool(run.success), wall_time=wall_time,
                       lockstep=len(runs), **dict(common, n_obs=k))
            for (k, depth, scale), run in zip(task["runs"], runs)]
    if every:
        for row, run in zip(rows, runs):
            row["trace"] = dict(step=run.history["step"].tolist(), singular_values=run.history["singular_values"].tolist())
    return rows


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
        vals = [field(r, "reconstruction_error") for r in rows if r["method"] == method and r["n_obs"] == k
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

    The factorization runs and the nuclear norm are X1's tasks (one trial, one count, no init
    sweep), so their data and init are those of X1 with the same settings.

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
        entries), ``effective_rank``, ``status`` (and ``success``, ``steps`` for gd); plus the settings.

    Notes
    -----
    E9's consequence (arXiv 1905.13655): no single Schatten-p quasi-norm (``p = 2/N`` the natural
    guess) describes depth-``N`` factorization; with few observations the three solutions differ
    in error and effective rank.
    """
    if quick:
        size, rank, n_obs, max_steps = 30, 2, 300, min(max_steps, 40_000)
    depths = [check_int(N, "depths", minimum=2) for N in depths]
    config = dict(FULL, m=size, n=size, rank=rank, n_obs=[n_obs], depths=depths, trials=1, init_scale=init_scale,
                  eps=nuclear_eps, sweep_n_obs=n_obs, sweep_depth=depths[0], sweep_scales=[], lr=lr,
                  loss_tol=train_tol, max_steps=max_steps)
    seed = check_seed(seed)
    rows = []
    for task in tasks(config, seed):
        for r in run_task(task):
            status = r["status"] if r["method"] == "nuclear" else ("converged" if r["success"] else "max_steps")
            extra = dict(success=r["success"], steps=r["steps"]) if r["method"] != "nuclear" else {}
            rows.append(dict(method="gd" if r["depth"] else "nuclear", depth=r["depth"], p=None if r["depth"] else 1.0,
                             reconstruction_error=r["reconstruction_error"], effective_rank=r["effective_rank"],
                             status=status, **extra))
    problem = completion_problem(config, seed, 0, n_obs)
    for N in depths:
        sp = schatten_minimization(problem, 2.0 / N)
        rows.append(dict(method="schatten", depth=N, p=2.0 / N,
                         reconstruction_error=float(reconstruction_error(sp.X, problem.truth)),
                         effective_rank=float(effective_rank(sp.X)), status=sp.status))
    return dict(rows=rows, size=size, rank=rank, n_obs=n_obs, init_scale=init_scale, lr=lr,
                optimizer="adaptive (E19)", seed=seed)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
