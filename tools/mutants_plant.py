"""The pytest plugin of ``tools/mutants.py``: the two plants and the probe.

Loaded with ``-p mutants_plant`` (``tools/`` on the path).  With ``DMF_MUTANT=name:plant`` it
wraps that one function; with ``DMF_MUTANT_PROBE=out.json`` it wraps every planted function with
a recorder.  Either way, before any test module is imported, every reference to the original in
the loaded ``dmf_edu`` modules is pointed at the wrapper (module globals, class attributes,
default arguments, module-level dicts and lists), so library code calling it sees it too.
"""

import functools
import inspect
import json
import os

import numpy as np
import pytest

from mutants import _modules, discover, skip_reason

from dmf_edu.proofs.regimes import REGIME_PLANTS, call_regimes, regime_plant, scale_output

FACTOR = 1.01

# --------------------------------------------------------------------------- the plants

def scale(x):
    """``(x with every float multiplied by FACTOR, whether anything changed)``."""
    return scale_output(x, FACTOR)


def _is_matrix(x):
    return isinstance(x, np.ndarray) and x.ndim >= 2


def _changes(x):
    """Whether swapping the last two axes changes ``x`` (a symmetric matrix does not change)."""
    return x.shape[-1] != x.shape[-2] or not np.array_equal(x, np.swapaxes(x, -1, -2), equal_nan=True)


def transpose_args(args, kwargs):
    """Swap the last two axes of the first argument with >= 2 axes; ``(args, kwargs, done)``."""
    args, kwargs = list(args), dict(kwargs)
    for box, key in [(args, i) for i in range(len(args))] + [(kwargs, k) for k in kwargs]:
        if _is_matrix(box[key]):
            done = _changes(box[key])
            box[key] = np.swapaxes(box[key], -1, -2)
            return args, kwargs, done
    return args, kwargs, None


def transpose_output(out):
    """Swap the last two axes of the output, or of its first item with >= 2 axes; ``(out, done)``."""
    if _is_matrix(out):
        return np.swapaxes(out, -1, -2), _changes(out)
    if isinstance(out, (tuple, list)) and not hasattr(out, "_fields"):
        for i, v in enumerate(out):
            if _is_matrix(v):
                return type(out)(list(out[:i]) + [np.swapaxes(v, -1, -2)] + list(out[i + 1:])), _changes(v)
    return out, False


# --------------------------------------------------------------------------- planting (plugin)

def _wrap(obj, make):
    """Apply ``make(function) -> function`` to a function, property, classmethod or staticmethod."""
    if isinstance(obj, property):
        return property(make(obj.fget), obj.fset, obj.fdel, obj.__doc__)
    if isinstance(obj, (classmethod, staticmethod)):
        return type(obj)(make(obj.__func__))
    return make(obj)


def _swap_in(container, orig, new):
    """Replace ``orig`` in a dict, a list or a function's default arguments."""
    if isinstance(container, dict):
        container.update({k: new for k, v in container.items() if v is orig})
    elif isinstance(container, list):
        container[:] = [new if v is orig else v for v in container]
    elif inspect.isfunction(container):
        if container.__defaults__:
            container.__defaults__ = tuple(new if v is orig else v for v in container.__defaults__)
        if container.__kwdefaults__:
            container.__kwdefaults__ = {k: new if v is orig else v for k, v in container.__kwdefaults__.items()}


def replace_everywhere(mods, orig, new):
    """Point every reference to ``orig`` in the package's modules at ``new``."""
    for mod in mods:
        for k, v in list(vars(mod).items()):
            if v is orig:
                setattr(mod, k, new)
            elif inspect.isclass(v) and v.__module__.startswith("dmf_edu"):
                for ck, cv in list(vars(v).items()):
                    if cv is orig:
                        setattr(v, ck, new)
                    _swap_in(getattr(cv, "__func__", cv), orig, new)
            else:
                _swap_in(v, orig, new)


def _planted(kind, fire):
    """``make(fn)`` for one plant; ``fire(changed)`` is told of every call."""
    if kind in REGIME_PLANTS:                 # fires only on calls in its regime (proofs/regimes.py)
        return lambda fn: regime_plant(fn, kind, fire=fire, scale=scale)

    def make(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if kind == "transpose":
                args, kwargs, done = transpose_args(args, kwargs)
                if done:
                    fire(True)               # before the call, which may raise on the new shape
                out = fn(*args, **kwargs)
                if done is None:             # no matrix argument: transpose the output
                    out, done = transpose_output(out)
            else:
                out, done = scale(fn(*args, **kwargs))
            fire(done)
            return out
        return wrapper
    return make


def _probing(name, record, current):
    """``make(fn)`` recording the tests that reach ``fn`` and what a plant could change."""
    rec = record.setdefault(name, {"tests": {}, "float": False, "matrix": False, "regimes": set()})

    def make(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            matrix = None if rec["matrix"] else transpose_args(args, kwargs)[2]
            out = fn(*args, **kwargs)
            rec["tests"][current[0]] = None
            rec["float"] = rec["float"] or scale(out)[1]
            rec["matrix"] = rec["matrix"] or matrix or (matrix is None and transpose_output(out)[1])
            try:
                rec["regimes"].update(call_regimes(fn, args, kwargs, out))
            except Exception:                 # an argument the classifier cannot read: no regime
                pass
            return out
        return wrapper
    return make


class _Plugin:
    """Installed when the environment asks for a probe or a plant (see the module docstring)."""

    def __init__(self):
        self.current, self.record, self.durations = ["<import>"], {}, {}
        self.state = {"called": False, "changed": False}
        mods = list(_modules().values())
        targets = discover()
        spec = os.environ.get("DMF_MUTANT")
        if spec:
            name, kind = spec.rsplit(":", 1)
            wanted = {name: targets[name]}
            makers = {name: _planted(kind, self.fire)}
        else:
            wanted = {n: t for n, t in targets.items() if not skip_reason(n)}
            makers = {n: _probing(n, self.record, self.current) for n in wanted}
        for name, (owner, attr) in wanted.items():
            orig = vars(owner)[attr]
            replace_everywhere(mods, orig, _wrap(orig, makers[name]))

    def fire(self, changed):
        self.state["called"] = True
        self.state["changed"] = self.state["changed"] or changed

    def pytest_collectstart(self, collector):
        self.current[0] = collector.nodeid

    def pytest_runtest_logstart(self, nodeid, location):
        self.current[0] = nodeid

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        """A module- or session-scoped fixture serves a whole file: record the file."""
        saved = self.current[0]
        if fixturedef.scope != "function":
            self.current[0] = saved.split("::")[0]
        yield
        self.current[0] = saved

    def pytest_runtest_logreport(self, report):
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session, exitstatus):
        out = os.environ.get("DMF_MUTANT_LOG") or os.environ["DMF_MUTANT_PROBE"]
        data = self.state if os.environ.get("DMF_MUTANT") else dict(durations=self.durations, functions={
            n: dict(r, tests=list(r["tests"]), regimes=sorted(r["regimes"])) for n, r in self.record.items()})
        with open(out, "w") as fh:
            json.dump(data, fh)


def pytest_load_initial_conftests(early_config, parser, args):
    """Plant before any conftest or test module imports the package."""
    if os.environ.get("DMF_MUTANT") or os.environ.get("DMF_MUTANT_PROBE"):
        early_config.pluginmanager.register(_Plugin(), "dmf-mutant-plant")


