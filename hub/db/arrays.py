"""Matching a column against a list of values bound as one array parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement


def any_of_parameter(column: Any, name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)``: as ``any_of``, for a statement built once and executed with
    ``{name: [values]}``."""
    matches: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(column.type)))
    return matches


def any_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY($1)``, the values bound as one array.

    ``column.in_(values)`` binds each value as a parameter of its own: SQLAlchemy coerces and
    renders every one on every execution, and each length of list is a different statement to
    PostgreSQL and to asyncpg's cache of prepared statements. A page of 50 needs spent more CPU
    on that than on its rows. PostgreSQL plans ``= ANY(array)`` as it plans ``IN``: both use
    the column's index."""
    matches: ColumnElement[bool] = column == any_(
        bindparam(None, list(values), type_=ARRAY(column.type))
    )
    return matches
