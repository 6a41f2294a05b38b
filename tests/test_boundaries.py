"""The engine's shape, checked on its source with ast: no module reaches into another's private
names, and the console and the HTTP server use the engine only through its public API (the
Engine class, the dataclasses of engine.model, and the few modules named below)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the console (tui/) and the server (engine/server/) may import from the engine.
PUBLIC = {
    "chute.engine": None,  # the package's own exports: Engine, Config, ...
    "chute.engine.engine": {"Engine", "EngineError", "MAX_PAGE"},
    "chute.engine.model": None,  # the dataclasses between layers
    "chute.engine.config": None,
    "chute.engine.headless": None,  # `chute engine` and its options
    "chute.engine.server": None,  # the HTTP server as an engine service
    "chute.engine.monitor": {"Monitor"},  # the request monitor, a Flask drop-in
    "chute.engine.monitor.demo_app": None,
    "chute.engine.samples": None,
    "chute.engine.logs": None,
    "chute.engine.backup": {"BackupError", "Backups", "verify", "restore"},
    "chute.engine.report": None,
    "chute.engine.printable": None,  # names and reasons made safe for a terminal
    "chute.engine.endpoint": {"lookup", "publish"},  # where a running engine's API listens
    "chute.engine.joblock": {"JobBusy", "exclusive"},  # `chute backup` beside an engine without an API
    "chute.engine.cluster.protocol": None,  # what the engine and its workers say to each other
    "chute.engine.cluster.command": {"add_worker_args", "run_worker"},  # `chute worker`
}
# Engine attributes that are its parts, not its API.
PARTS = {"journal", "pipeline", "watcher", "scheduler", "notifier", "durations", "registry"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = ["chute", *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*folders: str) -> dict[str, ast.Module]:
    return {
        module_name(p): ast.parse(p.read_text(), str(p))
        for folder in folders
        for p in sorted((ROOT / folder).rglob("*.py"))
    }


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def defined_privates(tree: ast.Module) -> set[str]:
    """Private names a module defines: functions, classes, variables and attributes it sets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__slots__" for t in node.targets):
            names.update(e.value for e in getattr(node.value, "elts", ()) if isinstance(e, ast.Constant))
    return {n for n in names if is_private(n)}


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def private_reaches(
    trees: dict[str, ast.Module], packages: set[str], foreign: set[str] | None = None
) -> list[str]:
    """Imports of another module's private names, and `x._name` where `_name` belongs to
    another module of `trees` (or is in `foreign`); self._name and cls._name are a class's own
    business."""
    owned = {m: defined_privates(t) for m, t in trees.items()}
    found = []
    for module, tree in trees.items():
        others = (
            foreign if foreign is not None else set().union(*(v for m, v in owned.items() if m != module))
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = resolve(module, node, module in packages)
                found += [
                    f"{module}: from {source} import {a.name}" for a in node.names if is_private(a.name)
                ]
            elif isinstance(node, ast.Attribute) and is_private(node.attr):
                receiver = node.value
                if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                    continue
                if node.attr in others and node.attr not in owned[module]:
                    found.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr", "setattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and is_private(str(node.args[1].value))
                and node.args[1].value in others
            ):
                found.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    return found


def packages_of(*folders: str) -> set[str]:
    return {module_name(p) for folder in folders for p in (ROOT / folder).rglob("__init__.py")}


def test_no_engine_module_reaches_another_modules_private_names():
    assert private_reaches(sources("engine"), packages_of("engine")) == []


def test_the_console_reaches_no_private_name_of_the_engine():
    engine, tui = sources("engine"), sources("tui")
    engine_privates = set().union(*(defined_privates(t) for t in engine.values()))
    tui_privates = set().union(*(defined_privates(t) for t in tui.values()))
    only_engine = engine_privates - tui_privates
    assert "_services" in only_engine, "the check has the engine's names to look for"
    assert private_reaches(tui, packages_of("tui"), foreign=only_engine) == []


def test_the_private_check_catches_a_reach():
    trees = {
        "chute.engine.a": ast.parse("class A:\n    def __init__(self):\n        self._services = []\n"),
        "chute.engine.b": ast.parse(
            "from .a import _helper\n"
            "def f(engine):\n    engine._services.append(1)\n    return getattr(engine, '_services')\n"
        ),
    }
    found = private_reaches(trees, set())
    assert len(found) == 3, found


def engine_imports(module: str, tree: ast.Module, packages: set[str]) -> list[tuple[str, str]]:
    """(engine module, name) for every import from chute.engine; `import x` gives name '*'."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = resolve(module, node, module in packages)
            out += [(source, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "*") for a in node.names]
    return [
        (source, name)
        for source, name in out
        if source == "chute.engine" or source.startswith("chute.engine.")
        if not source.startswith("chute.engine.server") or not module.startswith("chute.engine.server")
    ]


def test_console_and_server_use_only_the_public_engine_api():
    packages = packages_of("engine", "tui")
    trees = {**sources("tui"), **sources("engine/server")}
    wrong = []
    for module, tree in trees.items():
        for source, name in engine_imports(module, tree, packages):
            # `from chute.engine import report` names a module of the engine.
            target, name = (f"{source}.{name}", None) if f"{source}.{name}" in PUBLIC else (source, name)
            allowed = PUBLIC.get(target, set())
            if target not in PUBLIC or (allowed is not None and name not in allowed):
                wrong.append(f"{module}: {source} {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in PARTS:
                receiver = node.value
                named = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
                if named in ("engine", "e"):
                    wrong.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert wrong == []
    assert trees, "found the sources"
