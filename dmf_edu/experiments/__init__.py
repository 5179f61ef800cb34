"""Experiment registry: one module per published experiment (THEORY.md §8).

Each module exposes ``ID``, ``TITLE``, ``run(config=None, quick=False, seed=0, jobs=1,
cache_dir=None, progress=True) -> results`` (a dict with at least ``"rows"``, a list of
tidy records, and ``"params"``) and ``plot(results, path)``.  :func:`reproduce` runs one,
writes ``<out>/<ID>.png`` and ``<out>/<ID>.json`` and caches finished tasks under
``<out>/.cache/<ID>/``.
"""

from __future__ import annotations

import importlib
import os
import time

from .._io import library_versions, write_json

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


def get(experiment_id):
    """The module of an experiment id (case-insensitive)."""
    key = str(experiment_id).upper()
    if key not in REGISTRY:
        raise ValueError(f"unknown experiment {experiment_id!r}; choose one of {', '.join(REGISTRY)} (see `dmf-edu list`)")
    return importlib.import_module(REGISTRY[key])


def list_experiments():
    """``[(id, title), ...]`` in registry order."""
    return [(key, get(key).TITLE) for key in REGISTRY]


def output_name(experiment_id, config=None):
    """File stem of an experiment's outputs: ``X2``, or ``X2-movielens`` for another ``config["data"]``
    (so a run on the user's data never writes over the committed figure)."""
    data = (config or {}).get("data", "synthetic")
    return get(experiment_id).ID + ("" if data == "synthetic" else f"-{data}")


def reproduce(experiment_id, out="figures", quick=False, seed=0, jobs=1, progress=True, config=None):
    """Run one experiment and write its figure and JSON sidecar; return the results.

    ``config`` overrides entries of the experiment's configuration (e.g. X2's
    ``data="movielens", path=...``)."""
    module = get(experiment_id)
    name = output_name(experiment_id, config)
    t0 = time.perf_counter()
    cache = os.path.join(out, ".cache", name + ("-quick" if quick else ""), f"seed={seed}")
    kwargs = dict(config=config) if config else {}
    results = module.run(quick=quick, seed=seed, jobs=jobs, cache_dir=cache, progress=progress, **kwargs)
    png = os.path.join(out, f"{name}.png")
    module.plot(results, png)
    sidecar = dict(experiment=module.ID, title=module.TITLE, quick=quick, seed=seed,
                   optimizer=results.get("optimizer"), params=results["params"],
                   versions=library_versions(), wall_time=time.perf_counter() - t0)
    sidecar.update({k: v for k, v in results.items() if k not in sidecar})
    write_json(os.path.join(out, f"{name}.json"), sidecar)
    return results
