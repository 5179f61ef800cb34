"""Run an experiment's independent tasks with a per-task disk cache, a process pool and progress.

A task is a JSON-able dict with a unique ``"key"``; its result (a list of row dicts) is written
atomically to ``cache_dir/<key>.json`` as soon as it finishes, so an interrupted reproduction
resumes without recomputing finished tasks.  One progress line per finished task, with an ETA.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from .._io import write_json


def _cache_path(cache_dir, key):
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)
    return os.path.join(cache_dir, safe + ".json")


def run_tasks(name, tasks, fn, cache_dir=None, jobs=1, progress=True, stream=None):
    """Run ``fn(task) -> list of rows`` for every task; return all rows in task order.

    Parameters
    ----------
    name : str
        Experiment id, for progress lines.
    tasks : list of dict
        Each with a unique ``"key"``; must be picklable when ``jobs > 1``.
    fn : callable
        A module-level function (picklable) returning a list of JSON-able row dicts.
    cache_dir : path, optional
        Where finished tasks are cached; ``None`` disables caching.
    jobs : int
        Worker processes (1: run in this process).
    """
    stream = sys.stderr if stream is None else stream
    keys = [t["key"] for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name}: task keys must be unique")
    done, todo = {}, []
    for task in tasks:
        path = _cache_path(cache_dir, task["key"]) if cache_dir else None
        cached = None
        if path and os.path.exists(path):
            with open(path) as fh:
                cached = json.load(fh)
        if cached is not None and cached["task"] == json.loads(json.dumps(task)):
            done[task["key"]] = cached["rows"]
        else:                                   # missing, or computed with other parameters
            todo.append(task)
    if progress and done:
        print(f"[{name}] {len(done)} of {len(tasks)} tasks found in the cache {cache_dir}", file=stream, flush=True)
    start = time.perf_counter()

    def finish(task, rows, count):
        if cache_dir:
            write_json(_cache_path(cache_dir, task["key"]), {"task": task, "rows": rows})
        done[task["key"]] = rows
        if progress:
            elapsed = time.perf_counter() - start
            eta = elapsed / count * (len(todo) - count)
            print(f"[{name}] task {count}/{len(todo)} done: {task['key']}  "
                  f"({elapsed:.0f} s elapsed, ETA {eta:.0f} s)", file=stream, flush=True)

    if jobs <= 1 or len(todo) <= 1:
        for count, task in enumerate(todo, 1):
            finish(task, fn(task), count)
    else:
        # fresh interpreters with one BLAS thread each: the pool, not BLAS, uses the cores
        saved = {var: os.environ.get(var) for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        for var, value in saved.items():
            os.environ[var] = value or "1"
        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {pool.submit(fn, task): task for task in todo}
                for count, fut in enumerate(as_completed(futures), 1):
                    finish(futures[fut], fut.result(), count)
        finally:                                # leave the caller's environment as it was
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
    return [row for key in keys for row in done[key]]
