"""Statements compiled once into PostgreSQL's own text and run on the session's asyncpg
connection, past SQLAlchemy's execution.

For a statement built once and executed many times with a few parameters, SQLAlchemy's work on
each execution (its compiled cache, an execution context, processing each parameter and each
value of each row, greenlet switches) costs as much CPU as asyncpg's own. A ``RawStatement`` does
that work once: it is compiled with the connection's dialect to the text SQLAlchemy would send
(``$n`` placeholders, with the casts it renders, an expanding ``IN`` expanded), the values bound
when the statement was built are processed by their types once, and each execution only places
the named parameters it is given, processed by their types as SQLAlchemy would, and hands the
statement to asyncpg.

What asyncpg reads comes back as SQLAlchemy would return it: a value of an ``Enum`` column as the
enumeration's member (asyncpg reads a PostgreSQL enum as its label), through the column type's
own result processor. Any other column type is read only if asyncpg reads it as SQLAlchemy's
asyncpg dialect does (uuid, text, numbers, dates, times, booleans); ``compile`` refuses the rest.

The statement goes to the server as it is, outside SQLAlchemy's bookkeeping of the connection:
SQLAlchemy begins a transaction with its first statement, so a raw statement in a session with a
transaction could run before that BEGIN, outside the transaction. ``rows`` therefore runs a
statement raw only on an autocommit session's connection (``autocommit``) or once the
connection's transaction has begun on the server, and through SQLAlchemy otherwise. Nor does a
raw statement flush the session's pending objects first, as SQLAlchemy's ORM would: a caller
flushes them when the statement must see them.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    Time,
    Uuid,
    cast,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import replacement_traverse

from hub.db.lost_connections import discarded_when_lost

_Processor = Callable[[Any], Any]

# What can be run raw: a query, or a write returning rows (or none).
Statement = Select[Any] | TextualSelect | UpdateBase

# Column types whose values asyncpg reads as SQLAlchemy's asyncpg dialect returns them, with no
# processing: each is checked with ``isinstance`` on the column's type.
_READ_AS_IS: tuple[type[Any], ...] = (Boolean, Date, DateTime, Integer, String, Time, Uuid)


@dataclass(frozen=True)
class RawStatement:
    """A statement's PostgreSQL text, its positional values and how its rows are read."""

    sql: str
    values: tuple[Any, ...]  # each position's value; a named parameter's position holds None
    parameters: tuple[tuple[int, str, _Processor | None], ...]  # position, name, processor
    row: Callable[..., Any]  # a named tuple of the statement's columns, by their keys
    readers: tuple[tuple[int, _Processor], ...]  # the columns read by a processor

    @classmethod
    def compile(
        cls,
        statement: Statement,
        dialect: Dialect,
        parameters: Collection[str] = (),
        *,
        inline: bool = False,
    ) -> RawStatement:
        """``statement`` as ``dialect`` renders it, to be executed with ``parameters`` (the
        names of its bound parameters left without values), all its other values fixed now.

        ``inline``: the fixed values are written into the text as literals (SQLAlchemy renders
        and escapes them by their types), so that PostgreSQL sees only ``parameters`` as such.
        A prepared statement's plan is then kept for those values: with no parameter at all
        it is planned once per connection, where with the values as parameters PostgreSQL
        plans it afresh at each execution when a plan for any value would be a poor one (a
        county's needs, say). For a statement built for a few values that is executed many
        times; each such text is a statement asyncpg prepares of its own."""
        if inline:
            statement = _with_values_inline(statement, frozenset(parameters))
        # column_keys: which columns an INSERT or UPDATE without .values() sets, as at execution.
        compiled = statement.compile(dialect=dialect, column_keys=list(parameters))
        if not isinstance(compiled, SQLCompiler) or not compiled.positional:
            raise TypeError(f"{dialect.name} does not compile to positional parameters")
        expanded = compiled.construct_expanded_state(dict.fromkeys(parameters))
        names = expanded.positiontup or ()
        values: list[Any] = []
        named: list[tuple[int, str, _Processor | None]] = []
        for position, name in enumerate(names):
            processor = (
                expanded.processors.get(name)
                if name not in compiled.binds
                else compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            )
            if name in parameters:
                named.append((position, name, processor))
                values.append(None)
            else:
                value = expanded.parameters[name]
                values.append(value if processor is None else processor(value))
        if {name for _, name, _ in named} != set(parameters):
            raise ValueError(f"the statement does not bind all of {sorted(parameters)}")
        columns = statement.exported_columns  # selected or returned
        readers = tuple(
            (index, reader)
            for index, column in enumerate(columns)
            if (reader := _reader(column.type, dialect)) is not None
        )
        row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
        return cls(expanded.statement, tuple(values), tuple(named), row._make, readers)

    async def fetch(self, connection: AsyncConnection, parameters: Mapping[str, Any]) -> list[Any]:
        """The statement's rows, executed on ``connection``'s asyncpg connection with
        ``parameters`` (each of the names it was compiled with). A connection the server has
        ended is discarded (``hub.db.lost_connections``)."""
        driver = (await connection.get_raw_connection()).driver_connection
        async with discarded_when_lost(connection, driver):
            return await self.fetch_on(driver, parameters)

    async def fetch_on(self, driver: Any, parameters: Mapping[str, Any]) -> list[Any]:
        """As ``fetch``, on an asyncpg connection already in hand, and without discarding a
        connection the server has ended: run it inside ``discarded_when_lost``."""
        values = list(self.values)
        for position, name, processor in self.parameters:
            value = parameters[name]
            values[position] = value if processor is None else processor(value)
        records: Sequence[Any] = await driver.fetch(self.sql, *values)
        make, readers = self.row, self.readers
        if not readers:
            return [make(record) for record in records]
        rows = []
        for record in records:
            row = list(record)
            for index, reader in readers:
                row[index] = reader(row[index])
            rows.append(make(row))
        return rows


def _with_values_inline(statement: Statement, parameters: frozenset[str]) -> Statement:
    """``statement`` with every bound value but ``parameters`` rendered as a literal."""

    def inline(element: Any, **kw: Any) -> Any:
        if isinstance(element, BindParameter) and element.key not in parameters:
            copied = element._clone()
            copied.literal_execute = True
            if element.expanding or isinstance(element.type, NullType):
                return copied  # a list of values for IN: each takes the type of what it meets
            # A literal takes the type of what it is compared with, or none at all (text, as a
            # column of its own): cast, it keeps its own, as a parameter does.
            return cast(copied, element.type)
        return None

    source: Any = statement  # (the overloads of the stubs take one kind of clause at a time)
    inlined: Statement = replacement_traverse(source, {}, inline)
    return inlined


def _reader(type_: Any, dialect: Dialect) -> _Processor | None:
    """How a column of ``type_`` read by asyncpg becomes what SQLAlchemy would return."""
    if isinstance(type_, Enum):
        # asyncpg reads the label; the type's own result processor knows its enumeration and
        # how it is stored, asked once for each label (a lookup costs less than a call).
        process = type_.dialect_impl(dialect).result_processor(dialect, None)
        if process is None:
            return None
        members: dict[str | None, Any] = {label: process(label) for label in type_.enums}
        members[None] = None
        return members.__getitem__
    if isinstance(type_, Numeric) and not isinstance(type_, Float) and type_.asdecimal:
        return None  # a numeric column: asyncpg reads a Decimal, as SQLAlchemy returns it
    if isinstance(type_, _READ_AS_IS) or type(type_) is NullType:
        # NullType: an expression SQLAlchemy has no type for (an unknown function's result),
        # which it returns as the driver read it.
        return None
    if isinstance(type_, ARRAY) and _reader(type_.item_type, dialect) is None:
        return None  # asyncpg reads an array as a list, its items as above
    raise TypeError(f"no raw reading of a {type_!r} column")


def autocommit(connection: AsyncConnection) -> bool:
    """Whether each statement on ``connection`` is a transaction of its own (an autocommit
    session's connection), so that a raw statement runs there as SQLAlchemy would run it."""
    synced = connection.sync_connection
    options = synced.get_execution_options() if synced is not None else {}
    return options.get("isolation_level") == "AUTOCOMMIT"


async def rows(
    connection: AsyncConnection, statement: Statement, values: Mapping[str, Any]
) -> Sequence[Any]:
    """``statement``'s rows with ``values`` for its parameters: on asyncpg directly where the
    connection is an autocommit session's or its transaction has begun (compiled once per
    statement, past SQLAlchemy's execution, which cost more CPU than asyncpg's), through
    SQLAlchemy where it is in a transaction whose BEGIN has not gone out yet. ``statement`` is
    one built once (a module-level or cached statement): its compiled form is kept for it."""
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if autocommit(connection) or driver.is_in_transaction():
        compiled = _compiled(statement, connection.dialect, tuple(values))
        async with discarded_when_lost(connection, driver):
            return await compiled.fetch_on(driver, values)
    return (await connection.execute(statement, values)).all()


@functools.lru_cache(maxsize=64)
def _compiled(statement: Statement, dialect: Dialect, parameters: tuple[str, ...]) -> RawStatement:
    return RawStatement.compile(statement, dialect, parameters)
