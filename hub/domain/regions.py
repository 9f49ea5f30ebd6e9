"""The region tree. Region names and codes are public knowledge: any principal may read them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.arrays import any_of_parameter
from hub.db.models import Region
from hub.domain.errors import InvalidInput
from hub.domain.jurisdiction import validate_prefix
from hub.domain.pagination import Page, PageRequest, make_page, text_value, typed_key
from hub.vocabulary import RegionLevel

CURSOR_KIND = "region"


@dataclass(frozen=True)
class RegionView:
    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


def _view(region: Region) -> RegionView:
    return RegionView(region.code, region.name, region.level, region.parent_code)


# Built once (every page asks for its regions): only the codes differ. Plain columns, read
# through the session's connection: the ORM's entities and its execution path cost more CPU
# than the statement.
_REGIONS_BY_CODES = select(Region.code, Region.name, Region.level, Region.parent_code).where(
    any_of_parameter(Region.code, "codes")
)


async def regions_by_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, RegionView]:
    wanted = list(set(codes))
    if not wanted:
        return {}
    connection = await session.connection()
    rows = await connection.execute(_REGIONS_BY_CODES, {"codes": wanted})
    return {row.code: RegionView(*row) for row in rows}


async def list_regions(
    session: AsyncSession, parent_code: str | None, page: PageRequest
) -> Page[RegionView]:
    """The regions directly under ``parent_code``, or the provinces when it is None."""
    query = select(Region)
    if parent_code is None:
        query = query.where(Region.parent_code.is_(None))
    else:
        query = query.where(Region.parent_code == validate_prefix(parent_code, field="parentCode"))
    if page.after is not None:
        (code,) = typed_key(page.after, text_value)
        query = query.where(Region.code > code)
    rows = (await session.scalars(query.order_by(Region.code).limit(page.first + 1))).all()
    return make_page([_view(r) for r in rows], page, CURSOR_KIND, lambda view: (view.code,))


def ancestor_codes(code: str) -> list[str]:
    """Codes of the regions above ``code``, province first."""
    if RegionLevel.for_code(code) is None:
        raise InvalidInput("not a region code", field="code")
    return [code[:n] for n in (2, 4, 6, 9) if n < len(code)]
