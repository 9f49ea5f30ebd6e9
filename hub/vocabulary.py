"""The hub's words as enumerations, shared by every layer.

This module imports nothing from the hub, so the database models, the domain rules and the GraphQL
schema all name a concept with the same value. PostgreSQL stores each as an enum type, whose sort
order is the declaration order (``Urgency.CRITICAL`` sorts first).
"""

from __future__ import annotations

from enum import StrEnum


class RegionLevel(StrEnum):
    """Levels of the statistical-code hierarchy; the value is the code's length."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def code_length(self) -> int:
        return CODE_LENGTHS[self]

    @classmethod
    def for_code(cls, code: str) -> RegionLevel | None:
        return LEVEL_BY_LENGTH.get(len(code))


CODE_LENGTHS = {
    RegionLevel.PROVINCE: 2,
    RegionLevel.CITY: 4,
    RegionLevel.COUNTY: 6,
    RegionLevel.TOWNSHIP: 9,
    RegionLevel.VILLAGE: 12,
}
LEVEL_BY_LENGTH = {length: level for level, length in CODE_LENGTHS.items()}


class ProviderKind(StrEnum):
    GOVERNMENT = "government"
    VILLAGE_OFFICE = "village_office"
    SCHOOL = "school"
    NGO = "ngo"
    BUSINESS = "business"
    VOLUNTEER_GROUP = "volunteer_group"
    INDIVIDUAL = "individual"


class ProviderStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    GOVERNMENT_OFFICER = "government_officer"
    CHILD_DIRECTOR = "child_director"
    PROVIDER_ADMIN = "provider_admin"
    COORDINATOR = "coordinator"
    WORKER = "worker"
    AUDITOR = "auditor"


class Guardianship(StrEnum):
    """Who cares for the child day to day."""

    GRANDPARENTS = "grandparents"
    RELATIVE = "relative"
    ENTRUSTED = "entrusted"
    ONE_PARENT = "one_parent"
    NONE = "none"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class ChildStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"


class NeedCategory(StrEnum):
    EDUCATION = "education"
    MATERIAL = "material"
    FINANCIAL = "financial"
    MEDICAL = "medical"
    PSYCHOLOGICAL = "psychological"
    SAFETY = "safety"
    FAMILY_CONTACT = "family_contact"
    AFTER_SCHOOL_CARE = "after_school_care"
    LEGAL = "legal"


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class NeedUnit(StrEnum):
    YUAN = "yuan"
    ITEMS = "items"
    HOURS = "hours"


class NeedStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    PARTIALLY_MET = "partially_met"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class ConsentScope(StrEnum):
    """What one guardian's consent allows."""

    CASE_DETAIL = "case_detail"  # share the child's case detail with the consent's audience
    IDENTITY = "identity"  # share the child's identity (and case detail) with its audience
    KEEP_IDENTITY = "keep_identity"  # keep the child's identity on the register at all


class ConsentMethod(StrEnum):
    """How the guardian gave a consent."""

    WRITTEN = "written"  # a signed or thumb-printed form
    IN_PERSON = "in_person"  # said to the official face to face
    PHONE = "phone"
    VIDEO_CALL = "video_call"


class ClaimStatus(StrEnum):
    """Where a claim stands. Only an active claim holds (part of) its need."""

    ACTIVE = "active"
    FULFILLED = "fulfilled"  # its whole pledge was delivered and verified
    RELEASED = "released"  # given back by the claimant, with a reason
    EXPIRED = "expired"  # its deadline passed before the pledge was delivered
    FAILED = "failed"  # it could not be delivered, with a reason
    REVOKED = "revoked"  # withdrawn by an official, with a reason


class DeliveryStatus(StrEnum):
    LOGGED = "logged"  # reported by the provider, awaiting verification
    VERIFIED = "verified"
    DISPUTED = "disputed"
