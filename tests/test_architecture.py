"""The dependency rule of docs/architecture.md, checked on every import in the tree.

Function-level (lazy) imports count too: a part that reaches up only inside a function still
depends on what it imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = ("station", "edge", "vision", "dashboard", "devkit")


def modules(package: str) -> Iterator[tuple[str, Path]]:
    """Yield (dotted name, file) of every module of a package."""
    for path in sorted((REPO / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def project_imports(path: Path) -> set[str]:
    """Return every project module a file imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PROJECT}
    return found


def within(name: str, *prefixes: str) -> bool:
    """Return whether a dotted name is one of the prefixes or inside one."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def allowed(importer: str, imported: str) -> bool:
    """The rule: who may import whom."""
    if within(importer, "station.cli"):
        return True  # the top floor wires every part together
    if within(imported, "station.cli"):
        return False  # nothing reaches up into the command line
    if within(importer, "station.contracts"):
        return False  # the wire language imports pydantic only
    if within(importer, "vision"):
        return within(imported, "vision")
    if within(importer, "edge"):
        return within(
            imported, "edge", "vision", "station.contracts", "station.tokens", "station.mqtt"
        )
    if within(importer, "station.duty"):
        return within(imported, "station")
    if within(importer, "station"):
        return within(imported, "station")
    if within(importer, "dashboard"):
        return within(imported, "dashboard")  # it talks to cloud-duty over HTTP only
    return within(importer, "devkit")  # tools may use any runtime part


def violations() -> list[str]:
    """Return every import that breaks the rule, as 'importer -> imported'."""
    found = []
    for package in PROJECT:
        for name, path in modules(package):
            found += [
                f"{name} -> {i}" for i in sorted(project_imports(path)) if not allowed(name, i)
            ]
    return found


def test_no_part_imports_what_the_dependency_rule_forbids() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("vision.fall", "edge.config"),
        ("vision.pipeline", "station.contracts"),
        ("edge.node", "station.duty.app"),
        ("edge.analysis", "station.cli.main"),
        ("station.duty.app", "edge.node"),
        ("station.duty.app", "vision.detector"),
        ("station.contracts", "station.tokens"),
        ("dashboard.client", "station.contracts"),
        ("station.tokens", "station.cli.entry"),
        ("devkit.demo", "station.cli.main"),
    ],
)
def test_the_rule_refuses_each_forbidden_direction(importer: str, imported: str) -> None:
    assert not allowed(importer, imported)


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from edge.node import run_node\n    import station.cli.main\n")
    assert project_imports(source) == {"edge.node", "station.cli.main"}
