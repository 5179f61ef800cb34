"""What an experiment is: an :class:`Experiment` object, one per module ``x1_completion`` ... ``x9_real_data``.

An experiment is a list of independent tasks (JSON-able dicts, each with a unique ``"key"``),
a function that turns one task into rows, and what is done with all the rows (collect,
plot, headline).  The runner (:mod:`dmf_edu.experiments.runner`) runs the tasks, the registry
(:mod:`dmf_edu.experiments`) writes the outputs, the CLI adds the experiment's own options.
Randomness: every task draws through :func:`dmf_edu._seeds.task_rng`, keyed by its own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .runner import run_tasks


@dataclass(frozen=True)
class Option:
    """A command-line option of one experiment (``dmf-edu reproduce ID --flag VALUE``)."""

    flag: str                               # "--data"
    help: str
    type: Callable = str
    choices: tuple | None = None

    @property
    def dest(self):
        return self.flag.lstrip("-").replace("-", "_")


def override(name, base, overrides=None):
    """``base`` with ``overrides`` replacing some of its keys; an unknown key is an error."""
    unknown = set(overrides or {}) - set(base)
    if unknown:
        raise ValueError(f"{name}: unknown config key(s) {sorted(unknown)}; known: {sorted(base)}")
    return dict(base, **(overrides or {}))


@dataclass(eq=False)
class Experiment:
    """One published experiment.

    Fields
    ------
    id, title : str
        ``"X1"`` and the line ``dmf-edu list`` shows.
    full, quick : dict
        The full and quick configurations (JSON-able; recorded in the sidecar as ``params``).
    tasks : ``(config, seed) -> [task]``
        Independent JSON-able tasks with unique ``"key"`` (optionally ``"cost"``: costly first).
    run_task : ``task -> [row]``
        Module level (picklable: executors send it to workers); rows are JSON-able dicts.
    collect : ``(rows, config) -> results``
        A dict with at least ``"params"`` and ``"rows"`` (the sidecar's content).
    plot : ``(results, path) -> None``
    headline : ``results -> (columns, rows)``
        The short table printed after a run.
    configure : ``(quick, overrides) -> config``, optional
        When the configuration depends on the overrides (X2 on MovieLens); default
        :func:`override` of ``quick`` or ``full``.
    options : tuple of :class:`Option`
        Extra command-line options of this experiment (X2: ``--data``, ``--path``, ``--width``).
    options_config : ``{dest: value} -> overrides or None``, optional
        Turns the given options into config overrides; raises ``ValueError`` naming the flag.
    output_name : ``config -> str``, optional
        File stem of the outputs; default the id (X2 on MovieLens: ``X2-movielens``).
    """

    id: str
    title: str
    full: dict
    quick: dict
    tasks: Callable
    run_task: Callable
    collect: Callable
    plot: Callable
    headline: Callable
    configure: Callable | None = None
    options: tuple = field(default_factory=tuple)
    options_config: Callable | None = None
    output_name: Callable | None = None

    def config(self, quick=False, overrides=None):
        """The full or quick configuration with ``overrides`` applied."""
        if self.configure is not None:
            return self.configure(quick, overrides)
        return override(self.id, self.quick if quick else self.full, overrides)

    def name(self, config=None):
        """File stem of this experiment's outputs for ``config`` (its overrides or a whole config)."""
        return self.id if self.output_name is None else self.output_name(config or {})

    def run(self, overrides=None, quick=False, seed=0, **runner):
        """Tasks -> :func:`~dmf_edu.experiments.runner.run_tasks` (``runner``: cache_dir, jobs,
        executor, progress, shard, compute) -> :attr:`collect`; with a shard, only its rows."""
        config = self.config(quick, overrides)
        rows = run_tasks(self.id, self.tasks(config, seed), self.run_task, **runner)
        if runner.get("shard") is not None:
            return dict(experiment=self.id, params=config, rows=rows, shard=list(runner["shard"]))
        return self.collect(rows, config)
