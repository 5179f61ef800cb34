"""The one seeding rule of the experiments: a task's random stream is named by its own parameters.

``task_rng(seed, "init", trial, n_obs, depth, init_scale)`` is
``default_rng(SeedSequence(seed, spawn_key=K))`` where ``K`` is derived from a canonical text of
the key (JSON; floats by ``repr``) through SHA-256, so

* the same seed and key always give the same numbers, in any process and any Python (no salted
  ``hash``);
* a task's numbers do not depend on which other tasks run, nor in which order: nothing is
  spawned from a shared parent in sequence;
* two keys that differ anywhere give independent streams, and so do two seeds.

Tasks that should see the same draw (X2 on the X1 data, X3's ground truth and X1's) use the same
key for it.
"""

from __future__ import annotations

import hashlib
import json
import numbers

import numpy as np

from ._validate import check_seed


def _canonical(part):
    """A JSON-able form of one key part: ints, floats (exact), strings, bools, None, sequences."""
    if isinstance(part, (bool, np.bool_)) or part is None or isinstance(part, str):
        return bool(part) if isinstance(part, np.bool_) else part
    if isinstance(part, numbers.Integral):
        return int(part)
    if isinstance(part, numbers.Real):
        return repr(float(part))                     # exact: 1e-3 and 0.001 are one key
    if isinstance(part, (list, tuple, np.ndarray)):
        return [_canonical(p) for p in part]
    raise TypeError(f"a seed key part must be a number, string, bool, None or a sequence of them, "
                    f"got {type(part).__name__}: name the draw by its parameters instead")


def spawn_key(*key):
    """The spawn key (four 32-bit ints) of ``key``: SHA-256 of its canonical JSON text."""
    text = json.dumps([_canonical(p) for p in key], separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def task_rng(seed, *key):
    """A generator for the draw named ``key`` (e.g. ``"truth", m, n, rank, trial``) under ``seed``.

    ``seed`` is the experiment's seed (an int >= 0, ``--seed`` on the command line)."""
    return np.random.default_rng(np.random.SeedSequence(check_seed(seed), spawn_key=spawn_key(*key)))
