"""Pieces shared by the experiments: seeded data, one training run, row formatting."""

from __future__ import annotations

import time

import numpy as np

from ..factorization import init_weights
from ..training.lockstep import train_together
from ..metrics import effective_rank, reconstruction_error, relative_error
from ..problems import MatrixSensing, gaussian_sensing, sample_completion
from ..targets import random_low_rank
from ..training.loop import gradient_descent
from .runner import run_tasks

E19 = "adaptive (E19: one global step, beta 0.99, base rate lr, mean loss)"
E19_SHORT = "optimizer: adaptive step (E19)"


def child_rng(*entropy):
    """A generator seeded by a tuple of ints: the same task always gets the same stream,
    whatever order tasks run in."""
    return np.random.default_rng([int(e) for e in entropy])


def completion_problem(config, seed, trial, n_obs):
    """Ground truth of trial ``trial`` (shared by all ``n_obs``) and ``n_obs`` observations of it."""
    M = random_low_rank(config["m"], config["n"], config["rank"], rng=child_rng(seed, trial, 0))
    return sample_completion(M, n_obs, rng=child_rng(seed, trial, 1, n_obs), reduction="mean")


def sensing_problem(config, seed, trial, n_measurements):
    """The same ground truth as :func:`completion_problem`, seen through Gaussian measurements
    ``A_k`` with i.i.d. ``N(0, 1/n^2)`` entries (THEORY.md §7).  With ``config["nested"]`` the
    ``k`` measurements are the first ``k`` of one draw of :func:`max_count` per trial."""
    M = random_low_rank(config["m"], config["n"], config["rank"], rng=child_rng(seed, trial, 0))
    K = max_count(config) if config.get("nested") else n_measurements
    precision = config.get("precision", "double")
    problem = gaussian_sensing(M, K, rng=child_rng(seed, trial, 3, K), reduction="mean", precision=precision)
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


def train(problem, depth, init_scale, rng, config, **kwargs):
    """Gaussian init of ``init_scale`` and the E19 optimizer until train MSE <= loss_tol (THEORY.md §7)."""
    weights = init_weights(problem.shape, depth, init_scale, rng=rng)
    start = time.perf_counter()
    run = gradient_descent(problem, weights, lr=config["lr"], max_steps=config["max_steps"],
                           optimizer="adaptive", loss_tol=config["loss_tol"], **kwargs)
    return run, time.perf_counter() - start


def train_runs(problem, inits, config, counts=None):
    """Train each factor list of ``inits`` on ``problem`` (E19, as :func:`train`); several at once in
    lockstep (one pass over the data per step, :mod:`dmf_edu.training.lockstep`; ``counts``: each run's
    number of leading measurements).  Returns the runs and the wall time of the whole group."""
    settings = dict(lr=config["lr"], max_steps=config["max_steps"], optimizer="adaptive",
                    loss_tol=config["loss_tol"], record_steps=[])
    start = time.perf_counter()
    if len(inits) == 1 and counts is None:
        runs = [gradient_descent(problem, inits[0], **settings)]
    else:
        runs = train_together(problem, inits, counts=counts, **settings)
    return runs, time.perf_counter() - start


def make_config(module, quick=False, config=None):
    """The module's full or quick configuration, with ``config`` overriding some of its keys
    (a module with ``configure(quick, config)``, e.g. X2 on MovieLens, builds its own)."""
    if hasattr(module, "configure"):
        return module.configure(quick, config)
    return override(module.ID, module.QUICK if quick else module.FULL, config)


def override(experiment, base, config=None):
    """``base`` with ``config`` overriding some of its keys; an unknown key is an error."""
    unknown = set(config or {}) - set(base)
    if unknown:
        raise ValueError(f"{experiment}: unknown config key(s) {sorted(unknown)}; known: {sorted(base)}")
    return dict(base, **(config or {}))


def run_experiment(module, config=None, quick=False, seed=0, **runner):
    """Tasks of ``module`` -> :func:`run_tasks` (``runner``: cache_dir, jobs, executor, progress,
    shard, compute) -> ``module.collect(rows, config)``; with a shard, only the shard's rows."""
    config = make_config(module, quick, config)
    rows = run_tasks(module.ID, module.tasks(config, seed, quick), module.run_task, **runner)
    if runner.get("shard") is not None:
        return dict(experiment=module.ID, params=config, rows=rows, shard=list(runner["shard"]))
    return module.collect(rows, config)


def format_table(columns, rows):
    """Plain-text table; floats in 3 significant digits, None as '-'."""
    def cell(x):
        if x is None:
            return "-"
        if isinstance(x, float):
            return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"
        return str(x)

    cells = [[cell(x) for x in row] for row in [columns] + [list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in cells)


def thin(rows, group, max_points, spacing="linear"):
    """Keep at most ``max_points`` rows of each group (rows in recorded order), always the first
    and the last: evenly spaced (``"linear"``) or dense early and sparse late (``"geometric"``,
    for plots against a log axis).  Rows for which ``group`` returns None are kept as they are.
    Sidecars stay small while every plotted curve keeps its shape."""
    groups = {}
    for i, row in enumerate(rows):
        key = group(row)
        if key is not None:
            groups.setdefault(key, []).append(i)
    drop = set()
    for idx in groups.values():
        n = len(idx)
        if n <= max_points:
            continue
        pick = (np.geomspace(1, n, max_points) if spacing == "geometric" else np.linspace(1, n, max_points))
        keep = {idx[k] for k in np.unique(np.round(pick).astype(int) - 1)} | {idx[0], idx[-1]}
        drop.update(set(idx) - keep)
    return [row for i, row in enumerate(rows) if i not in drop]


def result_row(W, truth, **fields):
    """A tidy row: the given fields plus error (MSE over entries), rel_error, effective_rank."""
    row = dict(fields)
    row.update(error=float(reconstruction_error(W, truth)), rel_error=float(relative_error(W, truth)),
               effective_rank=float(effective_rank(W)))
    return row
