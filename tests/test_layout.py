"""The layout of the package: imports go down the layers and never in a circle (lazy imports
included), no module reads another module's private names, only ``__init__`` files hand on
names, the public API of ``dmf_edu`` stays importable, and modules and functions stay short.

Layers, bottom to top (a module may import its own layer and the layers below):

0. ``_version``, ``_validate``, ``_seeds``, ``_io`` — argument checks, seeds, files;
1. ``linalg``, ``metrics``, ``targets``;
2. ``factorization``, ``problems``, ``datasets``, ``checks`` (the gradient checkers);
3. ``training``, ``dynamics``;
4. ``baselines``, ``landscape``, ``tensors``;
5. ``proofs`` (the pages and their machinery);
6. ``experiments``, ``course``;
7. ``cli``, ``__main__``.

The analysis is static (``ast``): every ``import`` statement counts, at module level or inside a
function.
"""

import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = {
    "_version": 0, "_validate": 0, "_seeds": 0, "_io": 0,
    "linalg": 1, "metrics": 1, "targets": 1,
    "factorization": 2, "problems": 2, "datasets": 2, "checks": 2,
    "training": 3, "dynamics": 3,
    "baselines": 4, "landscape": 4, "tensors": 4,
    "proofs": 5,
    "experiments": 6, "course": 6,
    "cli": 7, "__main__": 7,
}
# the names of dmf_edu.__all__ before the package was split into rooms: users' code imports them
PUBLIC_BEFORE_THE_MOVE = [
    "end_to_end", "layer_gradients", "init_weights", "hidden_widths", "balancedness",
    "balancedness_residuals", "MatrixCompletion", "MatrixSensing", "random_low_rank",
    "sample_completion", "gaussian_sensing", "commuting_sensing", "gradient_descent", "Run",
    "DivergenceError", "Stepper", "record_schedule", "heldout_error", "effective_rank",
    "nuclear_norm", "schatten_norm", "singular_values", "reconstruction_error", "relative_error",
    "depth_multiplier", "log_mean", "psd_power", "directional_check", "entrywise_check",
    "taylor_slope", "check_layer_gradients",
    "end_to_end_operator", "end_to_end_operator_sum", "end_to_end_operator_inverse",
    "induced_velocity", "singular_value_velocity", "singular_vector_velocity", "svd_velocity_fd",
    "check_end_to_end_dynamics", "check_svd_velocities", "gradient_flow", "end_to_end_flow",
    "scalar_velocity", "time_to_reach", "scalar_trajectory", "escape_time", "escape_time_asymptotic",
    "diagonal_recursion",
    "BaselineResult", "nuclear_norm_minimization", "nuclear_norm_kkt", "schatten_minimization",
    "greedy_low_rank", "GreedyResult", "x5_problem", "schatten_profile",
    "metric", "minimum_norm_lift", "volume_density", "fibre_entropy", "rescaled_multiplier",
    "loss_hessian_apply", "hessian_vector_product", "hessian_operator", "hessian_matrix",
    "hessian_extremes", "check_hessian_vector_product", "classify_point", "Stages", "detect_stages",
]
MAX_TOP_MODULES = 14
MAX_MODULE_LINES = 520          # "about 500"
MAX_FUNCTION_LINES = 90         # "about 80"


def _modules():
    """``{dotted name: path}`` of every module of the package, ``proofs/`` as ``dmf_edu.proofs``."""
    found = {}
    for path in sorted((ROOT / "dmf_edu").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted((ROOT / "proofs").glob("*.py")):
        stem = path.stem
        found["dmf_edu.proofs" if stem == "__init__" else f"dmf_edu.proofs.{stem}"] = path
    return found


MODULES = _modules()


def _resolve(module, node):
    """The dotted names one ``import`` / ``from ... import`` statement of ``module`` loads."""
    is_package = MODULES[module].name == "__init__.py"
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    # `from pkg import submodule` loads the submodule; names that are not modules come from pkg
    return submodules + ([target] if len(submodules) < len(node.names) else [])


def _imports():
    """``{module: [(imported module, line, statement node)]}`` within the package."""
    edges = {}
    for module, path in MODULES.items():
        out = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, node):
                    if target == "dmf_edu" or target.startswith("dmf_edu."):
                        out.append((target, node.lineno, node))
        edges[module] = out
    return edges


EDGES = _imports()


def _room(module):
    """The layer key of a module: its top-level room under ``dmf_edu``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _existing(target):
    """The module a dotted import target refers to (a name imported from a module is not one)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def test_every_room_has_a_layer():
    rooms = {_room(m) for m in MODULES} - {None}
    assert not rooms - set(LAYERS), f"rooms without a layer in this test: {sorted(rooms - set(LAYERS))}"


def test_imports_only_go_down_the_layers():
    wrong = []
    for module, out in EDGES.items():
        room = _room(module)
        for target, line, _ in out:
            target = _existing(target)
            if target == "dmf_edu" and module != "dmf_edu":
                wrong.append(f"{module}:{line} imports the package root dmf_edu (import the module itself)")
                continue
            if room is None or _room(target) is None:
                continue
            if LAYERS[_room(target)] > LAYERS[room]:
                wrong.append(f"{module}:{line} imports {target} (layer {LAYERS[_room(target)]} > {LAYERS[room]})")
    assert not wrong, "imports going up:\n" + "\n".join(wrong)


def test_no_import_cycles_lazy_imports_included():
    graph = {m: {_existing(t) for t, _, _ in out} - {m, None} for m, out in EDGES.items()}
    for module, targets in graph.items():       # a package's __init__ runs when a submodule loads
        for target in list(targets):
            parent = target.rpartition(".")[0]
            while parent.startswith("dmf_edu.") and not module.startswith(parent + ".") and module != parent:
                targets.add(parent)
                parent = parent.rpartition(".")[0]
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_reads_another_modules_private_names():
    wrong = []
    for module, out in EDGES.items():
        for target, line, node in out:
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
                           and not (target in MODULES and target.endswith("." + a.name))]  # a private module is fine
                if private and _existing(target) != module:
                    wrong.append(f"{module}:{line} imports {private} from {target}")
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", "sys"))):
                wrong.append(f"{module}:{node.lineno} reads {ast.unparse(node)}")
    assert not wrong, "private names read across modules:\n" + "\n".join(wrong)


def test_only_init_files_hand_on_names():
    """A name imported into a module and listed in its ``__all__`` is handed on: only packages do that."""
    wrong = []
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                listed = {e.value for e in getattr(node.value, "elts", []) if isinstance(e, ast.Constant)}
                if listed & imported:
                    wrong.append(f"{module} lists imported names in __all__: {sorted(listed & imported)}")
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                wrong.append(f"{module} star-imports {node.module}")
            if isinstance(node, ast.Assign) and "sys.modules[__name__]" in map(ast.unparse, node.targets):
                wrong.append(f"{module} rebinds itself in sys.modules")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", PUBLIC_BEFORE_THE_MOVE)
def test_every_public_name_of_before_the_move_is_importable_from_dmf_edu(name):
    import dmf_edu
    assert name in dmf_edu.__all__
    assert getattr(dmf_edu, name) is not None


def test_every_name_in_all_is_importable():
    for module in ("dmf_edu", "dmf_edu.training", "dmf_edu.dynamics", "dmf_edu.baselines", "dmf_edu.landscape"):
        mod = importlib.import_module(module)
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{module}.__all__ names missing: {missing}"


def test_at_most_fourteen_modules_at_the_top():
    top = [p.stem for p in (ROOT / "dmf_edu").glob("*.py") if p.stem not in ("__init__", "__main__")]
    assert len(top) <= MAX_TOP_MODULES, sorted(top)


def test_modules_and_functions_stay_short():
    long = []
    for module, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{module}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {size} lines")
    assert not long, "\n".join(long)


def test_no_file_cites_a_document_outside_the_repository():
    cited = []
    for folder in ("dmf_edu", "proofs", "tests", "tools", "benchmarks", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".ipynb") and path.name != pathlib.Path(__file__).name:
                text = path.read_text(errors="replace")
                for word in ("STYLE" + ".md", "ARCHITECTURE" + ".md", "../" + "shared"):
                    if word in text:
                        cited.append(f"{path.relative_to(ROOT)} cites {word}")
    assert not cited, "\n".join(cited)
