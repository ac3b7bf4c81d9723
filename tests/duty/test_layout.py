"""cloud-duty's layout rules: rooms by domain, HTTP only at the API edge, no reach into tools."""

from __future__ import annotations

import ast
from pathlib import Path

DUTY = Path(__file__).resolve().parents[2] / "station" / "duty"
ROOMS = ("alerting", "fleet", "people", "reports", "api")


def _sources() -> list[Path]:
    return [p for p in DUTY.rglob("*.py") if "migrations" not in p.parts]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_rooms_exist_and_the_old_flat_modules_are_gone() -> None:
    assert all((DUTY / room / "__init__.py").is_file() for room in ROOMS)
    flat = {p.stem for p in DUTY.glob("*.py")}
    assert flat <= {
        "__init__",
        "app",
        "clock",
        "db",
        "errors",
        "jobs",
        "listing",
        "metrics",
        "scheduler",
        "schema",
        "services",
        "settings",
    }


def test_cloud_duty_imports_neither_edge_vision_nor_tools() -> None:
    for path in _sources():
        roots = {name.split(".")[0] for name in _imports(path)}
        assert not roots & {"edge", "vision", "devkit", "dashboard"}, path


def test_http_exceptions_live_only_in_the_api_package() -> None:
    for path in _sources():
        if "api" in path.relative_to(DUTY).parts[:1]:
            continue
        assert "HTTPException" not in path.read_text(), path


def test_modules_stay_small() -> None:
    sizes = {p: len(p.read_text().splitlines()) for p in _sources()}
    assert max(sizes.values()) <= 400, max(sizes, key=lambda p: sizes[p])
