"""The hub's vocabulary, registered as GraphQL enums (names in capitals, values as stored)."""

from __future__ import annotations

import strawberry

from hub.domain.needs import NeedOrder
from hub.vocabulary import (
    ChildStatus,
    ConsentScope,
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
    ConsentScope,
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
