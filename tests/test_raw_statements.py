"""Statements run past SQLAlchemy's execution (``hub.db.raw``) read what SQLAlchemy would have
read, and the statement counter still sees each of them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    JSON,
    String,
    bindparam,
    cast,
    event,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette

from bench import scenarios
from hub import fast_path
from hub.auth.principal import Principal
from hub.auth.principals import member_principal
from hub.auth.tokens import TokenRejected
from hub.db import raw
from hub.db.availability import is_database_unavailable
from hub.db.engine import autocommit_session_factory, create_engine, session_factory
from hub.db.models import Child, Claim, IdempotencyKey, Need
from hub.db.raw import RawStatement
from hub.domain import idempotency, needs, rate_limits
from hub.vocabulary import ClaimStatus, NeedCategory, NeedStatus, NeedUnit, Urgency
from tests.auth import Tokens
from tests.db_proxy import proxied
from tests.events_client import until
from tests.graphql import GraphQLClient
from tests.query_counter import count_statements, reported
from tests.test_query_count import seed_needs
from tests.world import COUNTY, OTHER_COUNTY, World


def _typed(rows: Any) -> list[list[tuple[type[Any], Any]]]:
    return [[(type(value), value) for value in row] for row in rows]


async def test_the_compiled_page_reads_what_sqlalchemy_reads(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    """Every column of both of the page's statements, a page after a cursor included: enums as
    their members (a need without a unit too), a quantity as a Decimal, an overdue claim."""
    await seed_needs(engine, children=30)
    async with engine.begin() as connection:
        child_id = (await connection.execute(select(Child.id).limit(1))).scalar_one()
        region = (
            await connection.execute(select(Child.region_code).where(Child.id == child_id))
        ).scalar_one()
        await connection.execute(
            insert(Need).values(
                child_id=child_id,
                region_code=region,
                category=NeedCategory.FINANCIAL,
                urgency=Urgency.CRITICAL,
                description="学费",
                quantity=Decimal("1250.50"),
                unit=NeedUnit.YUAN,
                status=NeedStatus.PARTIALLY_MET,
                due_date=date(2031, 9, 1),
            )
        )
    page = (await gql(scenarios.NEEDS_PAGE, {"county": COUNTY, "after": None}, as_="ngo")).ok()
    for edge in page["needs"]["edges"][1:3]:  # the first is the divisible need
        claim = await gql(
            scenarios.CLAIM_NEED, {"need": edge["node"]["id"], "key": edge["node"]["id"]}, as_="ngo"
        )
        assert claim.ok()["claimNeed"]["__typename"] == "ClaimNeedSuccess"
    async with engine.begin() as connection:  # one claim overdue, not yet swept
        overdue = (await connection.execute(select(Claim.id).limit(1))).scalar_one()
        await connection.execute(
            update(Claim)
            .where(Claim.id == overdue)
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )

    async with autocommit_session_factory(engine)() as session:
        principal = await member_principal(session, "ngo")
        assert principal is not None
        connection = await session.connection()
        cursor: dict[str, Any] = {}
        seen: set[Any] = set()
        for after in (False, True):
            statement = fast_path._page_statement(principal, COUNTY, after)
            with count_statements(engine) as sent:
                through_sqlalchemy = (await connection.execute(statement, cursor)).all()
            # The same statement, only executed otherwise: its values as parameters, as
            # SQLAlchemy sends them, or inline, as the page sends them.
            parameters = RawStatement.compile(statement, connection.dialect, cursor)
            assert sent == [parameters.sql]
            # After a cursor, its urgency is written in too; its time and id stay parameters.
            leading = cursor.get("after_0")
            compiled = fast_path._compiled_page(principal, COUNTY, leading, connection.dialect)
            assert compiled.sql != parameters.sql
            time_and_id = {name: value for name, value in cursor.items() if name != "after_0"}
            raw = await compiled.fetch(connection, time_and_id)
            assert _typed(raw) == _typed(through_sqlalchemy)
            assert [row._fields for row in raw[:1]] == [
                row._fields for row in through_sqlalchemy[:1]
            ]
            seen.update(value for row in raw for value in (row.unit, row.quantity, row.status))
            ids = {"need_ids": [row.id for row in raw]}
            with count_statements(engine) as sent:
                claims_statement = fast_path._claims_statement(principal)
                claims = (await connection.execute(claims_statement, ids)).all()
            compiled_claims = fast_path._compiled_claims(principal, connection.dialect)
            assert sent == [compiled_claims.sql]
            raw_claims = await compiled_claims.fetch(connection, ids)
            assert _typed(raw_claims) == _typed(claims)
            seen.update(value for row in raw_claims for value in (row.status, row.expired))
            last = raw[-2]  # the page's last row (the extra one only says there is more)
            key = needs.cursor_key(fast_path._ORDER, last)
            values = needs.cursor_values(fast_path._ORDER, key)
            cursor = dict(zip(needs.cursor_parameters(fast_path._ORDER), values, strict=True))
        assert {NeedUnit.YUAN, None, Decimal("1250.50"), NeedStatus.PARTIALLY_MET} <= seen
        assert {ClaimStatus.ACTIVE, True, False} <= seen


async def test_values_written_inline_are_escaped_and_read_alike(
    world: World, engine: AsyncEngine
) -> None:
    """Every type of value the page's statements fix, written into the text: a string with a
    quote and a backslash, a UUID, an enum, an array, a date and a number; only the named
    parameter stays one."""
    await seed_needs(engine, children=2)
    tricky = "O'Brien \\' OR 1=1 --"
    statement = select(
        Need.id,
        literal(tricky).label("text"),
        literal(["36", "3607'"], ARRAY(String)).label("prefixes"),
        literal(date(2031, 9, 1)).label("day"),
        literal(Decimal("12.50")).label("amount"),
    ).where(
        Need.status.in_([NeedStatus.OPEN, NeedStatus.CLAIMED]),
        Need.id != uuid.uuid4(),
        Need.region_code.like(func.any(literal(["36%"], ARRAY(String)))),
        Need.created_at > bindparam("after"),
    )
    after = {"after": datetime(2000, 1, 1, tzinfo=UTC)}
    inline = RawStatement.compile(statement, engine.dialect, ("after",), inline=True)
    as_parameters = RawStatement.compile(statement, engine.dialect, ("after",))
    assert [inline.sql.count("$"), as_parameters.sql.count("$")] == [1, 9]
    async with autocommit_session_factory(engine)() as session:
        connection = await session.connection()
        rows = await inline.fetch(connection, after)
        assert _typed(rows) == _typed(await as_parameters.fetch(connection, after))
    assert len(rows) == 4
    assert {(row.text, tuple(row.prefixes), row.day) for row in rows} == {
        (tricky, ("36", "3607'"), date(2031, 9, 1))
    }


async def test_the_first_page_is_planned_once_per_connection(
    world: World, engine: AsyncEngine
) -> None:
    """With its values inline, the first page's statement has no parameter: PostgreSQL keeps
    its plan, where with the values as parameters it planned each execution afresh."""
    await seed_needs(engine, children=2)
    async with autocommit_session_factory(engine)() as session:
        principal = await member_principal(session, "ngo")
        assert principal is not None
        connection = await session.connection()
        compiled = fast_path._compiled_page(principal, COUNTY, None, connection.dialect)
        for _ in range(8):
            assert len(await compiled.fetch(connection, {})) == 4
        plans = await _plans(connection, compiled)
    assert plans == (8, 0)


def test_a_column_the_raw_reading_does_not_know_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(TypeError):
        RawStatement.compile(select(cast(literal("{}"), JSON)), engine.dialect)


def test_every_parameter_left_open_must_be_in_the_statement(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError):
        RawStatement.compile(select(Need.id), engine.dialect, ("no_such_parameter",))


async def test_the_counter_sees_raw_statements_once_each(world: World, engine: AsyncEngine) -> None:
    """A statement sent on the asyncpg connection counts as one, as one SQLAlchemy executes
    does; an executemany counts once; a transaction's BEGIN and COMMIT do not count."""
    await seed_needs(engine, children=2)
    statement = RawStatement.compile(select(Need.id, Need.status), engine.dialect)
    with count_statements(engine) as statements:
        async with autocommit_session_factory(engine)() as session:
            connection = await session.connection()
            assert len(await statement.fetch(connection, {})) == 4
            await connection.execute(select(Need.id))
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE needs SET description = description WHERE id = :id"),
                [{"id": row.id} for row in await statement.fetch(connection, {})],
            )
        await reported()
    # asyncpg reports a statement from the event loop: in its own order.
    updates = [sql for sql in statements if sql.startswith("UPDATE needs")]
    assert len(updates) == 1
    select_ids = str(select(Need.id).compile(engine))
    assert sorted(statements) == sorted([statement.sql, select_ids, statement.sql, *updates])


async def test_who_asks_and_the_charge_read_alike_on_asyncpg(
    app: Starlette, tokens: Tokens, engine: AsyncEngine
) -> None:
    """Who asks (``token_principal``) and the rate limit's charge run on asyncpg in an
    autocommit session, through SQLAlchemy in one with a transaction: the same principal, or
    the same refusal, either way, and the same admission."""
    authenticator = app.state.authenticator
    member_tokens = [await tokens.member("ngo"), await tokens.member("officer")]
    bare_client = await tokens.sign(client_id=tokens.client_id_for("ngo"))  # holds no role
    for token in [*member_tokens, bare_client]:
        answers = []
        for sessions in (autocommit_session_factory(engine), session_factory(engine)):
            async with sessions() as session:
                try:
                    answers.append(await authenticator.from_token(token, session=session))
                except TokenRejected as refusal:
                    answers.append(str(refusal))
        on_asyncpg, through_sqlalchemy = answers
        assert on_asyncpg == through_sqlalchemy
        if isinstance(on_asyncpg, Principal):
            assert isinstance(through_sqlalchemy, Principal)
            assert on_asyncpg.grants and on_asyncpg.label == through_sqlalchemy.label
    assert answers == ["the client holds no live role"] * 2

    admissions = []
    for sessions in (autocommit_session_factory(engine), session_factory(engine)):
        async with sessions() as session:
            for _ in range(3):  # 3 of a budget of 4 per minute, then 2 more: over it
                admissions.append(await rate_limits.spend(session, "client:both", 1, 4))
            await session.commit()
    assert [a.admitted for a in admissions] == [True, True, True, True, False, False]
    assert admissions[-1].retry_after >= 1


async def test_a_raw_statement_in_a_transaction_runs_inside_it(engine: AsyncEngine) -> None:
    """In a session with a transaction, the first statement goes through SQLAlchemy (it sends
    the BEGIN) and the later ones past it, on asyncpg: all of them inside the transaction, so
    that a rollback takes every one back."""
    reserve = idempotency._RESERVE  # an INSERT .. RETURNING, as a claim sends it

    def key(name: str) -> dict[str, Any]:
        return {
            "actor": "raw-test",
            "key": name,
            "operation": "test",
            "fingerprint": "f",
            "result_id": None,
        }

    through_sqlalchemy: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        through_sqlalchemy.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with session_factory(engine)() as session:
            connection = await session.connection()  # the session's transaction, not begun yet
            first = await raw.rows(connection, reserve, key("first"))
            second = await raw.rows(connection, reserve, key("second"))
            assert [row.key for row in [*first, *second]] == ["first", "second"]
            assert len(through_sqlalchemy) == 1  # the second went past SQLAlchemy
            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    async with engine.connect() as connection:
        kept = await connection.scalar(
            select(func.count()).where(IdempotencyKey.actor == "raw-test")
        )
    assert kept == 0


async def test_a_page_after_a_cursor_keeps_its_plan(world: World, engine: AsyncEngine) -> None:
    """With the cursor's urgency written in, PostgreSQL keeps a generic plan after its five
    custom ones; with the urgency a parameter as well, it plans every execution afresh, as it
    did at 1,000,000 children: it then guesses that a third of the county's needs lie past any
    cursor, where for one among the few critical needs nearly all do."""
    await seed_needs(engine, children=20)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO needs (child_id, region_code, category, urgency, description) "
                "SELECT id, CASE WHEN n % 40 = 0 THEN region_code ELSE :elsewhere END, "
                "  'material', (CASE WHEN n % 50 = 0 THEN 'critical' ELSE 'low' END)::urgency, "
                "  '测试' "
                "FROM children, generate_series(1, 5000) AS n"
            ),
            {"elsewhere": OTHER_COUNTY},
        )
        await connection.execute(text("ANALYZE needs"))
    async with autocommit_session_factory(engine)() as session:
        principal = await member_principal(session, "ngo")
        assert principal is not None
        connection = await session.connection()
        first = await fast_path._compiled_page(principal, COUNTY, None, connection.dialect).fetch(
            connection, {}
        )
        leading, *time_and_id = needs.cursor_values(
            fast_path._ORDER, needs.cursor_key(fast_path._ORDER, first[10])
        )
        written_in = fast_path._compiled_page(principal, COUNTY, leading, connection.dialect)
        statement = fast_path._page_statement(principal, COUNTY, True)
        all_three = RawStatement.compile(
            statement, connection.dialect, needs.cursor_parameters(fast_path._ORDER), inline=True
        )
        for _ in range(10):
            page = await written_in.fetch(
                connection, dict(zip(["after_1", "after_2"], time_and_id, strict=True))
            )
            assert page == await all_three.fetch(
                connection,
                {"after_0": leading, "after_1": time_and_id[0], "after_2": time_and_id[1]},
            )
        plans = {
            "written in": await _plans(connection, written_in),
            "all three": await _plans(connection, all_three),
        }
    assert plans == {"written in": (5, 5), "all three": (0, 10)}


async def _plans(connection: AsyncConnection, compiled: RawStatement) -> tuple[int, int]:
    """How many generic and custom plans the connection's PostgreSQL made for ``compiled``."""
    found = await connection.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = :sql"
        ),
        {"sql": compiled.sql},
    )
    generic, custom = found.one()
    return generic, custom


@pytest.mark.parametrize("end", ["read", "not read yet"])
async def test_a_raw_statement_on_a_connection_the_server_ended_discards_it(
    database_url: str, engine: AsyncEngine, end: str
) -> None:
    """The server ends a connection a session holds (as a restart does) and says so; the close
    reaches the client at once, or (through a proxy that passes it on late) not yet, when
    asyncpg can run no statement on the connection either. A raw statement then fails as a
    lost connection does on SQLAlchemy's path: the database is unavailable, and the connection
    is discarded, not pooled again."""
    async with proxied(database_url) as (proxy, url):
        proxy.lag_closes(0 if end == "read" else 30)
        own = create_engine(url, pool_size=1)
        try:
            sessions = autocommit_session_factory(own)
            async with sessions() as session:
                connection = await session.connection()
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
                async with engine.connect() as admin:
                    await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                driver = (await connection.get_raw_connection()).driver_connection
                if end == "read":
                    await until(driver.is_closed)
                else:
                    await asyncio.sleep(0.3)  # the FATAL has come in long since; the close has not
                    assert not driver.is_closed()
                with pytest.raises(DisconnectionError) as raised:
                    await raw.rows(connection, select(literal(1).label("one")), {})
                assert is_database_unavailable(raised.value)
                assert connection.invalidated
            async with sessions() as session:
                again = await session.execute(text("SELECT pg_backend_pid()"))
                assert again.scalar() != pid
        finally:
            proxy.lag_closes(0)
            await own.dispose()
