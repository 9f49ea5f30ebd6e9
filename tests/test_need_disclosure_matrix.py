"""Per-need disclosure, generated from the policy: who reads the text of a need (its description,
why it was cancelled) and of the claims and deliveries on it (notes, end reasons, what was
delivered, evidence, dispute reasons).

For every provider kind, a scene in Gan county with one need of every category on each of four
children: needs a provider of that kind holds, needs of a child where it holds only another
need, needs of a child it holds nothing of, and needs it held until they were cancelled. Other
providers claim, deliver and release on all of them. Each reader - an official of that kind
(where the kind can have officials at all), a worker of a provider of that kind serving every
category, and a worker of one serving only the categories that are not sensitive - reads them
through every path: ``need``, ``node``, ``_entities``, ``child { needs, coverage }``, the needs
page, ``claims``, ``claim`` and ``delivery``. What each should see is computed from the policy's
data (``ROLE_PERMISSIONS``, ``KIND_ROLES``, ``SENSITIVE_CATEGORY_READERS``), never listed by hand.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.relay import GlobalID

from hub.auth.policy import KIND_ROLES, ROLE_PERMISSIONS, SENSITIVE_CATEGORY_READERS, Permission
from hub.db.models import Child, Claim, Delivery, Member, Need, Provider, RoleGrant
from hub.vocabulary import (
    ClaimStatus,
    DeliveryStatus,
    Guardianship,
    NeedCategory,
    NeedStatus,
    NeedUnit,
    ProviderKind,
    Role,
    Urgency,
)
from tests.auth import Tokens
from tests.graphql import GraphQLClient
from tests.registry_data import gid
from tests.world import COUNTY, VILLAGE, World

HELD, SIBLING, UNCLAIMED, ENDED = "held", "sibling", "unclaimed", "ended"
SITUATIONS = (HELD, SIBLING, UNCLAIMED, ENDED)

# --- what the policy says -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    name: str
    kind: ProviderKind
    role: Role
    served: frozenset[NeedCategory]
    provider_id: uuid.UUID = field(default_factory=uuid.uuid4)
    member_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def official(self) -> bool:
        """Reads every need's text in its jurisdiction (Gan county, where the scene lies)."""
        return (
            Permission.READ_CASE_DETAIL in ROLE_PERMISSIONS[self.role]
            and self.role in KIND_ROLES[self.kind]
        )


@dataclass(frozen=True)
class NeedRecord:
    id: uuid.UUID
    situation: str
    category: NeedCategory
    # Providers holding an active claim on it.
    held_by: frozenset[uuid.UUID]


def qualifies(reader: Reader, category: NeedCategory) -> bool:
    kinds = SENSITIVE_CATEGORY_READERS.get(category)
    return kinds is None or (reader.kind in kinds and category in reader.served)


def reads_need_text(reader: Reader, need: NeedRecord) -> bool:
    if reader.official:
        return True
    return reader.provider_id in need.held_by and qualifies(reader, need.category)


def reads_record_text(reader: Reader, provider_id: uuid.UUID, need: NeedRecord) -> bool:
    """A claim's or a delivery's text: its own provider's, or as the need's."""
    return provider_id == reader.provider_id or reads_need_text(reader, need)


def official_role(kind: ProviderKind) -> Role | None:
    """A role of that kind reading case detail, if the kind can hold one."""
    return next(
        (
            role
            for role in Role
            if role in KIND_ROLES[kind] and Permission.READ_CASE_DETAIL in ROLE_PERMISSIONS[role]
        ),
        None,
    )


def readers_of(kind: ProviderKind) -> list[Reader]:
    not_sensitive = frozenset(c for c in NeedCategory if c not in SENSITIVE_CATEGORY_READERS)
    readers = [
        Reader("holder", kind, Role.WORKER, frozenset(NeedCategory)),
        Reader("holder serving no sensitive category", kind, Role.WORKER, not_sensitive),
    ]
    role = official_role(kind)
    if role is not None:
        readers.append(Reader("official", kind, role, frozenset(NeedCategory)))
    return readers


# --- the scene ----------------------------------------------------------------------------------


@dataclass
class Scene:
    readers: list[Reader]
    needs: dict[uuid.UUID, NeedRecord] = field(default_factory=dict)
    children: dict[str, uuid.UUID] = field(default_factory=dict)
    # global id -> field -> the text stored (None where nothing is)
    texts: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # global id of a claim or delivery -> its provider and need
    records: dict[str, tuple[uuid.UUID, uuid.UUID]] = field(default_factory=dict)

    def need_of(self, global_id: str) -> NeedRecord:
        """The need, or the need a claim or delivery is on."""
        if GlobalID.from_id(global_id).type_name == "Need":
            return self.needs[uuid.UUID(GlobalID.from_id(global_id).node_id)]
        return self.needs[self.records[global_id][1]]

    def expected(self, reader: Reader, global_id: str, name: str) -> str | None:
        """What ``reader`` should read in the field: the text, or null."""
        text = self.texts[global_id][name]
        need = self.need_of(global_id)
        if global_id in self.records:
            shown = reads_record_text(reader, self.records[global_id][0], need)
        else:
            shown = reads_need_text(reader, need)
        return text if shown else None

    def ids_of(self, type_name: str) -> list[str]:
        return [key for key in self.texts if GlobalID.from_id(key).type_name == type_name]


class _Writer:
    """Rows written straight into the database as the claim and delivery workflows leave them."""

    def __init__(self, connection: AsyncConnection, scene: Scene, others: uuid.UUID) -> None:
        self.connection = connection
        self.scene = scene
        self.others = others  # another provider, claiming and delivering on every need
        self.later = datetime.now(UTC) + timedelta(days=20)
        self.now = datetime.now(UTC)

    async def need(
        self,
        child_id: uuid.UUID,
        situation: str,
        category: NeedCategory,
        held_by: frozenset[uuid.UUID],
        pledged: int,
    ) -> uuid.UUID:
        need_id = uuid.uuid4()
        cancelled = situation == ENDED
        description = f"{situation} {category.value}: what the child needs, in words"
        cancel_reason = f"{situation} {category.value}: why it was cancelled" if cancelled else None
        await self.connection.execute(
            insert(Need).values(
                id=need_id,
                child_id=child_id,
                region_code=VILLAGE,
                category=category,
                urgency=Urgency.HIGH,
                description=description,
                quantity=Decimal(5),
                unit=NeedUnit.ITEMS,
                pledged_quantity=Decimal(pledged),
                status=NeedStatus.CANCELLED if cancelled else NeedStatus.PARTIALLY_MET,
                cancel_reason=cancel_reason,
            )
        )
        self.scene.needs[need_id] = NeedRecord(need_id, situation, category, held_by)
        self.scene.texts[gid("Need", need_id)] = {
            "description": description,
            "cancelReason": cancel_reason,
        }
        return need_id

    async def claim(
        self,
        need_id: uuid.UUID,
        provider_id: uuid.UUID,
        status: ClaimStatus = ClaimStatus.ACTIVE,
        *,
        delivered: int = 0,
    ) -> uuid.UUID:
        claim_id = uuid.uuid4()
        note = f"claim {claim_id.hex[:6]}: the claimant's note"
        end_reason = None if status is ClaimStatus.ACTIVE else f"claim {claim_id.hex[:6]}: ended"
        await self.connection.execute(
            insert(Claim).values(
                id=claim_id,
                need_id=need_id,
                provider_id=provider_id,
                quantity=Decimal(1),
                status=status,
                expected_by=self.later,
                expires_at=self.later,
                note=note,
                delivered_quantity=Decimal(delivered),
                ended_at=None if status is ClaimStatus.ACTIVE else self.now,
                end_reason=end_reason,
            )
        )
        key = gid("Claim", claim_id)
        self.scene.texts[key] = {"note": note, "endReason": end_reason}
        self.scene.records[key] = (provider_id, need_id)
        return claim_id

    async def delivery(
        self, claim_id: uuid.UUID, need_id: uuid.UUID, provider_id: uuid.UUID, *, disputed: bool
    ) -> None:
        delivery_id = uuid.uuid4()
        description = f"delivery {delivery_id.hex[:6]}: what was handed over"
        evidence = f"delivery {delivery_id.hex[:6]}: signed receipt"
        reason = f"delivery {delivery_id.hex[:6]}: the grandmother says not received"
        await self.connection.execute(
            insert(Delivery).values(
                id=delivery_id,
                claim_id=claim_id,
                provider_id=provider_id,
                quantity=Decimal(1),
                delivered_at=self.now,
                description=description,
                evidence=evidence,
                status=DeliveryStatus.DISPUTED if disputed else DeliveryStatus.LOGGED,
                reviewed_at=self.now if disputed else None,
                dispute_reason=reason if disputed else None,
            )
        )
        key = gid("Delivery", delivery_id)
        self.scene.texts[key] = {
            "description": description,
            "evidence": evidence,
            "disputeReason": reason if disputed else None,
        }
        self.scene.records[key] = (provider_id, need_id)

    async def others_work_on(self, need_id: uuid.UUID) -> None:
        """The other provider's active claim with a disputed delivery, and a claim it released."""
        active = await self.claim(need_id, self.others)
        await self.delivery(active, need_id, self.others, disputed=True)
        await self.claim(need_id, self.others, ClaimStatus.RELEASED)


async def build_scene(engine: AsyncEngine, world: World, kind: ProviderKind) -> Scene:
    scene = Scene(readers_of(kind))
    holders = frozenset(r.provider_id for r in scene.readers if not r.official)
    async with engine.begin() as connection:
        for reader in scene.readers:
            await connection.execute(
                insert(Provider).values(
                    id=reader.provider_id,
                    name=f"{kind.value} {reader.name}",
                    kind=kind,
                    jurisdictions=[COUNTY],
                    categories=sorted(reader.served),
                )
            )
            await connection.execute(
                insert(Member).values(
                    id=reader.member_id,
                    login=f"{kind.value}.{reader.member_id.hex[:8]}",
                    display_name=reader.name,
                )
            )
            await connection.execute(
                insert(RoleGrant).values(
                    member_id=reader.member_id,
                    provider_id=reader.provider_id,
                    role=reader.role,
                    jurisdiction=COUNTY,
                )
            )
        write = _Writer(connection, scene, world.providers["ngo"])
        for situation in SITUATIONS:
            child_id = scene.children[situation] = uuid.uuid4()
            await connection.execute(
                insert(Child).values(
                    id=child_id,
                    code=f"C-{situation}-{child_id.hex[:6]}",
                    region_code=VILLAGE,
                    birth_date=date(2016, 4, 1),
                    guardianship=Guardianship.GRANDPARENTS,
                    father_away=True,
                    mother_away=True,
                )
            )
            for category in NeedCategory:
                await _needs_of(write, situation, child_id, category, holders)
            if situation == SIBLING:
                # The one need of this child its readers hold: the others are not theirs.
                anchor = await write.need(
                    child_id, HELD, NeedCategory.MATERIAL, holders, len(holders)
                )
                for provider_id in holders:
                    await write.claim(anchor, provider_id)
    return scene


async def _needs_of(
    write: _Writer,
    situation: str,
    child_id: uuid.UUID,
    category: NeedCategory,
    holders: frozenset[uuid.UUID],
) -> None:
    if situation == HELD:
        need_id = await write.need(child_id, situation, category, holders, len(holders) + 1)
        for provider_id in holders:
            claim_id = await write.claim(need_id, provider_id, delivered=1)
            await write.delivery(claim_id, need_id, provider_id, disputed=False)
        await write.others_work_on(need_id)
    elif situation == ENDED:
        # Held until an official cancelled the need, which revoked every claim on it.
        need_id = await write.need(child_id, situation, category, frozenset(), 0)
        for provider_id in (*holders, write.others):
            await write.claim(need_id, provider_id, ClaimStatus.REVOKED)
    else:
        need_id = await write.need(child_id, situation, category, frozenset(), 1)
        await write.others_work_on(need_id)


# --- reading it ---------------------------------------------------------------------------------

_FRAGMENTS = (
    "fragment DeliveryText on Delivery { id description evidence disputeReason }",
    "fragment ClaimText on Claim { id note endReason deliveries { ...DeliveryText } }",
    "fragment NeedText on Need { id description cancelReason claims { ...ClaimText } }",
)
FRAGMENTS = "\n".join(_FRAGMENTS)
# A document holds only the fragments it uses: DeliveryText alone, ClaimText with it.
CLAIM_FRAGMENTS = "\n".join(_FRAGMENTS[:2])
DELIVERY_FRAGMENTS = _FRAGMENTS[0]
CHUNK = 25  # aliases per document, within the hub's limit


def _aliased(
    field_name: str, ids: list[str], selection: str, fragments: str = FRAGMENTS
) -> Iterator[str]:
    for start in range(0, len(ids), CHUNK):
        fields = " ".join(
            f'x{n}: {field_name}(id: "{key}") {{ {selection} }}'
            for n, key in enumerate(ids[start : start + CHUNK])
        )
        yield f"query {{ {fields} }}\n{fragments}"


def documents(scene: Scene) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, document, variables): every way a reader reaches the scene's text."""
    need_ids = scene.ids_of("Need")
    yield (
        "needs page",
        f'query {{ needs(filter: {{jurisdiction: "{COUNTY}"}}, first: 100) '
        f"{{ nodes {{ ...NeedText }} }} }}\n{FRAGMENTS}",
        {},
    )
    children = " ".join(
        f'c{n}: child(id: "{gid("Child", child_id)}") {{ needs {{ ...NeedText }} '
        "coverage { need { id description cancelReason } claims { ...ClaimText } "
        "deliveries { ...DeliveryText } } }"
        for n, child_id in enumerate(scene.children.values())
    )
    yield "child", f"query {{ {children} }}\n{FRAGMENTS}", {}
    yield (
        "claims",
        f"query {{ claims(first: 100) {{ nodes {{ ...ClaimText }} }} }}\n{CLAIM_FRAGMENTS}",
        {},
    )
    for document in _aliased("need", need_ids, "...NeedText"):
        yield "need", document, {}
    every = need_ids + scene.ids_of("Claim") + scene.ids_of("Delivery")
    nodes = (
        "... on Need { ...NeedText } ... on Claim { ...ClaimText } "
        "... on Delivery { ...DeliveryText }"
    )
    for document in _aliased("node", every, nodes):
        yield "node", document, {}
    for document in _aliased("claim", scene.ids_of("Claim"), "...ClaimText", CLAIM_FRAGMENTS):
        yield "claim", document, {}
    deliveries = scene.ids_of("Delivery")
    for document in _aliased("delivery", deliveries, "...DeliveryText", DELIVERY_FRAGMENTS):
        yield "delivery", document, {}
    yield (
        "_entities",
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Need { ...NeedText } } }\n"
        + FRAGMENTS,
        {"r": [{"__typename": "Need", "id": key} for key in need_ids]},
    )


TEXT_FIELDS = {
    "Need": ("description", "cancelReason"),
    "Claim": ("note", "endReason"),
    "Delivery": ("description", "evidence", "disputeReason"),
}


def observed(data: Any) -> Iterator[tuple[str, str, Any]]:
    """Every (global id, text field, value) in a response, however deeply nested."""
    if isinstance(data, list):
        for item in data:
            yield from observed(item)
    elif isinstance(data, dict):
        key = data.get("id")
        if isinstance(key, str):
            for name in TEXT_FIELDS.get(GlobalID.from_id(key).type_name, ()):
                if name in data:
                    yield key, name, data[name]
        for value in data.values():
            yield from observed(value)


async def read_everything(
    gql: GraphQLClient, scene: Scene, token: str
) -> dict[str, list[tuple[str, str, Any]]]:
    seen: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
    for path, document, variables in documents(scene):
        data = (await gql(document, variables, token=token)).ok()
        seen[path].extend(observed(data))
    return seen


@pytest.mark.parametrize("kind", list(ProviderKind), ids=[kind.value for kind in ProviderKind])
async def test_need_text_goes_by_the_policy(
    gql: GraphQLClient, world: World, engine: AsyncEngine, tokens: Tokens, kind: ProviderKind
) -> None:
    scene = await build_scene(engine, world, kind)
    wrong: list[str] = []
    for reader in scene.readers:
        token = await tokens.for_member(reader.provider_id, reader.member_id)
        seen = await read_everything(gql, scene, token)
        for path, found in seen.items():
            reached = {key for key, _, _ in found}
            assert reached >= set(scene.ids_of("Need")) or path in ("claims", "claim", "delivery")
            for key, name, value in found:
                if key not in scene.texts:
                    continue  # the world's own records, not the scene's
                want = scene.expected(reader, key, name)
                if value != want:
                    need = scene.need_of(key)
                    wrong.append(
                        f"{reader.name} ({kind.value}) via {path}: "
                        f"{GlobalID.from_id(key).type_name}.{name} of a {need.situation} "
                        f"{need.category.value} need: {value!r}, expected {want!r}"
                    )
        # Every path reached every record it is a way to.
        reached_anywhere = {key for found in seen.values() for key, _, _ in found}
        assert reached_anywhere >= set(scene.texts)
    assert not wrong, f"{len(wrong)} wrong, e.g.\n" + "\n".join(sorted(set(wrong))[:40])


def test_the_sensitive_categories_and_their_readers() -> None:
    """What the issue asks of the policy's data: these four are sensitive, and no business,
    volunteer group or individual ever reads their text."""
    assert set(SENSITIVE_CATEGORY_READERS) == {
        NeedCategory.SAFETY,
        NeedCategory.PSYCHOLOGICAL,
        NeedCategory.MEDICAL,
        NeedCategory.LEGAL,
    }
    never = {ProviderKind.BUSINESS, ProviderKind.VOLUNTEER_GROUP, ProviderKind.INDIVIDUAL}
    for kinds in SENSITIVE_CATEGORY_READERS.values():
        assert kinds and not kinds & never


def test_the_readme_names_the_sensitive_categories_of_the_policy() -> None:
    """The README's account of who reads what cannot drift from the policy's list."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("- **Need to know, need by need.**")
    paragraph = readme[start : readme.index("\n- **", start + 1)]
    named = set(re.findall(r"`([A-Z_]+)`", paragraph)) & {c.name for c in NeedCategory}
    assert named == {category.name for category in SENSITIVE_CATEGORY_READERS}
