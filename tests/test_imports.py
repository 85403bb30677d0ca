"""Imports run one way: cli → api → node → the rooms (live, cap, delivery, ingest, query) →
service → storage → domain → base, and no module imports itself round a cycle. Every import
counts, at the top of a module or inside a function (``docs/architecture.md`` draws it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "tryvoga"

# The room of each module, by the longest prefix of its name that is listed.
ROOMS = {
    "tryvoga": "base",  # __init__
    "tryvoga.errors": "base",
    "tryvoga.settings": "base",
    "tryvoga.eventloop": "base",
    "tryvoga.collector": "base",  # when the garbage collector may pause the server
    "tryvoga.parsing": "base",  # ids and numbers as the edges read them
    "tryvoga.logs": "base",  # log formats and redaction
    "tryvoga.metrics": "base",  # the Prometheus metrics
    "tryvoga.data": "base",  # the packaged data (catalogue, geometry, sirens)
    # The CAP settings' parsers, which settings.py uses: they import nothing of tryvoga.
    "tryvoga.cap.options": "base",
    "tryvoga.domain": "domain",
    "tryvoga.storage": "storage",
    "tryvoga.service": "service",
    "tryvoga.approval": "service",  # the two-person rule the service applies
    "tryvoga.commands": "service",  # the typed commands the service takes
    "tryvoga.operators": "operators",  # console operators and their sessions
    "tryvoga.live": "live",
    "tryvoga.delivery": "delivery",
    "tryvoga.cap": "cap",
    "tryvoga.ingest": "ingest",
    "tryvoga.query": "query",
    "tryvoga.node": "node",
    "tryvoga.turns": "node",  # the turns in which the node's commands reach its writer
    "tryvoga.api": "api",
    "tryvoga.web": "web",
    "tryvoga.cli": "cli",
}

_BELOW_SERVICE = {"base", "domain", "storage"}
_ROOMS_BESIDE = {"live", "delivery", "cap", "ingest", "query", "operators"}
# What each room may import (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "domain": {"base"},
    "storage": {"base", "domain"},
    "service": {"base", "domain", "storage"},
    "live": _BELOW_SERVICE,
    "query": _BELOW_SERVICE,
    "delivery": _BELOW_SERVICE | {"service"},
    # CAP fetching checks addresses as webhooks do (delivery/safety.py); delivery imports
    # nothing of cap.
    "cap": _BELOW_SERVICE | {"service", "delivery"},
    "ingest": _BELOW_SERVICE | {"service"},
    "operators": _BELOW_SERVICE | {"service"},
    "node": _BELOW_SERVICE | {"service"} | _ROOMS_BESIDE,
    # The HTTP API and the web pages are one layer (create_app may serve both); no module
    # cycle between them all the same.
    "api": _BELOW_SERVICE | {"service", "node", "web"} | _ROOMS_BESIDE,
    "web": _BELOW_SERVICE | {"service", "node", "api"} | _ROOMS_BESIDE,
    "cli": _BELOW_SERVICE | {"service", "node", "api", "web"} | _ROOMS_BESIDE,
}


def module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def room_of(module: str) -> str | None:
    """The room of the longest listed prefix; ``tryvoga`` alone is its ``__init__``, so a new
    module at the top has no room until it is given one."""
    name = module
    while name and name != "tryvoga":
        if name in ROOMS:
            return ROOMS[name]
        name = name.rpartition(".")[0]
    return ROOMS["tryvoga"] if module == "tryvoga" else None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The tryvoga modules ``module`` imports anywhere in its file (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from tryvoga.api import cap`` imports the module tryvoga.api.cap.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant)):
            targets = [str(node.args[0].value)]  # importlib by a string counts too
        for target in targets:
            if target == "tryvoga" or target.startswith("tryvoga."):
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                if target != module:
                    found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_a_new_top_level_module_has_no_room_until_given_one() -> None:
    assert room_of("tryvoga") == "base" and room_of("tryvoga.node") == "node"
    assert room_of("tryvoga.api.app") == "api" and room_of("tryvoga.newthing") is None


def test_every_module_has_a_room() -> None:
    homeless = [name for name in module_names() if room_of(name) is None]
    assert not homeless, (f"{homeless}: give each a room in ROOMS (tests/test_imports.py) and "
                          "docs/architecture.md")


def test_imports_run_one_way() -> None:
    wrong = []
    for module, targets in graph().items():
        room = room_of(module)
        assert room is not None
        for target in sorted(targets):
            to = room_of(target)
            if to is not None and to != room and to not in ALLOWED[room]:
                wrong.append(f"{module} ({room}) imports {target} ({to})")
    assert not wrong, "imports against the direction:\n" + "\n".join(wrong)


def cycles_in(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets (each as its modules, the first repeated last)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycles() -> None:
    cycles = cycles_in(graph())
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_the_check_finds_a_cycle_through_a_function_level_import() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles_in(edges) == [["a", "b", "c", "a"]]
    assert cycles_in({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("source, expected", [
    ("from tryvoga.api import cap\n", {"tryvoga.api.cap"}),
    ("def f():\n    from tryvoga.cli.kit import friendly\n", {"tryvoga.cli.kit"}),
    ("import importlib\nimportlib.import_module('tryvoga.api.app')\n", {"tryvoga.api.app"}),
    ("from . import hub\n", {"tryvoga.live.hub"}),
    ("from tryvoga.domain.events import Event\n", {"tryvoga.domain.events"}),
])
def test_the_check_sees_every_kind_of_import(tmp_path: Path, source: str,
                                             expected: set[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert imports_of("tryvoga.live.probe", path, module_names()) == expected
