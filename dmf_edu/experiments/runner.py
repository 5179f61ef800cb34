"""Run an experiment's independent tasks: per-task disk cache, shards, any executor, progress.

A task is a JSON-able dict with a unique ``"key"`` (and optionally a ``"cost"`` estimate: costly
tasks are started first).  Its result, a list of row dicts, is cached in
``cache_dir/<key>.json`` together with the task itself and the package version; a record
written by another package version or for other parameters is recomputed, never reused.

* **Atomic cache.**  The process that computes a task writes its record to a temporary file and
  renames it (``os.replace``), so a reader never sees half a record and two processes finishing
  the same task leave one complete record.  A killed run loses only the tasks in flight.
* **Shards.**  ``shard=(k, n)`` runs only the k-th of n deterministic slices of the task list
  (tasks ``k-1, k-1+n, ...``), for job arrays sharing one cache on a shared filesystem.
* **Executors.**  ``executor`` may be any :class:`concurrent.futures.Executor` (process pool,
  ``dask.distributed.Client.get_executor()``, ``mpi4py.futures.MPIPoolExecutor``); only
  ``submit`` and ``Future.result()`` are used.  Workers write the cache themselves, so results
  are kept as they finish.  Without one, ``jobs > 1`` starts a process pool (fresh interpreters,
  one BLAS thread each).  A failing task becomes a one-line :class:`TaskError`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from .. import _version

from .._io import write_json


class TaskError(RuntimeError):
    """A task failed in a worker; the message names the task and the original error."""


class MissingTasksError(RuntimeError):
    """``compute=False`` and some tasks are not in the cache; ``.keys`` lists them."""

    def __init__(self, message, keys):
        super().__init__(message)
        self.keys = keys


def _package_version():
    return _version.__version__          # read at call time


def _cache_path(cache_dir, key):
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)
    return os.path.join(cache_dir, safe + ".json")


def _normalized(task):
    return json.loads(json.dumps(task))


def read_cached(cache_dir, task):
    """The cached rows of ``task``, or None if missing, unreadable, stale (other parameters) or
    written by another package version."""
    path = _cache_path(cache_dir, task["key"])
    try:
        with open(path) as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("package_version") != _package_version() \
            or record.get("task") != _normalized(task):
        return None
    return record["rows"]


def execute_task(fn, task, cache_dir=None):
    """Run one task (in a worker): rows, then the cache record, written atomically.

    Module level so that every executor can pickle it; any exception becomes a
    :class:`TaskError` carrying one line (exception types of the worker need not unpickle)."""
    start = time.perf_counter()
    try:
        rows = fn(task)
    except Exception as exc:                                         # noqa: BLE001 - reported, not hidden
        raise TaskError(f"task {task['key']} failed: {type(exc).__name__}: {exc}") from None
    record = dict(task=task, package_version=_package_version(), wall_time=time.perf_counter() - start, rows=rows)
    if cache_dir:
        write_json(_cache_path(cache_dir, task["key"]), record)
    return record


def select_shard(tasks, shard):
    """Tasks of shard ``(k, n)``: indices ``k-1, k-1+n, k-1+2n, ...`` (``None``: all)."""
    if shard is None:
        return list(tasks)
    k, n = shard
    if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n):
        raise ValueError(f"shard must be (k, n) with 1 <= k <= n, got {shard!r}")
    return [t for i, t in enumerate(tasks) if i % n == k - 1]


def run_tasks(name, tasks, fn, cache_dir=None, jobs=1, progress=True, stream=None, executor=None,
              shard=None, compute=True):
    """Run ``fn(task) -> list of rows`` for every task (of the shard); return all rows in task order.

    Parameters
    ----------
    name : str
        Experiment id, for progress lines and errors.
    tasks : list of dict
        Each with a unique ``"key"``; picklable when run by an executor.
    fn : callable
        A module-level function (picklable) returning a list of JSON-able row dicts.
    cache_dir : path, optional
        Where finished tasks are cached (shared between shards); ``None`` disables caching.
    jobs : int
        Worker processes when no ``executor`` is given (1: run in this process).
    executor : concurrent.futures.Executor, optional
        Runs the tasks instead (``jobs`` is then ignored); not shut down here.
    shard : (k, n), optional
        Run only the k-th of n slices (:func:`select_shard`); rows of that slice are returned.
    compute : bool
        ``False``: raise :class:`MissingTasksError` if any task is not in the cache.
    """
    stream = sys.stderr if stream is None else stream
    keys = [t["key"] for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name}: task keys must be unique")
    tasks = select_shard(tasks, shard)
    done, todo = {}, []
    for task in tasks:
        cached = read_cached(cache_dir, task) if cache_dir else None
        if cached is not None:
            done[task["key"]] = cached
        else:                                   # missing, or computed with other parameters/version
            todo.append(task)
    where = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    if todo and not compute:
        listed = ", ".join(t["key"] for t in todo[:8]) + (", ..." if len(todo) > 8 else "")
        raise MissingTasksError(f"{name}{where}: {len(todo)} of {len(tasks)} tasks are not in the cache "
                                f"{cache_dir}: {listed}", [t["key"] for t in todo])
    if progress and done:
        print(f"[{name}]{where} {len(done)} of {len(tasks)} tasks found in the cache {cache_dir}",
              file=stream, flush=True)
    todo.sort(key=lambda t: -float(t.get("cost", 0)))          # costly first: shorter tail
    start = time.perf_counter()

    def finish(task, record, count):
        if cache_dir and read_cached(cache_dir, task) is None:    # a worker without the shared disk
            write_json(_cache_path(cache_dir, task["key"]), record)
        done[task["key"]] = record["rows"]
        if progress:
            elapsed = time.perf_counter() - start
            eta = elapsed / count * (len(todo) - count)
            print(f"[{name}]{where} task {count}/{len(todo)} done: {task['key']}  "
                  f"({elapsed:.0f} s elapsed, ETA {eta:.0f} s)", file=stream, flush=True)

    if executor is not None:
        _run_on(executor, todo, fn, cache_dir, finish)
    elif jobs <= 1 or len(todo) <= 1:
        for count, task in enumerate(todo, 1):
            finish(task, execute_task(fn, task, cache_dir), count)
    else:
        _run_on_process_pool(jobs, todo, fn, cache_dir, finish)
    return [row for task in tasks for row in done[task["key"]]]


def _run_on(executor, todo, fn, cache_dir, finish):
    """Submit every task, then collect the results in submission order (``submit`` and
    ``result`` only: futures of other libraries do not work with ``as_completed``)."""
    futures = [executor.submit(execute_task, fn, task, cache_dir) for task in todo]
    try:
        for count, (task, fut) in enumerate(zip(todo, futures), 1):
            try:
                record = fut.result()
            except TaskError:
                raise
            except Exception as exc:             # noqa: BLE001 - a dead worker, a lost connection ...
                raise TaskError(f"task {task['key']} failed: {type(exc).__name__}: {exc}") from None
            finish(task, record, count)
    except BaseException:
        for fut in futures:                     # do not leave queued work behind
            getattr(fut, "cancel", lambda: None)()
        raise


def _run_on_process_pool(jobs, todo, fn, cache_dir, finish):
    # fresh interpreters with one BLAS thread each: the pool, not BLAS, uses the cores
    saved = {var: os.environ.get(var) for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    for var, value in saved.items():
        os.environ[var] = value or "1"
    try:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"))
        try:
            _run_on(pool, todo, fn, cache_dir, finish)
        except BaseException:                   # a failed task or Ctrl-C: stop the other workers now
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:                                    # leave the caller's environment as it was
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def parse_shard(text, environ=None):
    """``"K/N"`` -> ``(K, N)``; ``"slurm"`` -> the shard of this Slurm array task.

    With ``"slurm"``, ``K`` and ``N`` come from ``SLURM_ARRAY_TASK_ID`` and
    ``SLURM_ARRAY_TASK_COUNT`` or ``SLURM_ARRAY_TASK_MIN``/``MAX`` (``--array=1-N`` and
    ``--array=0-(N-1)`` both work: the index is counted from ``MIN``, else from 0).
    """
    environ = os.environ if environ is None else environ
    text = str(text).strip()
    if text.lower() == "slurm":
        def var(name):
            value = environ.get(f"SLURM_ARRAY_TASK_{name}")
            try:
                return None if value is None else int(value)
            except ValueError:
                raise ValueError(f"SLURM_ARRAY_TASK_{name}={value!r} is not an integer") from None

        index, count, lo, hi = var("ID"), var("COUNT"), var("MIN"), var("MAX")
        if index is None:
            raise ValueError("--shard slurm needs SLURM_ARRAY_TASK_ID: submit with `sbatch --array=1-N`")
        lo = 0 if lo is None else lo
        if count is None:
            if hi is None:
                raise ValueError("--shard slurm needs SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN/MAX")
            count = hi - lo + 1
        k, n = index - lo + 1, count
        if not 1 <= k <= n:
            raise ValueError(f"SLURM_ARRAY_TASK_ID={index} is outside the array {lo}..{lo + n - 1}")
        return k, n
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N (e.g. 2/8) or 'slurm', got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n
