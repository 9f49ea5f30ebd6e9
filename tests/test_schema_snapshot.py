"""The schema is reviewed like code: a snapshot in the repository, and a test that fails on any
change to it that has not been reviewed, saying which changes would break whom."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import cli
from hub.schema.changes import UPDATE_COMMAND, compare, report
from hub.schema.root import schema_sdl

SNAPSHOT = Path(__file__).resolve().parent.parent / "schema.graphql"

BASE = """
schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"]) {
  query: Query
}

type Child @key(fields: "id") {
  id: ID!
  code: String!
  school: String
}

type Region @key(fields: "code") {
  code: String!
  name: String! @shareable
}

enum Urgency {
  LOW
  HIGH
}

type Query {
  child(id: ID!): Child
  children(first: Int = 20): [Child!]!
  region(code: String!): Region
  urgencies: [Urgency!]!
}
"""


def test_the_live_schema_matches_its_reviewed_snapshot() -> None:
    snapshot = SNAPSHOT.read_text(encoding="utf-8")
    live = schema_sdl()
    if live != snapshot:
        pytest.fail(report(snapshot, live), pytrace=False)


def test_export_prints_or_writes_the_live_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["schema", "export"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == schema_sdl()
    target = tmp_path / "schema.graphql"
    written = runner.invoke(cli, ["schema", "export", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == schema_sdl()


def test_additions_are_neither_breaking_nor_dangerous() -> None:
    grown = BASE.replace("  school: String\n", "  school: String\n  ageBand: String!\n")
    assert compare(BASE, grown).breaking == compare(BASE, grown).dangerous == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  school: String\n", ""), "FIELD_REMOVED: Field Child.school was removed."),
        (("  code: String!\n  school", "  code: Int!\n  school"), "Child.code changed type"),
        (("child(id: ID!)", "child(id: ID!, purpose: String!)"), "REQUIRED_ARG_ADDED"),
        (('type Child @key(fields: "id")', "type Child"), 'Child lost @key(fields: "id")'),
        (('type Region @key(fields: "code")', "type Region"), "Region lost @key"),
        (("  urgencies: [Urgency!]!", "  urgencies: [Urgency!]! @inaccessible"), "Query.urgencies"),
        (("  HIGH\n", ""), "VALUE_REMOVED_FROM_ENUM"),
    ],
)
def test_breaking_changes_are_named(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in BASE
    breaking = compare(BASE, BASE.replace(old, new)).breaking
    assert any(expected in line for line in breaking), breaking


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  HIGH\n", "  HIGH\n  URGENT\n"), "VALUE_ADDED_TO_ENUM"),
        (("first: Int = 20", "first: Int = 50"), "ARG_DEFAULT_VALUE_CHANGE"),
        (("  name: String! @shareable", "  name: String!"), "Region.name is no longer @shareable"),
    ],
)
def test_dangerous_changes_are_named(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in BASE
    changes = compare(BASE, BASE.replace(old, new))
    assert changes.breaking == []
    assert any(expected in line for line in changes.dangerous), changes.dangerous


def test_the_report_says_what_breaks_and_how_to_update() -> None:
    text = report(BASE, BASE.replace("  school: String\n", ""))
    assert "BREAKING" in text and "Child.school was removed" in text
    assert "-  school: String" in text
    assert UPDATE_COMMAND in text
    unreadable = report("type Query {", BASE)
    assert "schema.graphql could not be read" in unreadable and UPDATE_COMMAND in unreadable
