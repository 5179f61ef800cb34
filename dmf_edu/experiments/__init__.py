"""Experiment registry: one :class:`~dmf_edu.experiments.protocol.Experiment` per published experiment
(THEORY.md §8), defined as ``EXPERIMENT`` in its module and registered here once.

:func:`reproduce` runs one, writes ``<out>/<name>.png`` and ``<out>/<name>.json`` and caches
finished tasks under ``<out>/.cache/<name>[-quick]/seed=<seed>/``, where ``<name>`` is
``experiment.name(config)``: the id, or e.g. ``X2-movielens`` for a run on other data.  Quick
runs write to ``figures/quick`` by default, and never replace a full-mode sidecar (unless
``force=True``).  The functions here take an :class:`Experiment` (or its id, looked up once).
"""

from __future__ import annotations

import importlib
import json
import os
import time

from .._io import library_versions, write_json
from .._validate import check_int, check_seed
from .protocol import Experiment
from .tables import field, format_table

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
    "X10": "dmf_edu.experiments.x10_tensors",
}

FULL_OUT, QUICK_OUT = "figures", os.path.join("figures", "quick")


def get(experiment_id):
    """The :class:`Experiment` of an id (case-insensitive)."""
    key = str(experiment_id).upper()
    if key not in REGISTRY:
        raise ValueError(f"unknown experiment {experiment_id!r}; choose one of {', '.join(REGISTRY)} (see `dmf-edu list`)")
    return importlib.import_module(REGISTRY[key]).EXPERIMENT


def _experiment(experiment):
    return experiment if isinstance(experiment, Experiment) else get(experiment)


def list_experiments():
    """``[(id, title), ...]`` in registry order."""
    return [(key, get(key).title) for key in REGISTRY]


def task_list(experiment, quick=False, seed=0, config=None):
    """The independent tasks of one experiment (dicts with a unique ``"key"``)."""
    experiment = _experiment(experiment)
    return experiment.tasks(experiment.config(quick, config), check_seed(seed))


def output_name(experiment, config=None):
    """File stem of an experiment's outputs: ``X2``, or ``X2-movielens`` for another ``config["data"]``
    (so a run on the user's data never writes over the committed figure, nor shares its cache)."""
    return _experiment(experiment).name(config)


def cache_dir(experiment, out=None, quick=False, seed=0, config=None):
    """Where :func:`reproduce` caches the finished tasks of one experiment (``config``: its overrides)."""
    out = default_out(quick) if out is None else out
    name = output_name(experiment, config)
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


def reproduce(experiment, out=None, quick=False, seed=0, jobs=1, progress=True, executor=None, shard=None,
              compute=True, force=False, config=None):
    """Run one experiment and write its figure and JSON sidecar; return the results.

    Parameters
    ----------
    experiment : Experiment or id
    out : path, optional
        Output folder; default ``figures`` (full) or ``figures/quick`` (quick).  A quick run
        refuses to replace a full-mode ``<name>.json`` there unless ``force=True``.
    seed : int >= 0
        The seed of every random draw (:func:`dmf_edu._seeds.task_rng`).
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
    experiment = _experiment(experiment)
    seed = check_seed(seed)
    jobs = check_int(jobs, "jobs", minimum=1)
    out = os.fspath(default_out(quick) if out is None else out)
    name = experiment.name(config)
    png, sidecar = os.path.join(out, f"{name}.png"), os.path.join(out, f"{name}.json")
    if quick and shard is None:
        check_not_full(sidecar, force)
    t0 = time.perf_counter()
    results = experiment.run(config, quick, seed, jobs=jobs, progress=progress, executor=executor, shard=shard,
                             compute=compute, cache_dir=cache_dir(experiment, out, quick, seed, config))
    if shard is not None:
        return results
    experiment.plot(results, png)
    side = dict(experiment=experiment.id, title=experiment.title, quick=quick, seed=seed,
                optimizer=results.get("optimizer"), params=results["params"],
                versions=library_versions(), wall_time=time.perf_counter() - t0)
    side.update({k: v for k, v in results.items() if k not in side})
    write_json(sidecar, side)
    return results


def headline_table(experiment, results):
    """The short text table of an experiment's headline numbers."""
    return format_table(*_experiment(experiment).headline(results))


def recorded_wall_time(experiment, folder):
    """``wall_time`` (seconds) stored in ``folder/ID.json``, or None (no sidecar, none stored).

    Sidecars written before one name per quantity may call it ``time`` or ``seconds``."""
    path = os.path.join(os.fspath(folder), f"{_experiment(experiment).id}.json")
    try:
        with open(path) as fh:
            value = field(json.load(fh), "wall_time")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
