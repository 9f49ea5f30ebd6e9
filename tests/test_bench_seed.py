"""The benchmark's dataset: bulk-loaded, yet it keeps every rule the hub's own writes keep."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy.engine import make_url

from bench.seed import seed
from hub.db import migrate
from tests.conftest import drop_database


async def test_a_small_seed_is_migrated_consistent_and_claimed_at_most_once(
    server_url: str,
) -> None:
    name = f"bench_test_{uuid.uuid4().hex[:8]}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await seed(url, children=400, seed=7)
        connection = await asyncpg.connect(url)
        try:
            counts = {
                table: await connection.fetchval(f"SELECT count(*) FROM {table}")
                for table in ("children", "child_identities", "needs", "claims", "deliveries")
            }
            revision = await connection.fetchval("SELECT version_num FROM alembic_version")
            twice = await connection.fetchval(
                "SELECT count(*) FROM (SELECT need_id FROM claims WHERE status = 'active' "
                "AND quantity IS NULL GROUP BY need_id HAVING count(*) > 1) AS twice"
            )
            # A need's status and pledge agree with its claims.
            disagreeing = await connection.fetchval(
                "SELECT count(*) FROM needs n WHERE n.status <> 'cancelled' AND "
                "n.pledged_quantity <> coalesce((SELECT sum(coalesce(c.quantity, 1)) "
                "FROM claims c WHERE c.need_id = n.id AND c.status IN ('active', 'fulfilled')), 0)"
            )
            # A provider claims only needs in the categories it serves.
            unserved = await connection.fetchval(
                "SELECT count(*) FROM claims c JOIN needs n ON n.id = c.need_id "
                "JOIN providers p ON p.id = c.provider_id WHERE n.category <> ALL(p.categories)"
            )
            clients = await connection.fetchval(
                "SELECT count(*) FROM oauth_clients WHERE client_id LIKE 'bench-%'"
            )
            # The change feed's checkpoints cover the seeded year, each a lower bound on the
            # transaction ids of every need changed from its time on.
            checkpoints = await connection.fetchval("SELECT count(*) FROM change_checkpoints")
            below_a_checkpoint = await connection.fetchval(
                "SELECT count(*) FROM change_checkpoints c JOIN needs n"
                " ON n.updated_at >= c.at AND n.change_xid < c.xid"
            )
        finally:
            await connection.close()
    finally:
        await drop_database(server_url, name)
    assert revision == migrate.head_revision()
    assert counts["children"] == counts["child_identities"] == 400
    assert 2.5 < counts["needs"] / 400 < 3.5
    assert counts["claims"] > 0 and counts["deliveries"] > 0
    assert twice == 0 and disagreeing == 0 and unserved == 0
    assert clients == 66
    assert checkpoints > 24 * 30 and below_a_checkpoint == 0
