"""SEL's imports point one way: domain, errors and config at the bottom; the llm, memory and voice
backends above them (never importing each other); the brain; the app; the frontends; the CLI.

Every import in sel/ is read from the source (ast), including imports inside functions and under
TYPE_CHECKING, so a lazy import cannot hide an arrow that points the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SEL = Path(__file__).resolve().parents[1] / "sel"

BOTTOM = {
    "sel",
    "sel.domain",
    "sel.errors",
    "sel.config",
    "sel.config_paths",  # sel.config's parts: default paths, the slices, the environment readers
    "sel.config_slices",
    "sel.config_values",
    "sel.env_reader",
    "sel.atomic_files",
    "sel.undecodable",
    "sel.metrics",  # a process-wide sink any layer may record into (prometheus-client only when serving)
    "sel.health",  # the heartbeat file's format and rules
    "sel.owner_settings",  # sel.toml's validated model, like the settings
    "sel.owner_toml",
    "sel.character_card",
}
BACKENDS = ("sel.llm", "sel.memory", "sel.voice")
LAYERS = {"bottom": 0, "backend": 1, "brain": 2, "app": 3, "frontend": 4, "cli": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(SEL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SEL.rglob("*.py"))}


def layer_of(module: str) -> tuple[str, str]:
    """(layer, group): the group tells backends and frontends apart."""
    if module in BOTTOM:
        return "bottom", module
    for backend in BACKENDS:
        if module == backend or module.startswith(backend + "."):
            return "backend", backend
    app_layer = (("sel.app", "app"), ("sel.model_choice", "app"))  # the model switch is part of the composition root
    app_layer += (("sel.owner_file", "app"),)  # sel.toml on disk: loaded, watched and edited by the app
    app_layer += (("sel.app_door", "app"), ("sel.app_voice", "app"), ("sel.app_data_rights", "app"))  # App and parts
    for prefix, layer in (("sel.brain", "brain"), *app_layer, ("sel.cli", "cli"), ("sel.__main__", "cli")):
        if module == prefix or module.startswith(prefix + "."):
            return layer, prefix
    if module.startswith("sel.frontends."):
        return "frontend", ".".join(module.split(".")[:3])
    if module == "sel.frontends":
        return "frontend", module
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layering.py's map")


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The sel modules ``path`` imports (``from sel.x import y`` counts sel.x.y when that is a module)."""
    known = set(modules())
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level_imports(tree) if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "sel"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sel":
            submodules = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= submodules
            if len(submodules) < len(node.names):  # a name defined in the module itself, not a submodule
                found.add(node.module)
    return found


def _top_level_imports(tree: ast.Module) -> list[ast.stmt]:
    """Imports that run when the module is imported (not inside functions, not under TYPE_CHECKING)."""
    out: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            out += [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


def arrow_problem(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when the arrow points down (or sideways within a group)."""
    (low_layer, low_group), (high_layer, high_group) = layer_of(imported), layer_of(importer)
    if low_group == high_group:
        return None
    if LAYERS[low_layer] > LAYERS[high_layer]:
        return f"{importer} ({high_layer}) imports {imported} ({low_layer}), a layer above it"
    if low_layer == high_layer and low_layer in ("backend", "frontend"):
        return f"{importer} imports {imported}: {low_layer}s never import each other"
    return None


def test_every_import_points_down_the_layers() -> None:
    problems = [
        problem
        for name, path in modules().items()
        for imported in sorted(imports_of(path))
        if imported in modules() and (problem := arrow_problem(name, imported))
    ]
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_there_are_no_import_cycles() -> None:
    graph = {
        name: {m for m in imports_of(path, top_level_only=True) if m in modules()} for name, path in modules().items()
    }
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_backends_know_nothing_of_discord() -> None:
    offenders = [
        name
        for name, path in modules().items()
        if layer_of(name)[0] in ("bottom", "backend", "brain", "app")
        and any(n == "discord" or n.startswith("discord.") for n in _all_imported_names(path))
    ]
    assert not offenders, f"these modules import discord, which only the Discord frontend may: {offenders}"


def test_no_module_is_loaded_by_name_behind_the_import_graphs_back() -> None:
    offenders = [name for name, path in modules().items() if 'import_module("sel' in path.read_text(encoding="utf-8")]
    assert not offenders, f"importlib.import_module of a sel module hides an import from this test: {offenders}"


def test_frontends_use_the_app_not_the_engine_or_the_store() -> None:
    offenders = []
    for name, path in modules().items():
        if layer_of(name)[0] != "frontend":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("engine", "memory_store"):
                offenders.append(f"{name}:{node.lineno} uses .{node.attr}")
    assert not offenders, "frontends talk to the App's methods only:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("sel.brain.brain", "sel.domain", True),
        ("sel.memory.store", "sel.llm.engine", False),
        ("sel.llm.engine", "sel.brain.brain", False),
        ("sel.app", "sel.frontends.terminal", False),
        ("sel.cli", "sel.frontends.terminal", True),
        ("sel.frontends.terminal", "sel.frontends.discord", False),
    ],
)
def test_the_rule_itself(importer: str, imported: str, allowed: bool) -> None:
    assert (arrow_problem(importer, imported) is None) == allowed


def _all_imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None
