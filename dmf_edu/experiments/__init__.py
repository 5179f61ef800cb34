"""Experiment registry: one module per published experiment (THEORY.md §8).

Each module exposes ``ID``, ``TITLE``, ``FULL`` and ``QUICK`` (configurations),
``tasks(config, seed, quick) -> [task]`` (independent, JSON-able, each with a unique
``"key"``), ``run_task(task) -> rows``, ``collect(rows, config) -> results`` (a dict with at
least ``"rows"`` and ``"params"``), ``headline(results) -> (columns, rows)`` (the short table
printed after a run), ``plot(results, path)``, and ``run(config=None, quick=False, seed=0,
jobs=1, cache_dir=None, progress=True, executor=None)``.  A module whose configuration depends
on the overrides (X2 on MovieLens) also exposes ``configure(quick, config) -> config``.

:func:`reproduce` runs one, writes ``<out>/<name>.png`` and ``<out>/<name>.json`` and caches
finished tasks under ``<out>/.cache/<name>[-quick]/seed=<seed>/``, where ``<name>`` is
:func:`output_name`: the id, or e.g. ``X2-movielens`` for a run on other data.  Quick runs write to
``figures/quick`` by default, and never replace a full-mode sidecar (unless ``force=True``).
"""

from __future__ import annotations

import importlib
import json
import os
import time

from .._io import library_versions, write_json
from .._validate import check_int, check_seed
from .recovery import format_table, make_config, run_experiment

REGISTRY = {
    "X1": "dmf_edu.experiments.x1_completion",
    "X2": "dmf_edu.experiments.x2_singular_values",
    "X3": "dmf_edu.experiments.x3_sensing",
    "X4": "dmf_edu.experiments.x4_commuting",
    "X5": "dmf_edu.experiments.x5_razin_cohen",
    "X6": "dmf_edu.experiments.x6_infinite_depth",
    "X7": "dmf_edu.experiments.x7_saddles",
    "X8": "dmf_edu.experiments.x8_plateaus",
    "X9": "dmf_edu.experiments.x9_real_data",
}

# Wall times measured on the project's 2-core machine with --jobs 2 while other work shared the
# cores (load ~12 during the quick runs), so inflated; full: the committed figures' runs
# (figures/README.md), quick: `dmf-edu reproduce ID --quick --jobs 2`.
RUN_TIMES = {
    "X1": ("6.6 min", "22 s"),
    "X2": ("22 s", "16 s"),
    "X3": ("42.6 min", "4 s"),
    "X4": ("1 s", "1 s"),
    "X5": ("13.8 min", "33 s"),
    "X6": ("4 s", "7 s"),
    "X7": ("3 s", "11 s"),
    "X8": ("54 s", "26 s"),
    "X9": ("20.4 min", "10 s"),                 # full: load ~10 (figures/README.md)
}

FULL_OUT, QUICK_OUT = "figures", os.path.join("figures", "quick")


def get(experiment_id):
    """The module of an experiment id (case-insensitive)."""
    key = str(experiment_id).upper()
    if key not in REGISTRY:
        raise ValueError(f"unknown experiment {experiment_id!r}; choose one of {', '.join(REGISTRY)} (see `dmf-edu list`)")
    return importlib.import_module(REGISTRY[key])


def list_experiments():
    """``[(id, title), ...]`` in registry order."""
    return [(key, get(key).TITLE) for key in REGISTRY]


def task_list(experiment_id, quick=False, seed=0, config=None):
    """The independent tasks of one experiment (dicts with a unique ``"key"``)."""
    module = get(experiment_id)
    seed = check_seed(seed)
    return module.tasks(make_config(module, quick, config), seed, quick)


def output_name(experiment_id, config=None):
    """File stem of an experiment's outputs: ``X2``, or ``X2-movielens`` for another ``config["data"]``
    (so a run on the user's data never writes over the committed figure, nor shares its cache)."""
    data = (config or {}).get("data", "synthetic")
    return get(experiment_id).ID + ("" if data == "synthetic" else f"-{data}")


def cache_dir(experiment_id, out=None, quick=False, seed=0, config=None):
    """Where :func:`reproduce` caches the finished tasks of one experiment (``config``: its overrides)."""
    out = default_out(quick) if out is None else out
    name = output_name(experiment_id, config)
    return os.path.join(os.fspath(out), ".cache", name + ("-quick" if quick else ""), f"seed={seed}")


def default_out(quick):
    """``figures`` for full mode, ``figures/quick`` for quick mode."""
    return QUICK_OUT if quick else FULL_OUT


def check_not_full(sidecar, force=False):
    """Refuse to let a quick run replace the full-mode sidecar ``sidecar`` (unless ``force``)."""
    if force or not os.path.exists(sidecar):
        return
    try:
        with open(sidecar) as fh:
            is_full = json.load(fh).get("quick") is False
    except (OSError, ValueError):
        return
    if is_full:
        raise FileExistsError(f"{sidecar} holds full-mode results; a quick run will not replace it: "
                              f"choose another --out (quick runs default to {QUICK_OUT}) or pass --force")


def reproduce(experiment_id, out=None, quick=False, seed=0, jobs=1, progress=True, executor=None, shard=None,
              compute=True, force=False, config=None):
    """Run one experiment and write its figure and JSON sidecar; return the results.

    Parameters
    ----------
    out : path, optional
        Output folder; default ``figures`` (full) or ``figures/quick`` (quick).  A quick run
        refuses to replace a full-mode ``<name>.json`` there unless ``force=True``
        (``<name>``: :func:`output_name`).
    seed : int >= 0
    jobs : int >= 1
        Worker processes when no ``executor`` is given.
    executor : concurrent.futures.Executor, optional
        Any executor (process pool, Dask's ``Client.get_executor()``, MPIPoolExecutor).
    shard : (k, n), optional
        Only compute the k-th of n slices of the tasks into the cache (no figure; the results
        hold the shard's rows).  A later call without ``shard`` finds them all and plots.
    compute : bool
        ``False``: raise :class:`~dmf_edu.experiments.runner.MissingTasksError` instead of
        computing tasks missing from the cache.
    config : dict, optional
        Overrides of the experiment's configuration (recorded in the sidecar), e.g. X2's
        ``data="movielens", path=...`` (outputs then named ``X2-movielens``).
    """
    module = get(experiment_id)
    seed = check_seed(seed)
    jobs = check_int(jobs, "jobs", minimum=1)
    out = os.fspath(default_out(quick) if out is None else out)
    name = output_name(module.ID, config)
    png, sidecar = os.path.join(out, f"{name}.png"), os.path.join(out, f"{name}.json")
    if quick and shard is None:
        check_not_full(sidecar, force)
    t0 = time.perf_counter()
    results = run_experiment(module, config, quick, seed, jobs=jobs, progress=progress, executor=executor,
                             shard=shard, compute=compute, cache_dir=cache_dir(module.ID, out, quick, seed, config))
    if shard is not None:
        return results
    module.plot(results, png)
    side = dict(experiment=module.ID, title=module.TITLE, quick=quick, seed=seed,
                optimizer=results.get("optimizer"), params=results["params"],
                versions=library_versions(), wall_time=time.perf_counter() - t0)
    side.update({k: v for k, v in results.items() if k not in side})
    write_json(sidecar, side)
    return results


def headline_table(experiment_id, results):
    """The short text table of an experiment's headline numbers."""
    return format_table(*get(experiment_id).headline(results))
