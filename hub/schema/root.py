"""The root types, assembled in one place from the resolvers, and the federation schema.

This is the only module in ``hub.schema`` that imports ``hub.resolvers``: types stay free of
resolvers, and the roots bind fields to them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import cast

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.federation import Schema
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import ExecutionContext

import hub.schema.enums  # noqa: F401 - registers the vocabulary as GraphQL enums
from hub.domain.errors import InvalidInput
from hub.resolvers import audit as audit_fields
from hub.resolvers import children as child_fields
from hub.resolvers import clients as client_fields
from hub.resolvers import coordination as coordination_fields
from hub.resolvers import dedup as dedup_fields
from hub.resolvers import events as event_fields
from hub.resolvers import identity as identity_fields
from hub.resolvers import members as member_fields
from hub.resolvers import merges as merge_fields
from hub.resolvers import needs as need_fields
from hub.resolvers import node as node_fields
from hub.resolvers import oversight as oversight_fields
from hub.resolvers import providers as provider_fields
from hub.resolvers import regions as region_fields
from hub.resolvers import statistics as statistics_fields
from hub.resolvers import trusted_documents as trusted_document_fields
from hub.resolvers import viewer as viewer_fields
from hub.schema.audit import AuditChainCheck, AuditEvent
from hub.schema.children import Child
from hub.schema.claimant_memo import ClaimantMemo
from hub.schema.clients import ClientPayload, OAuthClient, RevokeClientPayload
from hub.schema.context import Info
from hub.schema.coordination import Claim, ClaimNeedResult, ClaimPayload, Delivery, DeliveryPayload
from hub.schema.dedup import DuplicatePair
from hub.schema.errors import ErrorCodes
from hub.schema.events import NeedEvent
from hub.schema.federation import IDENTITY, reference_arguments
from hub.schema.identity import AccessRecord
from hub.schema.members import InviteMemberPayload, RoleGrant, RoleGrantPayload
from hub.schema.merges import ChildMerge, MergePayload
from hub.schema.needs import Need
from hub.schema.oversight import CoverageReport, Overlap, ProviderAccountability
from hub.schema.pagination import Connection
from hub.schema.payloads import ChildPayload, NeedPayload, ProviderPayload
from hub.schema.providers import Provider
from hub.schema.regions import Region
from hub.schema.statistics import NeedCount
from hub.schema.trusted_documents import (
    ClientRestrictionPayload,
    DistrustDocumentPayload,
    TrustedDocumentPayload,
    TrustedDocuments,
)
from hub.schema.viewer import Viewer


@strawberry.type
class Query:
    node: relay.Node | None = strawberry.field(
        resolver=node_fields.resolve_node, description="Any object by its global ID."
    )
    viewer: Viewer = strawberry.field(resolver=viewer_fields.resolve_viewer)
    regions: Connection[Region] = strawberry.field(
        resolver=region_fields.resolve_regions,
        description="The regions directly under parentCode, or the provinces.",
    )
    region: Region | None = strawberry.field(resolver=region_fields.resolve_region)
    providers: Connection[Provider] = strawberry.field(resolver=provider_fields.resolve_providers)
    children: Connection[Child] = strawberry.field(
        resolver=child_fields.resolve_children,
        description="Children within your jurisdictions, ordered by register code.",
    )
    child: Child | None = strawberry.field(resolver=child_fields.resolve_child)
    likely_duplicates: Connection[DuplicatePair] = strawberry.federation.field(
        resolver=dedup_fields.resolve_likely_duplicates,
        description="Pairs of active children within jurisdiction (default: your whole reach) "
        "who may be one child registered twice: same village, same birth date, names that sound "
        "the same or nearly. Each pair once, ordered by the two register codes. For those who "
        "may read identities there; no name is shown, so no access record is written.",
        tags=[IDENTITY],
    )
    needs: Connection[Need] = strawberry.field(
        resolver=need_fields.resolve_needs,
        description="Needs within your jurisdictions; by default most urgent first, then oldest.",
    )
    need: Need | None = strawberry.field(resolver=need_fields.resolve_need)
    need_statistics: list[NeedCount] = strawberry.field(
        resolver=statistics_fields.resolve_need_statistics,
        description="Counts of needs by category and status within your jurisdictions.",
    )
    access_log: Connection[AccessRecord] = strawberry.field(
        resolver=identity_fields.resolve_access_log,
        description="Who read a child's identity, newest first: for officials and auditors.",
    )
    audit_events: Connection[AuditEvent] = strawberry.field(
        resolver=audit_fields.resolve_audit_events,
        description="The audit log of your jurisdictions, newest first.",
    )
    role_grants: list[RoleGrant] = strawberry.field(
        resolver=member_fields.resolve_role_grants,
        description="The live roles at a provider that you could grant or revoke yourself.",
    )
    clients: list[OAuthClient] = strawberry.field(
        resolver=client_fields.resolve_clients,
        description="A provider's OAuth clients, for those who manage them.",
    )
    trusted_documents: TrustedDocuments = strawberry.field(
        resolver=trusted_document_fields.resolve_trusted_documents,
        description="The documents a client may run when restricted to its trusted ones, for "
        "its admins.",
    )
    claims: Connection[Claim] = strawberry.field(
        resolver=coordination_fields.resolve_claims,
        description="Claims on needs within your jurisdictions (your own provider's elsewhere "
        "are its other members' to read); newest first.",
    )
    claim: Claim | None = strawberry.field(resolver=coordination_fields.resolve_claim)
    delivery: Delivery | None = strawberry.field(resolver=coordination_fields.resolve_delivery)
    coverage: CoverageReport = strawberry.field(
        resolver=oversight_fields.resolve_coverage,
        description="Needs by category and status, unmet needs by urgency, and claims about to "
        "lapse, within your jurisdictions (narrowed to jurisdiction if given).",
    )
    overlaps: list[Overlap] = strawberry.field(
        resolver=oversight_fields.resolve_overlaps,
        description="For officials: aid of one category reaching one child from two providers "
        "within the category's window, since a moment (by default the last 90 days).",
    )
    accountability: list[ProviderAccountability] = strawberry.field(
        resolver=oversight_fields.resolve_accountability,
        description="How each provider's claims ended. Officials see every provider; a "
        "provider sees its own.",
    )
    audit_chain: AuditChainCheck = strawberry.field(
        resolver=audit_fields.resolve_audit_chain,
        description="Recompute the audit log's hash chain and say whether any event was changed "
        "or removed.",
    )


@strawberry.type
class Mutation:
    register_child: ChildPayload = strawberry.mutation(resolver=child_fields.register_child)
    update_child: ChildPayload = strawberry.mutation(resolver=child_fields.update_child)
    open_need: NeedPayload = strawberry.mutation(resolver=need_fields.open_need)
    update_need: NeedPayload = strawberry.mutation(resolver=need_fields.update_need)
    cancel_need: NeedPayload = strawberry.mutation(
        resolver=need_fields.cancel_need,
        description="Cancel a need; claims still holding it are revoked.",
    )
    claim_need: ClaimNeedResult = strawberry.mutation(
        resolver=coordination_fields.claim_need,
        description="Take on a need (or pledge a share of a divisible one) so that nobody "
        "duplicates it. Losing to another provider is an answer, not an error. A need of a "
        "category your provider does not serve is refused with CATEGORY_NOT_SERVED.",
    )
    extend_claim: ClaimPayload = strawberry.mutation(resolver=coordination_fields.extend_claim)
    release_claim: ClaimPayload = strawberry.mutation(
        resolver=coordination_fields.release_claim,
        description="Give back your claim; what you delivered under it stays counted.",
    )
    fail_claim: ClaimPayload = strawberry.mutation(
        resolver=coordination_fields.fail_claim,
        description="Record that the claim could not be delivered: by its holder or an official.",
    )
    revoke_claim: ClaimPayload = strawberry.mutation(
        resolver=coordination_fields.revoke_claim,
        description="For officials of the child's region: withdraw a provider's claim.",
    )
    log_delivery: DeliveryPayload = strawberry.mutation(
        resolver=coordination_fields.log_delivery,
        description="Record what you delivered under your claim; never more than you pledged.",
    )
    verify_delivery: DeliveryPayload = strawberry.mutation(
        resolver=coordination_fields.verify_delivery,
        description="For officials and child directors of the child's region, never the "
        "delivering provider.",
    )
    dispute_delivery: DeliveryPayload = strawberry.mutation(
        resolver=coordination_fields.dispute_delivery
    )
    merge_children: MergePayload = strawberry.mutation(
        resolver=merge_fields.merge_children,
        description="Fold a duplicate record into the one kept: its needs move, with their "
        "claims and deliveries.",
    )
    unmerge_children: MergePayload = strawberry.mutation(
        resolver=merge_fields.unmerge_children,
        description="Undo a merge: the needs that moved go back.",
    )
    create_provider: ProviderPayload = strawberry.mutation(resolver=provider_fields.create_provider)
    suspend_provider: ProviderPayload = strawberry.mutation(
        resolver=provider_fields.suspend_provider,
        description="Its members and clients stop working on their next request.",
    )
    reactivate_provider: ProviderPayload = strawberry.mutation(
        resolver=provider_fields.reactivate_provider
    )
    # The three answers below carry a credential shown once. They stay @inaccessible in the
    # federated graph, so that a secret never crosses a gateway (run, logged and perhaps cached by
    # others): administrators ask the hub's own endpoint for them.
    invite_member: InviteMemberPayload = strawberry.federation.mutation(
        resolver=member_fields.invite_member, inaccessible=True
    )
    grant_role: RoleGrantPayload = strawberry.mutation(resolver=member_fields.grant_role)
    revoke_role: RoleGrantPayload = strawberry.mutation(resolver=member_fields.revoke_role)
    register_client: ClientPayload = strawberry.federation.mutation(
        resolver=client_fields.register_client,
        description="The secret is shown once.",
        inaccessible=True,
    )
    rotate_client: ClientPayload = strawberry.federation.mutation(
        resolver=client_fields.rotate_client,
        description="A new secret (shown once) or new public keys; the old ones stop working.",
        inaccessible=True,
    )
    revoke_client: RevokeClientPayload = strawberry.mutation(resolver=client_fields.revoke_client)
    trust_document: TrustedDocumentPayload = strawberry.mutation(
        resolver=trusted_document_fields.trust_document,
        description="Let a client run this document (by its exact text or its SHA-256).",
    )
    distrust_document: DistrustDocumentPayload = strawberry.mutation(
        resolver=trusted_document_fields.distrust_document,
        description="Take a document off a client's trusted list; it stops running at once.",
    )
    restrict_client: ClientRestrictionPayload = strawberry.mutation(
        resolver=trusted_document_fields.restrict_client,
        description="Restrict a client to its trusted documents (or lift the restriction).",
    )


ENTITIES = (Region, Provider, Child, Need)


def _key_fields(entity: type) -> frozenset[str]:
    """The fields named by an entity's @key, read from the type so that they cannot drift."""
    definition = entity.__strawberry_definition__  # type: ignore[attr-defined]
    return frozenset(
        name
        for directive in definition.directives
        if isinstance(directive, Key)
        for name in str(directive.fields).split()
    )


ENTITY_KEYS = {entity.__name__: _key_fields(entity) for entity in ENTITIES}
REFERENCE_RESOLVERS: dict[str, Callable[..., Awaitable[object]]] = {
    entity.__name__: entity.resolve_reference for entity in ENTITIES
}


@strawberry.type
class Subscription:
    need_events: AsyncGenerator[NeedEvent, None] = strawberry.subscription(
        resolver=event_fields.need_events,
        description="Needs opened, claimed, released, failed, revoked, expired, fulfilled or "
        "cancelled within jurisdiction (default: your whole reach), of the given categories "
        "(default: all); only needs you may see, checked for each event. Over a WebSocket "
        "(graphql-transport-ws), authenticated in connection_init. Given `after` (a cursor of "
        "the change feed, such as the last event's), it first replays, as CHANGED events, "
        "the needs changed since, then goes on live: nothing is missed in between.",
    )


class HubSchema(Schema):
    # ``_service { sdl }`` answers without a token, like introspection: it is the schema that this
    # repository publishes (schema.graphql), no data. A gateway composes the supergraph from it
    # before any user arrives and holds no token of its own. Data stays behind ``_entities``.

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities``: the gateway's way in, held to the rules of every other read.

        The caller's token is required for the whole call (one UNAUTHENTICATED error, no data).
        Each representation resolves through its type's ``resolve_reference``, which goes through
        the request's DataLoaders and so through the principal's access: a record outside the
        caller's reach is null, exactly as ``node`` would answer. A malformed representation is
        that item's BAD_USER_INPUT error; the others still resolve.
        """
        info.context.require_principal()
        results: list[Awaitable[object] | Exception] = []
        for representation in representations:
            try:
                type_name, keys = reference_arguments(representation, ENTITY_KEYS)
            except InvalidInput as error:
                results.append(error)  # graphql-core raises it at this item's path
                continue
            results.append(REFERENCE_RESOLVERS[type_name](info=info, **keys))
        return cast(list[FederationAny], results)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Expected failures are answers, not incidents: ErrorCodes logs the internal ones."""


def build_schema(
    extra_extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] | None = None,
) -> Schema:
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[*ENTITIES, Claim, Delivery, ChildMerge],
        extensions=[ErrorCodes, ClaimantMemo, *(extra_extensions or [])],
        federation_version="2.7",
    )


def schema_sdl() -> str:
    """The SDL that ``_service { sdl }`` serves, as ``hub schema export`` writes it."""
    return build_schema().as_str() + "\n"
