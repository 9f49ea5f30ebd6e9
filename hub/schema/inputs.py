"""What clients send: filters for lists and the inputs of mutations.

In update inputs a field left out keeps its value, and an explicit null clears it (where the
field may be empty).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from hub.vocabulary import (
    ClaimStatus,
    ConsentScope,
    Guardianship,
    NeedCategory,
    NeedStatus,
    NeedUnit,
    ProviderKind,
    Role,
    Sex,
    Urgency,
)


@strawberry.input(description="Narrow a list of needs; every given condition must hold.")
class NeedFilter:
    jurisdiction: str | None = strawberry.field(
        default=None, description="A region code; the region and everything below it."
    )
    categories: list[NeedCategory] | None = None
    urgencies: list[Urgency] | None = None
    statuses: list[NeedStatus] | None = None
    due_before: date | None = None
    changed_since: datetime | None = None


@strawberry.input(description="Narrow a list of children; every given condition must hold.")
class ChildFilter:
    jurisdiction: str | None = None
    guardianships: list[Guardianship] | None = strawberry.field(
        default=None, description="Case detail: only for those who may see it."
    )
    with_open_needs: bool | None = None


@strawberry.input
class ProviderFilter:
    kinds: list[ProviderKind] | None = None
    category: NeedCategory | None = None
    region: str | None = strawberry.field(
        default=None, description="Providers whose jurisdictions overlap this region."
    )


@strawberry.input(description="The personal part of a new child's record.")
class ChildIdentityInput:
    full_name: str
    id_number: str | None = strawberry.field(
        default=None, description="18 characters; only a keyed hash and the last four are kept."
    )
    address: str | None = None
    guardian_name: str | None = None
    guardian_relation: str | None = None
    guardian_phone: str | None = None


@strawberry.input(description="A guardian's consent to share the child's data.")
class ConsentInput:
    covers: list[ConsentScope]
    given_by: str
    given_at: datetime


@strawberry.input
class RegisterChildInput:
    region_code: str = strawberry.field(description="The child's village (12 digits).")
    birth_date: date
    guardianship: Guardianship
    father_away: bool
    mother_away: bool
    identity: ChildIdentityInput
    sex: Sex | None = None
    parents_away_since: date | None = None
    parents_work_location: str | None = None
    school: str | None = None
    consent: ConsentInput | None = None


@strawberry.input
class ChildIdentityPatch:
    full_name: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    guardian_name: str | None = strawberry.UNSET
    guardian_relation: str | None = strawberry.UNSET
    guardian_phone: str | None = strawberry.UNSET


@strawberry.input
class UpdateChildInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read; a stale one is refused.")
    region_code: str | None = strawberry.UNSET
    sex: Sex | None = strawberry.UNSET
    guardianship: Guardianship | None = strawberry.UNSET
    father_away: bool | None = strawberry.UNSET
    mother_away: bool | None = strawberry.UNSET
    parents_away_since: date | None = strawberry.UNSET
    parents_work_location: str | None = strawberry.UNSET
    school: str | None = strawberry.UNSET
    identity: ChildIdentityPatch | None = strawberry.UNSET


@strawberry.input
class OpenNeedInput:
    child_id: strawberry.ID
    category: NeedCategory
    urgency: Urgency
    description: str
    quantity: Decimal | None = strawberry.field(
        default=None, description="For a divisible need: how much, with a unit."
    )
    unit: NeedUnit | None = None
    due_date: date | None = None


@strawberry.input
class UpdateNeedInput:
    id: strawberry.ID
    version: int
    category: NeedCategory | None = strawberry.UNSET
    urgency: Urgency | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    quantity: Decimal | None = strawberry.UNSET
    unit: NeedUnit | None = strawberry.UNSET
    due_date: date | None = strawberry.UNSET


@strawberry.input
class CancelNeedInput:
    id: strawberry.ID
    version: int
    reason: str


@strawberry.input(description="A new provider of aid.")
class CreateProviderInput:
    name: str
    kind: ProviderKind
    jurisdictions: list[str] = strawberry.field(description="Region-code prefixes it works in.")
    categories: list[NeedCategory]


@strawberry.input
class SetProviderStatusInput:
    id: strawberry.ID
    version: int
    reason: str


@strawberry.input(
    description="A person to invite, with the role offered; whether or not the login exists "
    "on the hub, the answer is the same, and the role is theirs once they accept."
)
class InviteMemberInput:
    provider_id: strawberry.ID
    login: str
    display_name: str
    role: Role
    jurisdiction: str


@strawberry.input
class GrantRoleInput:
    member_id: strawberry.ID
    provider_id: strawberry.ID
    role: Role
    jurisdiction: str


@strawberry.input(description="One role a client holds when it acts on its own.")
class ClientGrantInput:
    role: Role
    jurisdiction: str


@strawberry.input(description="A machine acting for a provider.")
class RegisterClientInput:
    provider_id: strawberry.ID
    name: str
    auth_method: str = strawberry.field(
        description="client_secret_basic, client_secret_post or private_key_jwt."
    )
    grant_types: list[str] = strawberry.field(
        description="client_credentials, authorization_code and/or refresh_token."
    )
    scopes: list[str] = strawberry.field(description="The most the client may ever ask for.")
    redirect_uris: list[str] = strawberry.field(default_factory=list)
    jwks: JSON | None = strawberry.field(
        default=None, description="Public keys, for private_key_jwt."
    )
    grants: list[ClientGrantInput] = strawberry.field(default_factory=list)


@strawberry.input
class RotateClientInput:
    client_id: str
    jwks: JSON | None = strawberry.field(
        default=None, description="New public keys, for private_key_jwt clients."
    )


@strawberry.input
class AuditFilter:
    jurisdiction: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None


@strawberry.input(description="Narrow a list of claims; every given condition must hold.")
class ClaimFilter:
    jurisdiction: str | None = None
    statuses: list[ClaimStatus] | None = strawberry.field(
        default=None, description="As readers see them: an overdue claim is EXPIRED."
    )
    mine: bool = strawberry.field(
        default=False, description="Only your own provider's claims (within your reach)."
    )
    expiring_before: datetime | None = strawberry.field(
        default=None, description="Active claims whose deadline falls before this moment."
    )


@strawberry.input
class ClaimNeedInput:
    need_id: strawberry.ID
    quantity: Decimal | None = strawberry.field(
        default=None,
        description="Your pledge on a divisible need; left out, all that remains. Leave it out "
        "for an indivisible need.",
    )
    expected_by: datetime | None = strawberry.field(
        default=None,
        description="When you expect to deliver; at the latest (and by default) the deadline "
        "the need's category allows.",
    )
    note: str | None = None


@strawberry.input
class ExtendClaimInput:
    id: strawberry.ID
    version: int
    expected_by: datetime | None = strawberry.field(
        default=None, description="By default the new deadline."
    )


@strawberry.input(description="End an active claim, saying why.")
class EndClaimInput:
    id: strawberry.ID
    version: int
    reason: str


@strawberry.input
class LogDeliveryInput:
    claim_id: strawberry.ID
    delivered_at: datetime
    description: str
    quantity: Decimal | None = strawberry.field(
        default=None,
        description="How much, under a divisible claim; leave it out under an indivisible one.",
    )
    evidence: str | None = strawberry.field(
        default=None, description="A reference a verifier can check: a receipt number, a link."
    )


@strawberry.input
class VerifyDeliveryInput:
    id: strawberry.ID
    version: int


@strawberry.input
class DisputeDeliveryInput:
    id: strawberry.ID
    version: int
    reason: str


@strawberry.input
class MergeChildrenInput:
    keep_id: strawberry.ID = strawberry.field(description="The record that stays.")
    merge_id: strawberry.ID = strawberry.field(description="The duplicate, merged into it.")
    reason: str


@strawberry.input
class UnmergeChildrenInput:
    merge_id: strawberry.ID
    reason: str
