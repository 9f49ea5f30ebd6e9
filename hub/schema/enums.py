"""The hub's vocabulary, registered as GraphQL enums (names in capitals, values as stored)."""

from __future__ import annotations

import strawberry

from hub.domain.dedup import DuplicateReason
from hub.domain.needs import NeedOrder
from hub.domain.overlaps import AidKind
from hub.vocabulary import (
    ChildStatus,
    ClaimStatus,
    ConsentScope,
    DeliveryStatus,
    Guardianship,
    NeedCategory,
    NeedStatus,
    NeedUnit,
    ProviderKind,
    ProviderStatus,
    RegionLevel,
    Role,
    Sex,
    Urgency,
)

for enum_type in (
    ChildStatus,
    ClaimStatus,
    ConsentScope,
    DeliveryStatus,
    Guardianship,
    NeedCategory,
    NeedStatus,
    NeedUnit,
    ProviderKind,
    ProviderStatus,
    RegionLevel,
    Role,
    Sex,
    Urgency,
):
    strawberry.enum(enum_type)

strawberry.enum(NeedOrder, name="NeedOrder")
strawberry.enum(AidKind, name="AidKind")
strawberry.enum(DuplicateReason, name="DuplicateReason")
