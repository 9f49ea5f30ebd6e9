"""The actor behind a request: a member or a client, acting for one provider."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hub.vocabulary import NeedCategory, ProviderKind, Role


@dataclass(frozen=True)
class Grant:
    """One live role, within one jurisdiction (a region-code prefix)."""

    role: Role
    jurisdiction: str


@dataclass(frozen=True)
class Principal:
    provider_id: uuid.UUID
    provider_kind: ProviderKind
    member_id: uuid.UUID | None = None
    client_id: str | None = None
    grants: tuple[Grant, ...] = ()
    # None: not narrowed by a client's scopes; otherwise the scopes the client was granted.
    scopes: frozenset[str] | None = None
    # Acting through a client restricted to its trusted documents: it may run nothing else.
    trusted_documents_only: bool = False
    # The need categories the provider serves (``providers.categories``), read live with the
    # roles: the text of a sensitive need goes only to a provider serving its category.
    served_categories: frozenset[NeedCategory] = frozenset()
    label: str = field(default="", compare=False)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.grants)


def covers(jurisdiction: str, region_code: str) -> bool:
    """A jurisdiction covers its own region and every region below it."""
    return region_code.startswith(jurisdiction)
