"""Likely duplicate children: one child registered twice, under names that sound alike.

An exact duplicate (same ID number) is refused at registration by a unique index on the ID
number's keyed hash. Many children have no ID number on record, though, and names are written
differently by different hands: a homophone character (晓 for 小), the name in pinyin, a
surname read in its other sound (曾 as zeng or ceng), or a southern speaker's merged sounds
(zh/z, ch/c, sh/s, ing/in). So a child in the same village with the same birth date and a name
that sounds the same, or nearly, is reported as a likely duplicate for a person to judge.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from pypinyin import Style, pinyin
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may
from hub.auth.principal import Principal
from hub.db.models import Child, ChildIdentity
from hub.domain.children import ChildView, view_of
from hub.vocabulary import ChildStatus

# Readings multiply per character; a name of four polyphonic characters stays well below this.
MAX_READINGS = 64
_CJK = re.compile(r"[\u3400-\u9fff]")
_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n"))


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


async def likely_duplicates(
    session: AsyncSession, principal: Principal, child_id: uuid.UUID
) -> list[LikelyDuplicate]:
    """Other active children of the same village and birth date whose names sound alike.

    Only for principals who may read the child's identity: the match is made on names.
    """
    found = (
        await session.execute(
            select(Child, ChildIdentity.full_name)
            .join(ChildIdentity, ChildIdentity.child_id == Child.id)
            .where(Child.id == child_id)
        )
    ).first()
    if found is None:
        return []
    child, name = found
    if not may(principal, Permission.READ_IDENTITY, child.region_code):
        return []
    candidates = (
        await session.execute(
            select(Child, ChildIdentity.full_name)
            .join(ChildIdentity, ChildIdentity.child_id == Child.id)
            .where(
                Child.region_code == child.region_code,
                Child.birth_date == child.birth_date,
                Child.status == ChildStatus.ACTIVE,
                Child.id != child.id,
            )
            .order_by(Child.code)
        )
    ).all()
    duplicates = []
    for other, other_name in candidates:
        reason = resemblance(name, other_name)
        if reason is not None:
            duplicates.append(LikelyDuplicate(view_of(other, principal), reason))
    return duplicates
