"""Likely duplicate children: one child registered twice, under names that sound alike.

An exact duplicate (same ID number) is refused at registration by a unique index on the ID
number's keyed hash. Many children have no ID number on record, though, and names are written
differently by different hands: a homophone character (晓 for 小), the name in pinyin, a
surname read in its other sound (曾 as zeng or ceng), or a southern speaker's merged sounds
(zh/z, ch/c, sh/s, ing/in). So a child in the same village with the same birth date and a name
that sounds the same, or nearly, is reported as a likely duplicate for a person to judge:
at registration, on a child's record, and as a list of pairs over a jurisdiction, which also
finds the pairs registered before the comparison could catch them.

The match is made on names, so it is for those who may read identities; but it hands out no
name (the answer shows the children at the reader's tier, as any list does), so it writes no
access record.
"""

from __future__ import annotations

import functools
import itertools
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pypinyin import Style, pinyin
from sqlalchemy import and_, any_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.auth.policy import Permission, jurisdictions_for, may
from hub.auth.principal import Principal
from hub.db.arrays import any_of
from hub.db.models import Child, ChildIdentity
from hub.domain.children import ChildView, children_by_ids, view_of
from hub.domain.errors import Forbidden
from hub.domain.jurisdiction import narrow, reach, within
from hub.domain.pagination import (
    Page,
    PageRequest,
    encode_cursor,
    text_value,
    typed_key,
)
from hub.domain.visibility import actively_claimed
from hub.vocabulary import ChildStatus

# Readings multiply per character; a name of four polyphonic characters stays well below this.
MAX_READINGS = 64
_CJK = re.compile(r"[\u3400-\u9fff]")
_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n"))
CURSOR_KIND = "duplicates"
# Pairs of children one page of likely duplicates compares at most: a village with many children
# of one birth date (a placeholder date, say) is worked through over several pages, each of them
# quick, rather than in one long request.
MAX_COMPARISONS_PER_PAGE = 2000


class DuplicateReason(StrEnum):
    SAME_NAME = "same_name"
    # The same sound: a homophone, another reading of a character, or the name in pinyin.
    SAME_PINYIN = "same_pinyin"
    # Nearly the same sound: merged dialect sounds or one letter apart.
    SIMILAR_PINYIN = "similar_pinyin"


@dataclass(frozen=True)
class LikelyDuplicate:
    child: ChildView
    reason: DuplicateReason


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower().replace("ü", "v").replace("u:", "v"))


@functools.lru_cache(maxsize=4096)
def sound_keys(full_name: str) -> frozenset[str]:
    """Every toneless pinyin spelling of the name, without spaces."""
    name = full_name.strip()
    if not _CJK.search(name):
        # Written in pinyin: "Wang Xiaoming", "wang xiao ming", or given name first.
        tokens = [_letters(token) for token in name.split()]
        tokens = [token for token in tokens if token]
        if not tokens:
            return frozenset()
        return frozenset({"".join(tokens), "".join(tokens[-1:] + tokens[:-1])})
    readings = [
        sorted({_letters(option) for option in options} - {""}) or [""]
        for options in pinyin(name, style=Style.NORMAL, heteronym=True)
    ]
    spellings = itertools.islice(itertools.product(*readings), MAX_READINGS)
    return frozenset("".join(parts) for parts in spellings)


def _fold(key: str) -> str:
    for merged, plain in _FOLDS:
        key = key.replace(merged, plain)
    return key


def _one_edit_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    for i in range(len(a)):
        if a[i] != b[i]:
            rest = a[i:] if len(a) < len(b) else a[i + 1 :]
            return rest == b[i + 1 :]
    return True


def resemblance(name: str, other: str) -> DuplicateReason | None:
    if name.strip() == other.strip():
        return DuplicateReason.SAME_NAME
    mine, theirs = sound_keys(name), sound_keys(other)
    if mine & theirs:
        return DuplicateReason.SAME_PINYIN
    if {_fold(k) for k in mine} & {_fold(k) for k in theirs}:
        return DuplicateReason.SIMILAR_PINYIN
    # One letter apart is a typo only in names long enough for one letter to be a small part.
    if any(len(a) >= 6 and _one_edit_apart(a, b) for a in mine for b in theirs):
        return DuplicateReason.SIMILAR_PINYIN
    return None


def _comparable_reach(principal: Principal, jurisdiction: str | None) -> tuple[str, ...]:
    """Where the principal may read identities (the match is made on names) and the register
    (the answer shows the children), narrowed to ``jurisdiction`` if given."""
    identities = reach(principal, Permission.READ_IDENTITY, jurisdiction)
    register = jurisdictions_for(principal, Permission.READ_REGISTER)
    return tuple(sorted({p for prefix in register for p in narrow(identities, prefix)}))


async def likely_duplicates_of(
    session: AsyncSession, principal: Principal, child_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[LikelyDuplicate]]:
    """For each active child among ``child_ids`` whose identity the principal may read: the
    other active children of its village and birth date whose names sound alike, by code.

    One statement for any number of children (and one more if some are seen through a claim).
    """
    wanted = list(set(child_ids))
    prefixes = _comparable_reach(principal, None)
    if not wanted or not prefixes:
        return {}
    subject, subject_name = aliased(Child), aliased(ChildIdentity)
    other, other_name = aliased(Child), aliased(ChildIdentity)
    rows = (
        await session.execute(
            select(subject.id, subject_name.full_name, other, other_name.full_name)
            .join(subject_name, subject_name.child_id == subject.id)
            .join(
                other,
                and_(
                    other.region_code == subject.region_code,
                    other.birth_date == subject.birth_date,
                    other.status == ChildStatus.ACTIVE,
                    other.id != subject.id,
                ),
            )
            .join(other_name, other_name.child_id == other.id)
            .where(
                any_of(subject.id, wanted),
                subject.status == ChildStatus.ACTIVE,
                within(subject.region_code, prefixes),
            )
            .order_by(subject.id, other.code)
        )
    ).all()
    matches = [
        (subject_id, candidate, reason)
        for subject_id, name, candidate, candidate_name in rows
        if (reason := resemblance(name, candidate_name)) is not None
    ]
    claimed = await actively_claimed(
        session, principal, ((candidate.id, candidate.region_code) for _, candidate, _ in matches)
    )
    found: dict[uuid.UUID, list[LikelyDuplicate]] = defaultdict(list)
    for subject_id, candidate, reason in matches:
        found[subject_id].append(LikelyDuplicate(view_of(candidate, principal, claimed), reason))
    return dict(found)


async def likely_duplicates(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID
) -> list[LikelyDuplicate]:
    """Other active children of the same village and birth date whose names sound alike.

    Only for principals who may read the child's identity: the match is made on names.
    """
    return (await likely_duplicates_of(session, principal, [child_id])).get(child_id, [])


@dataclass(frozen=True)
class DuplicatePair:
    """Two active children who may be one: ``child`` has the earlier register code."""

    child: ChildView
    other: ChildView
    reason: DuplicateReason


@dataclass(frozen=True)
class _Candidate:
    child_id: uuid.UUID
    other_id: uuid.UUID
    key: tuple[str, str]
    child_name: str
    other_name: str


async def _candidate_pairs(
    session: AsyncSession, prefixes: tuple[str, ...], after: tuple[object, ...] | None, limit: int
) -> list[_Candidate]:
    """Pairs of active children sharing a village and birth date, by their codes.

    Grouping first reads the jurisdiction once and keeps only the groups of two or more, which
    are few; the pairs are then formed within each group through the primary key.
    """
    groups = (
        select(func.array_agg(Child.id).label("ids"))
        .where(Child.status == ChildStatus.ACTIVE, within(Child.region_code, prefixes))
        .group_by(Child.region_code, Child.birth_date)
        .having(func.count() > 1)
        .cte("same_village_and_birth_date")
    )
    child, child_name = aliased(Child), aliased(ChildIdentity)
    other, other_name = aliased(Child), aliased(ChildIdentity)
    query = (
        select(
            child.id.label("child_id"),
            child.code.label("child_code"),
            child_name.full_name.label("child_name"),
            other.id.label("other_id"),
            other.code.label("other_code"),
            other_name.full_name.label("other_name"),
        )
        .select_from(groups)
        .join(child, child.id == any_(groups.c.ids))
        .join(other, and_(other.id == any_(groups.c.ids), other.code > child.code))
        .join(child_name, child_name.child_id == child.id)
        .join(other_name, other_name.child_id == other.id)
    )
    if after is not None:
        query = query.where(tuple_(child.code, other.code) > tuple_(*after))
    rows = (await session.execute(query.order_by(child.code, other.code).limit(limit))).all()
    return [
        _Candidate(
            row.child_id,
            row.other_id,
            (row.child_code, row.other_code),
            row.child_name,
            row.other_name,
        )
        for row in rows
    ]


async def list_likely_duplicates(
    session: AsyncSession, principal: Principal, jurisdiction: str | None, page: PageRequest
) -> Page[DuplicatePair]:
    """Every pair of likely duplicates within the jurisdiction (by default the principal's whole
    reach), each pair once, ordered by the two register codes.

    A page compares at most ``MAX_COMPARISONS_PER_PAGE`` pairs of candidates: when that bound
    comes first, the page holds the pairs found so far (perhaps none) and its end cursor goes on
    after the last pair compared.
    """
    if not may(principal, Permission.READ_IDENTITY):
        raise Forbidden("likely duplicates are for officials who may read identities")
    prefixes = _comparable_reach(principal, jurisdiction)
    if not prefixes:
        return Page(items=(), cursors=(), has_next_page=False)
    after = None if page.after is None else typed_key(page.after, text_value, text_value)
    candidates = await _candidate_pairs(session, prefixes, after, MAX_COMPARISONS_PER_PAGE)
    matches: list[tuple[_Candidate, DuplicateReason]] = []
    for candidate in candidates:
        reason = resemblance(candidate.child_name, candidate.other_name)
        if reason is not None:
            matches.append((candidate, reason))
            if len(matches) > page.first:
                break
    more = len(matches) > page.first
    shown = matches[: page.first]
    views = await children_by_ids(
        session, principal, [c.child_id for c, _ in shown] + [c.other_id for c, _ in shown]
    )
    shown = [(c, reason) for c, reason in shown if c.child_id in views and c.other_id in views]
    # The bound came before the page was full: say there is more, and where to go on from.
    bounded = not more and len(candidates) == MAX_COMPARISONS_PER_PAGE
    return Page(
        items=[DuplicatePair(views[c.child_id], views[c.other_id], reason) for c, reason in shown],
        cursors=[encode_cursor(CURSOR_KIND, c.key) for c, _ in shown],
        has_next_page=more or bounded,
        read_to=encode_cursor(CURSOR_KIND, candidates[-1].key) if bounded else None,
    )
