"""The permission matrix, generated from the policy itself.

For every role and every permission, a principal holding that one role in Gan county tries the
operation that needs the permission, on a record in Gan county and on one in Xingguo county;
what should happen is computed from the policy's data (``ROLE_PERMISSIONS``, ``KIND_ROLES``,
``UNREGIONAL``, ``NON_GOVERNMENT_ONLY``), never listed by hand. Then the same principals act
through clients whose scopes leave the permission out, and are refused.

A permission added to the policy without an operation here fails ``test_every_permission_is_
exercised``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.auth.policy import (
    ALL_SCOPES,
    GOVERNMENT_KINDS,
    KIND_ROLES,
    NON_GOVERNMENT_ONLY,
    ROLE_PERMISSIONS,
    UNREGIONAL,
    Permission,
    may_introspect,
)
from hub.auth.principal import Grant, Principal
from hub.db.engine import session_factory
from hub.db.models import (
    AuditEvent,
    Child,
    ChildIdentity,
    Claim,
    Delivery,
    GuardianConsent,
    Member,
    Need,
    OAuthClient,
    Provider,
)
from hub.domain import (
    accountability,
    audit,
    children,
    claims,
    clients,
    dedup,
    deliveries,
    identity,
    members,
    needs,
    providers,
    statistics,
    trusted_documents,
)
from hub.domain.errors import DomainError
from hub.domain.pagination import PageRequest
from hub.domain.rules import CoordinationRules
from hub.settings import Settings
from hub.vocabulary import (
    ConsentScope,
    Guardianship,
    NeedCategory,
    ProviderKind,
    Role,
    Urgency,
)
from tests.world import CITY, COUNTY, FOREIGN_VILLAGE, OTHER_COUNTY, VILLAGE, World, build_world

INSIDE, OUTSIDE = "inside", "outside"


def kind_for(role: Role) -> ProviderKind:
    """A provider kind that can hold the role; a non-government one where there is one, so
    that permissions reserved to non-government providers are exercised too."""
    able = [kind for kind in ProviderKind if role in KIND_ROLES[kind]]
    return next((kind for kind in able if kind not in GOVERNMENT_KINDS), able[0])


def expected(role: Role, permission: Permission, where: str, scopes: Iterable[str] | None) -> bool:
    kind = kind_for(role)
    return (
        permission in ROLE_PERMISSIONS[role]
        and role in KIND_ROLES[kind]
        and (where == INSIDE or permission in UNREGIONAL)
        and not (permission in NON_GOVERNMENT_ONLY and kind in GOVERNMENT_KINDS)
        and (scopes is None or permission.value in scopes)
    )


@dataclass
class Scene:
    world: World
    settings: Settings
    children: dict[str, uuid.UUID]
    counties: dict[str, str]
    providers: dict[str, uuid.UUID]


async def build_scene(engine: AsyncEngine, settings: Settings) -> Scene:
    world = await build_world(engine)
    scene = Scene(world, settings, {}, {INSIDE: COUNTY, OUTSIDE: OTHER_COUNTY}, {})
    scene.providers = {
        INSIDE: world.providers["gan_bureau"],
        OUTSIDE: world.providers["xing_bureau"],
    }
    born = datetime.now(UTC).date() - timedelta(days=9 * 365)
    async with engine.begin() as connection:
        for where, village in ((INSIDE, VILLAGE), (OUTSIDE, FOREIGN_VILLAGE)):
            child_id = scene.children[where] = uuid.uuid4()
            await connection.execute(
                insert(Child).values(
                    id=child_id,
                    code=f"C-{where}",
                    region_code=village,
                    birth_date=born,
                    guardianship=Guardianship.GRANDPARENTS,
                    father_away=True,
                    mother_away=True,
                )
            )
            await connection.execute(
                insert(ChildIdentity).values(
                    child_id=child_id, full_name="王小明", name_pinyin="wang xiao ming"
                )
            )
            await connection.execute(
                insert(GuardianConsent).values(
                    child_id=child_id,
                    scope=ConsentScope.IDENTITY,
                    given_by="奶奶",
                    given_at=datetime.now(UTC) - timedelta(days=1),
                )
            )
            await connection.execute(
                insert(Need).values(
                    child_id=child_id,
                    region_code=village,
                    category=NeedCategory.EDUCATION,
                    urgency=Urgency.HIGH,
                    description="school supplies",
                )
            )
            await connection.execute(
                insert(AuditEvent).values(
                    action="test.event",
                    entity_type="child",
                    entity_id=str(child_id),
                    region_code=village,
                    data={},
                )
            )
        await connection.execute(
            insert(AuditEvent).values(
                action="test.hub_wide", entity_type="hub", entity_id="-", data={}
            )
        )
    return scene


async def principal_for(engine: AsyncEngine, role: Role, scopes: Iterable[str] | None) -> Principal:
    """A member holding ``role`` in Gan county at a provider of the city, of a fitting kind."""
    kind = kind_for(role)
    provider_id, member_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            insert(Provider).values(
                id=provider_id,
                name=f"{kind.value} of the city",
                kind=kind,
                jurisdictions=[CITY],
                categories=list(NeedCategory),
            )
        )
        await connection.execute(
            insert(Member).values(id=member_id, login=f"m{member_id.hex[:8]}", display_name="m")
        )
    return Principal(
        provider_id=provider_id,
        provider_kind=kind,
        member_id=member_id,
        client_id=None if scopes is None else "narrowed-client",
        grants=(Grant(role=role, jurisdiction=COUNTY),),
        scopes=None if scopes is None else frozenset(scopes),
    )


Exercise = Callable[[AsyncSession, Principal, Scene, str], Awaitable[bool]]


async def _read_register(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return bool(await children.children_by_ids(session, p, [s.children[where]]))


async def _read_case(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    found = await children.children_by_ids(session, p, [s.children[where]])
    view = found.get(s.children[where])
    return view is not None and view.birth_date is not None and view.guardianship is not None


async def _read_identity(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return bool(await identity.read_identities(session, p, [s.children[where]], "matrix"))


async def _read_claimed_identity(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return bool(await identity.claimed_and_consented(session, p, [s.children[where]]))


async def _write_register(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    new = needs.NewNeed(
        child_id=s.children[where],
        category=NeedCategory.MATERIAL,
        urgency=Urgency.LOW,
        description="a winter coat",
    )
    await needs.open_need(session, p, new)
    return True


async def _read_statistics(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return bool(await statistics.need_counts(session, p, s.counties[where]))


async def _read_providers(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return bool(await providers.providers_by_ids(session, p, [s.providers[where]]))


async def _manage_providers(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    new = providers.NewProvider(
        name="新公益", kind=ProviderKind.NGO, jurisdictions=(s.counties[where],), categories=()
    )
    await providers.create_provider(session, p, new)
    return True


async def _manage_members(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    await members.invite_member(
        session,
        p,
        provider_id=p.provider_id,
        login=f"invitee.{uuid.uuid4().hex[:8]}",
        display_name="Invitee",
        role=Role.WORKER,
        jurisdiction=s.counties[where],
        invitation_ttl=3600,
    )
    return True


async def _manage_clients(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    new = clients.NewClient(
        provider_id=p.provider_id,
        name="case system",
        auth_method="client_secret_basic",
        grant_types=("client_credentials",),
        scopes=("register:read",),
        grants=((Role.WORKER, s.counties[where]),),
    )
    await clients.register_client(session, p, new, settings=s.settings)
    return True


async def _manage_trusted_documents(
    session: AsyncSession, p: Principal, s: Scene, where: str
) -> bool:
    # A client of one's own provider inside; of the other county's bureau outside.
    provider_id = p.provider_id if where == INSIDE else s.providers[OUTSIDE]
    client_id = f"matrix-{uuid.uuid4().hex[:8]}"
    await session.execute(
        insert(OAuthClient).values(
            client_id=client_id,
            name="case system",
            provider_id=provider_id,
            token_endpoint_auth_method="client_secret_basic",
            grant_types=["client_credentials"],
            redirect_uris=[],
            scopes=["register:read"],
        )
    )
    await trusted_documents.trust_document(
        session, p, client_id, "{ viewer { login } }", "who am I", max_length=10_000
    )
    await trusted_documents.restrict_client(session, p, client_id, restricted=True)
    return True


async def _introspect(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    return may_introspect(p, dev=False)


async def _read_access_log(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    await identity.access_log(session, p, s.children[where], PageRequest(first=10))
    return True


async def _read_audit(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    found = await audit.list_events(
        session, p, audit.AuditFilter(jurisdiction=s.counties[where]), PageRequest(first=10)
    )
    return any(event.entity_id == str(s.children[where]) for event in found.items)


async def _read_platform_audit(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    found = await audit.list_events(session, p, audit.AuditFilter(), PageRequest(first=50))
    return any(event.region_code is None for event in found.items)


async def _need_of(session: AsyncSession, s: Scene, where: str) -> uuid.UUID:
    found = await session.scalar(select(Need.id).where(Need.child_id == s.children[where]))
    assert found is not None
    return found


async def _claim_by(
    session: AsyncSession, s: Scene, where: str, provider: str, delivered: bool = False
) -> uuid.UUID:
    """An active claim of a world provider on the scene's need, as claimNeed leaves it."""
    need_id, claim_id = await _need_of(session, s, where), uuid.uuid4()
    later = datetime.now(UTC) + timedelta(days=10)
    await session.execute(
        insert(Claim).values(
            id=claim_id,
            need_id=need_id,
            provider_id=s.world.providers[provider],
            expected_by=later,
            expires_at=later,
            delivered_quantity=1 if delivered else 0,
        )
    )
    await session.execute(update(Need).where(Need.id == need_id).values(pledged_quantity=1))
    return claim_id


async def _claim(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    outcome = await claims.claim_need(
        session,
        p,
        claims.ClaimRequest(need_id=await _need_of(session, s, where)),
        idempotency_key=f"matrix-{uuid.uuid4().hex}",
        rules=CoordinationRules(),
    )
    return isinstance(outcome, claims.Claimed)


async def _verify(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    claim_id = await _claim_by(session, s, where, "ngo", delivered=True)
    delivery_id = uuid.uuid4()
    await session.execute(
        insert(Delivery).values(
            id=delivery_id,
            claim_id=claim_id,
            provider_id=s.world.providers["ngo"],
            delivered_at=datetime.now(UTC),
            description="school supplies handed over",
        )
    )
    await deliveries.review_delivery(session, p, delivery_id, 1, verified=True)
    return True


async def _oversee(session: AsyncSession, p: Principal, s: Scene, where: str) -> bool:
    # Another provider's claim there: only oversight sees how other providers' claims went.
    await _claim_by(session, s, where, "ngo")
    return bool(await accountability.accountability(session, p, s.counties[where], None))


EXERCISES: dict[Permission, Exercise] = {
    Permission.READ_REGISTER: _read_register,
    Permission.READ_CASE_DETAIL: _read_case,
    Permission.READ_IDENTITY: _read_identity,
    Permission.READ_CLAIMED_IDENTITY: _read_claimed_identity,
    Permission.WRITE_REGISTER: _write_register,
    Permission.READ_STATISTICS: _read_statistics,
    Permission.READ_PROVIDERS: _read_providers,
    Permission.MANAGE_PROVIDERS: _manage_providers,
    Permission.MANAGE_MEMBERS: _manage_members,
    Permission.MANAGE_CLIENTS: _manage_clients,
    Permission.MANAGE_TRUSTED_DOCUMENTS: _manage_trusted_documents,
    Permission.INTROSPECT: _introspect,
    Permission.READ_ACCESS_LOG: _read_access_log,
    Permission.READ_AUDIT: _read_audit,
    Permission.READ_PLATFORM_AUDIT: _read_platform_audit,
    Permission.CLAIM: _claim,
    Permission.VERIFY: _verify,
    Permission.OVERSEE: _oversee,
}


def test_every_permission_is_exercised() -> None:
    assert set(EXERCISES) == set(Permission)


async def _twin(session: AsyncSession, s: Scene, where: str) -> uuid.UUID:
    """A homophone of the scene's child, of its village and birth date: a likely duplicate."""
    child = await session.get(Child, s.children[where])
    assert child is not None
    twin_id = uuid.uuid4()
    await session.execute(
        insert(Child).values(
            id=twin_id,
            code=f"C-{where}-{twin_id.hex[:8]}",
            region_code=child.region_code,
            birth_date=child.birth_date,
            guardianship=Guardianship.GRANDPARENTS,
            father_away=True,
            mother_away=True,
        )
    )
    await session.execute(
        insert(ChildIdentity).values(
            child_id=twin_id, full_name="王晓明", name_pinyin="wang xiao ming"
        )
    )
    return twin_id


async def _list_likely_duplicates(
    session: AsyncSession, p: Principal, s: Scene, where: str
) -> bool:
    await _twin(session, s, where)
    found = await dedup.list_likely_duplicates(session, p, s.counties[where], PageRequest(first=10))
    return bool(found.items)


async def _likely_duplicates_of_child(
    session: AsyncSession, p: Principal, s: Scene, where: str
) -> bool:
    await _twin(session, s, where)
    return bool(await dedup.likely_duplicates_of(session, p, [s.children[where]]))


# More operations behind a permission already exercised above, held to the same expectation.
ALSO_GUARDED: dict[str, tuple[Permission, Exercise]] = {
    "likely_duplicates": (Permission.READ_IDENTITY, _list_likely_duplicates),
    "child_likely_duplicates": (Permission.READ_IDENTITY, _likely_duplicates_of_child),
}


async def attempt(
    engine: AsyncEngine,
    principal: Principal,
    scene: Scene,
    permission: Permission,
    where: str,
    exercise: Exercise | None = None,
) -> bool:
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as session:
            run = exercise or EXERCISES[permission]
            return await run(session, principal, scene, where)
    except DomainError:
        return False


@pytest.fixture
def claims_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until claims exist, pretend every principal holds an active claim on every child, so
    that the claimant's path to an identity (consent, jurisdiction, kind) is exercised."""

    async def everything(
        session: AsyncSession, provider_id: uuid.UUID, child_ids: Iterable[uuid.UUID]
    ) -> set[uuid.UUID]:
        return set(child_ids)

    monkeypatch.setattr(identity, "active_claimant_children", everything)


MATRIX = [
    pytest.param(role, permission, where, id=f"{role.value}-{permission.value}-{where}")
    for role in Role
    for permission in Permission
    for where in (INSIDE, OUTSIDE)
]


@pytest.mark.parametrize(("role", "permission", "where"), MATRIX)
async def test_matrix(
    request: pytest.FixtureRequest,
    engine: AsyncEngine,
    settings: Settings,
    role: Role,
    permission: Permission,
    where: str,
) -> None:
    if permission is Permission.READ_CLAIMED_IDENTITY:
        request.getfixturevalue("claims_everything")
    scene = await build_scene(engine, settings)
    principal = await principal_for(engine, role, None)
    allowed = await attempt(engine, principal, scene, permission, where)
    assert allowed is expected(role, permission, where, None)


NARROWED = [
    pytest.param(role, permission, id=f"{role.value}-without-{permission.value}")
    for role in Role
    for permission in Permission
    if expected(role, permission, INSIDE, None)
]


@pytest.mark.parametrize(("role", "permission"), NARROWED)
async def test_a_client_without_the_scope_is_refused(
    engine: AsyncEngine,
    settings: Settings,
    claims_everything: None,
    role: Role,
    permission: Permission,
) -> None:
    scene = await build_scene(engine, settings)
    scopes = [scope for scope in ALL_SCOPES if scope != permission.value]
    principal = await principal_for(engine, role, scopes)
    assert not await attempt(engine, principal, scene, permission, INSIDE)
    assert expected(role, permission, INSIDE, scopes) is False


@pytest.mark.parametrize(("role", "permission"), NARROWED)
async def test_a_client_with_only_what_it_needs_is_allowed(
    engine: AsyncEngine,
    settings: Settings,
    claims_everything: None,
    role: Role,
    permission: Permission,
) -> None:
    scene = await build_scene(engine, settings)
    # The one scope, plus what the operation builds on (reading a record to write to it).
    needed = {permission.value, Permission.READ_REGISTER.value, Permission.MANAGE_MEMBERS.value}
    principal = await principal_for(engine, role, needed)
    assert await attempt(engine, principal, scene, permission, INSIDE)


ALSO_MATRIX = [
    pytest.param(role, operation, where, id=f"{role.value}-{operation}-{where}")
    for role in Role
    for operation in ALSO_GUARDED
    for where in (INSIDE, OUTSIDE)
]


@pytest.mark.parametrize(("role", "operation", "where"), ALSO_MATRIX)
async def test_matrix_of_operations_behind_an_exercised_permission(
    engine: AsyncEngine, settings: Settings, role: Role, operation: str, where: str
) -> None:
    permission, exercise = ALSO_GUARDED[operation]
    scene = await build_scene(engine, settings)
    principal = await principal_for(engine, role, None)
    allowed = await attempt(engine, principal, scene, permission, where, exercise)
    assert allowed is expected(role, permission, where, None)


ALSO_NARROWED = [
    pytest.param(role, operation, id=f"{role.value}-{operation}")
    for role in Role
    for operation, (permission, _) in ALSO_GUARDED.items()
    if expected(role, permission, INSIDE, None)
]


@pytest.mark.parametrize(("role", "operation"), ALSO_NARROWED)
async def test_operations_behind_an_exercised_permission_follow_the_client_scopes(
    engine: AsyncEngine, settings: Settings, role: Role, operation: str
) -> None:
    permission, exercise = ALSO_GUARDED[operation]
    scene = await build_scene(engine, settings)
    without = [scope for scope in ALL_SCOPES if scope != permission.value]
    narrowed = await principal_for(engine, role, without)
    assert not await attempt(engine, narrowed, scene, permission, INSIDE, exercise)
    needed = {permission.value, Permission.READ_REGISTER.value}
    enough = await principal_for(engine, role, needed)
    assert await attempt(engine, enough, scene, permission, INSIDE, exercise)
