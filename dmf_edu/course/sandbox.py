r"""Student code in a child process: the grader's inputs go in, plain arrays come out.

:class:`Sandbox` starts ``python -m dmf_edu.course.sandbox FILE`` with a memory limit
(``RLIMIT_AS`` on Linux) and keeps it for the exercises of one file.  The child imports the
student's file (the grading process never does), lists its functions, then answers calls
``(exercise, args)`` with the function's output encoded as JSON plus ``numpy.save`` blobs;
the parent decodes them with ``allow_pickle=False`` and accepts only numbers, numeric arrays,
strings, ``None`` and lists of those.  Anything else arrives as an opaque stand-in that the
checkers report as the wrong type.  A call past its deadline raises :class:`SandboxTimeout`
(the child's process group is killed), a child that dies :class:`SandboxCrash`; both derive
from ``BaseException`` so that no checker swallows them.

Before the student's file is imported, the child wraps the package's functions that answer an
exercise outright (:data:`PACKAGE_ANSWERS`, and every exercise's reference solution) in every
loaded ``dmf_edu`` module: each call made while a student's function runs is recorded, however
the function was reached (direct import, alias, ``functools.partial``, ``lambda``, ``def``), and
handing in a wrapper itself is reported by identity.  The child also reports which array
inputs a call modified in place.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import io
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from . import checkers, exercises, exercises_depth, exercises_written  # noqa: F401  (the registry, guarded)
from .checking import REGISTRY

__all__ = ["Sandbox", "SandboxTimeout", "SandboxCrash", "PACKAGE_ANSWERS", "DEFAULT_MEMORY_MB"]

DEFAULT_MEMORY_MB = 4096
_MAX_MESSAGE = 256 * 2 ** 20
# functions of the package that answer an exercise outright: exercise -> [(module, attribute)]
PACKAGE_ANSWERS = {
    "layer_gradients": [("dmf_edu.factorization", "layer_gradients")],
    "two_layer_gradients": [("dmf_edu.factorization", "layer_gradients")],
    "end_to_end_operator": [("dmf_edu.dynamics", "end_to_end_operator"),
                            ("dmf_edu.dynamics", "end_to_end_operator_sum")],
    "singular_value_velocity": [("dmf_edu.dynamics", "singular_value_velocity")],
    "depth_multiplier": [("dmf_edu.linalg", "depth_multiplier")],
    "effective_rank": [("dmf_edu.metrics", "effective_rank")],
    "completion_schatten_norm": [("dmf_edu.baselines", "schatten_profile"),
                                 ("dmf_edu.metrics", "schatten_norm")],
    "log_mean_limit": [("dmf_edu.linalg", "log_mean"), ("dmf_edu.linalg", "depth_multiplier")],
    "hessian_vector_product": [("dmf_edu.landscape", "hessian_vector_product")],
    "origin_hessian_eigenvalues": [("dmf_edu.landscape", "hessian_matrix"),
                                   ("dmf_edu.landscape", "hessian_extremes")],
    "heldout_error": [("dmf_edu.metrics", "heldout_error")],
    "cp_gradient": [("dmf_edu.tensors", "cp_gradients")],
}


class SandboxTimeout(BaseException):
    """The student's code did not answer before the deadline."""


class SandboxCrash(BaseException):
    """The child process ended without answering (exit code in ``args[0]``)."""


class _Raised(Exception):
    """The student's function raised in the child: ``student_text`` and ``student_line``."""

    def __init__(self, text, line):
        super().__init__(text)
        self.student_text, self.student_line = text, line


class _Opaque:
    """Stand-in for an output that is not numbers (``type_name`` says what it was)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<a {self.type_name}>"


# --------------------------------------------------------------------------- wire format

def _frame(payload):
    return struct.pack("<Q", len(payload)) + payload


def _encode(value, blobs):
    """Child side: ``value`` as JSON-able structure, arrays appended to ``blobs`` as .npy bytes."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return {"opaque": f"array of dtype {value.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"array": len(blobs) - 1}
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(v, blobs) for v in value]}
    return {"opaque": type(value).__name__}


def _pack(message, value=None):
    blobs = []
    message = dict(message, value=_encode(value, blobs), sizes=[len(b) for b in blobs])
    return json.dumps(message).encode("utf-8") + b"\n" + b"".join(blobs)


def _decode(node, blobs):
    """Parent side: validate and rebuild what :func:`_encode` wrote (no pickle anywhere)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and set(node) == {"array"} and isinstance(node["array"], int):
        arr = np.load(io.BytesIO(blobs[node["array"]]), allow_pickle=False)
        return arr if arr.dtype.kind in "biuf" else _Opaque(f"array of dtype {arr.dtype}")
    if isinstance(node, dict) and set(node) == {"list"} and isinstance(node["list"], list):
        return [_decode(v, blobs) for v in node["list"]]
    if isinstance(node, dict) and set(node) == {"opaque"}:
        return _Opaque(str(node["opaque"])[:80])
    return _Opaque("malformed answer")


def _unpack(payload):
    head, _, rest = payload.partition(b"\n")
    message = json.loads(head.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("malformed message")
    blobs, offset = [], 0
    for size in message.get("sizes", []):
        blobs.append(rest[offset:offset + int(size)])
        offset += int(size)
    message["value"] = _decode(message.get("value"), blobs)
    return message


# --------------------------------------------------------------------------- the parent

class Sandbox:
    """A child process holding one student file.

    Parameters
    ----------
    path : path
        The ``.py`` file (a notebook is first turned into one by :mod:`.submissions`).
    memory_mb : int
        Address-space limit of the child (``RLIMIT_AS``), in MiB.
    line_label : callable, optional
        ``line number -> text`` for error messages (default ``"line L of FILE"``).
    cwd : path, optional
        Working folder of the child (default: the file's folder), where relative data paths resolve.
    """

    def __init__(self, path, memory_mb=DEFAULT_MEMORY_MB, line_label=None, cwd=None):
        self.path, self.memory_mb = Path(path).resolve(), int(memory_mb)
        self.cwd = Path(cwd) if cwd is not None else self.path.parent
        self.line_label = line_label or (lambda n: f"line {n} of {self.path.name}")
        self.proc, self.deadline, self.output = None, None, ""
        self._log = None

    def start(self, timeout):
        """Start the child and import the file; return the child's first message (``ready`` with
        ``functions``, or ``import_error``)."""
        self._log = tempfile.TemporaryFile()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   PYTHONPATH=root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "dmf_edu.course.sandbox", str(self.path),
                                      str(self.memory_mb)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, cwd=str(self.cwd), bufsize=0,
                                     start_new_session=True)
        self.deadline = time.monotonic() + timeout
        return self._receive()

    def call(self, name, args):
        """Run the student's ``name(*args)`` in the child; the decoded reply (a dict)."""
        try:
            self.proc.stdin.write(_frame(pickle.dumps(("call", name, args), protocol=4)))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise SandboxCrash(self.proc.poll()) from None
        reply = self._receive()
        if reply.get("kind") == "raised":
            line = reply.get("lineno")
            raise _Raised(str(reply.get("text", "an exception")), self.line_label(line) if line else "")
        return reply

    def function(self, name):
        """A callable standing for the student's ``name``: arguments go to the child, the answer comes back.
        After each call, ``changed_inputs`` lists the arguments modified in place and ``library``
        the package functions answering ``name`` that the call reached."""
        sandbox = self

        class Proxy:
            changed_inputs, library = None, set()

            def __call__(self, *args):
                reply = sandbox.call(name, args)
                self.changed_inputs = list(reply.get("changed", []))
                self.library = self.library | set(reply.get("library", []))
                return reply["value"]
        return Proxy()

    def _receive(self):
        size = struct.unpack("<Q", self._read(8))[0]
        if size > _MAX_MESSAGE:
            raise SandboxCrash("answer too large")
        try:
            return _unpack(self._read(size))
        except (ValueError, KeyError, TypeError):
            raise SandboxCrash("malformed answer") from None

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise SandboxTimeout()
            chunk = os.read(self.proc.stdout.fileno(), n - len(buf))
            if not chunk:
                raise SandboxCrash(self.proc.wait())
            buf += chunk
        return buf

    def stop(self):
        """End the child (its whole process group) and keep the tail of what it printed in ``output``."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()
            self._log.seek(0)
            self.output += self._log.read()[-4000:].decode("utf-8", "replace")
            self._log.close()
            self.proc = None


# --------------------------------------------------------------------------- the child

class _Guard:
    """Wraps the package's answers in every loaded dmf_edu module; records calls while ``active``."""

    def __init__(self):
        self.active, self.calls, self.originals = False, {}, {}

    def install(self):
        answers = {}
        for name, places in PACKAGE_ANSWERS.items():
            for module, attr in places:
                fn = getattr(importlib.import_module(module), attr, None)
                if fn is not None:
                    answers.setdefault(id(fn), (fn, set()))[1].add(name)
        for name, ex in REGISTRY.items():
            if ex.reference is not None:
                answers.setdefault(id(ex.reference), (ex.reference, set()))[1].add(name)
        wrappers = {key: self._wrap(fn, names) for key, (fn, names) in answers.items()}
        for mod_name, module in list(sys.modules.items()):
            if module is not None and mod_name.split(".")[0] == "dmf_edu":
                for attr, value in list(vars(module).items()):
                    if id(value) in wrappers and callable(value):
                        setattr(module, attr, wrappers[id(value)])
        for name, ex in list(REGISTRY.items()):
            if id(ex.reference) in wrappers:
                REGISTRY[name] = dataclasses.replace(ex, reference=wrappers[id(ex.reference)])

    def _wrap(self, fn, names):
        qualified = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if self.active:
                for name in names:
                    self.calls.setdefault(name, set()).add(qualified)
            return fn(*args, **kwargs)
        del wrapper.__wrapped__                   # no way back to the unrecorded function
        self.originals[id(wrapper)] = (qualified, names)
        return wrapper

    def own(self, fn):
        """The package function ``fn`` is (through partials), or None."""
        while isinstance(fn, functools.partial):
            fn = fn.func
        if id(fn) in self.originals:
            return self.originals[id(fn)][0]
        module = str(getattr(fn, "__module__", "") or "")
        if module.split(".")[0] == "dmf_edu":
            return f"{module}.{getattr(fn, '__name__', '?')}"
        return None


def _limit_memory(megabytes):
    try:
        resource = importlib.import_module("resource")          # Unix only
        limit = int(megabytes) * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):      # not Linux, or a hard limit already lower
        pass


def _student_lineno(exc, path):
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) == path]
    return lines[-1] if lines else None


def _changed(args, before):
    out = []
    for k, (a, b) in enumerate(zip(args, before)):
        if isinstance(b, np.ndarray) and not (isinstance(a, np.ndarray) and a.shape == b.shape
                                              and np.array_equal(a, b, equal_nan=True)):
            out.append(k)
        elif isinstance(b, list) and any(isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=True)
                                         for x, y in zip(a, b)):
            out.append(k)
    return out


def _copy(x):
    return x.copy() if isinstance(x, np.ndarray) else [_copy(v) for v in x] if isinstance(x, list) else None


def _serve(module, path, guard, read, send):
    while True:
        message = pickle.loads(read())            # from the grading process, which is trusted
        if message[0] != "call":
            return
        _, name, args = message
        before = [_copy(a) for a in args]
        guard.active, guard.calls = True, {}
        try:
            out = getattr(module, name)(*args)
        except BaseException as exc:          # the student's code may raise anything, SystemExit included
            guard.active = False
            send({"kind": "raised", "text": f"{type(exc).__name__}: {exc}"[:1000],
                  "lineno": _student_lineno(exc, path)})
            continue
        guard.active = False
        send({"kind": "result", "changed": _changed(args, before),
              "library": sorted(guard.calls.get(name, ()))}, out)


def _child_main(path, memory_mb):
    _limit_memory(memory_mb)
    proto_in, proto_out = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)                                 # what the student prints goes to the log, not the protocol

    def read():
        size = struct.unpack("<Q", proto_in.read(8))[0]
        return proto_in.read(size)

    def send(message, value=None):
        proto_out.write(_frame(_pack(message, value)))
        proto_out.flush()

    guard = _Guard()
    guard.install()
    path = os.path.realpath(path)
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec = importlib.util.spec_from_file_location("dmf_edu_student_submission", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:                  # the student's top level may raise anything
        send({"kind": "import_error", "text": f"{type(exc).__name__}: {exc}"[:1000],
              "lineno": _student_lineno(exc, path)})
        return
    functions = {}
    for name, value in vars(module).items():
        if callable(value) and not name.startswith("_") and not isinstance(value, type):
            code = getattr(value, "__code__", None)
            functions[name] = {"own": guard.own(value),
                               "defined_here": bool(code and os.path.realpath(code.co_filename) == path)}
    send({"kind": "ready", "functions": functions})
    _serve(module, path, guard, read, send)


if __name__ == "__main__" and len(sys.argv) == 3:
    _child_main(sys.argv[1], sys.argv[2])
