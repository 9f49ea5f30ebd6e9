"""Jurisdictions are region-code prefixes; here they become index-friendly SQL ranges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Text, and_, any_, bindparam, false, or_
from sqlalchemy.orm import InstrumentedAttribute

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.domain.errors import Forbidden, InvalidInput

REGION_CODE_LENGTHS = (2, 4, 6, 9, 12)
COUNTY_CODE_LENGTH = 6  # a region code's first six digits name its county


class JurisdictionTooNarrow(Forbidden):
    """A filter by a region below the county where the reader sees only pseudonymous facts:
    the answer would tell which children or needs lie in that township or village."""

    code = "JURISDICTION_TOO_NARROW"


def validate_prefix(prefix: str, *, field: str = "jurisdiction") -> str:
    value = prefix.strip()
    # isdigit() alone would accept full-width and other non-ASCII digits.
    if not (value.isascii() and value.isdigit()) or len(value) not in REGION_CODE_LENGTHS:
        raise InvalidInput(
            "a jurisdiction is a region code of 2, 4, 6, 9 or 12 digits", field=field
        )
    return value


def _upper_bound(prefix: str) -> str:
    # Codes are digits compared bytewise ("C" collation), so bumping the last character gives
    # the first string past every code that starts with the prefix ('9' becomes ':').
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def within(
    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    prefixes: Iterable[str],
) -> ColumnElement[bool]:
    """Rows whose region code starts with any of ``prefixes`` (none: no rows)."""
    ranges = [and_(column >= p, column < _upper_bound(p)) for p in prefixes]
    if not ranges:
        return false()
    return ranges[0] if len(ranges) == 1 else or_(*ranges)


def within_parameter(column: Any, name: str) -> ColumnElement[bool]:
    """``within``'s rule for prefixes given as the array parameter ``name``, for a statement
    built once for every reader (PostgreSQL's ``^@``, starts-with). Where ``within``'s ranges
    let the column's index find the rows, this one only filters rows found otherwise (by id)."""
    condition: ColumnElement[bool] = column.op("^@")(any_(bindparam(name, type_=ARRAY(Text))))
    return condition


def narrow(allowed: Iterable[str], requested: str | None) -> tuple[str, ...]:
    """The part of ``allowed`` inside ``requested`` (all of ``allowed`` if none requested)."""
    allowed = tuple(allowed)
    if requested is None:
        return allowed
    if any(requested.startswith(p) for p in allowed):
        return (requested,)
    return tuple(p for p in allowed if p.startswith(requested))


def too_narrow(principal: Principal, permission: Permission, prefix: str) -> bool:
    """Whether narrowing to ``prefix`` would reach below the reader's tier: past the county,
    into a part of its reach (by ``permission``) where it may not see case detail.

    Decided by the reader's tier for the whole area, never per record: a provider that sees
    one claimed child's village would otherwise learn which of the others lie there too.
    Outside the reach nothing is found, and nothing told, whatever the length."""
    if len(prefix) <= COUNTY_CODE_LENGTH:
        return False
    narrowed = narrow(jurisdictions_for(principal, permission), prefix)
    return not all(may(principal, Permission.READ_CASE_DETAIL, part) for part in narrowed)


def checked_prefix(
    principal: Principal, permission: Permission, requested: str | None
) -> str | None:
    """The ``requested`` jurisdiction filter, validated and within the reader's tier (None if
    none was asked). Every filter or subscription by region comes through here."""
    if requested is None:
        return None
    prefix = validate_prefix(requested)
    if too_narrow(principal, permission, prefix):
        raise JurisdictionTooNarrow(
            "filtering below the county needs access to case detail in all of it",
            reason="your tier in this area shows a child's county, not its township or village",
            longest=COUNTY_CODE_LENGTH,
        )
    return prefix


def reach(principal: Principal, permission: Permission, requested: str | None) -> tuple[str, ...]:
    """Where the principal holds ``permission``, narrowed to the ``requested`` jurisdiction
    (refused below the reader's tier: see ``checked_prefix``)."""
    wanted = checked_prefix(principal, permission, requested or None)
    return narrow(jurisdictions_for(principal, permission), wanted)
