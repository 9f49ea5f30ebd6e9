"""The import graph keeps its direction: schema/resolvers -> domain -> db, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parent.parent / "hub"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules_in(package: str) -> list[Path]:
    return sorted((HUB / package).rglob("*.py"))


def offending(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for path in modules_in(package):
        hits = sorted(
            name for name in imports_of(path) if any(name.startswith(f) for f in forbidden)
        )
        if hits:
            bad[str(path.relative_to(HUB))] = hits
    return bad


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("domain", ("strawberry", "starlette", "hub.schema", "hub.resolvers", "hub.app")),
        (
            "db",
            ("hub.domain", "hub.auth", "hub.schema", "hub.resolvers", "hub.app", "strawberry"),
        ),
        ("auth", ("hub.schema", "hub.resolvers", "strawberry")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    assert offending(package, forbidden) == {}


def test_schema_types_do_not_import_resolvers() -> None:
    bad = offending("schema", ("hub.resolvers",))
    # The roots are assembled in one place, which binds the resolvers to the fields.
    assert set(bad) <= {"schema/root.py"}
