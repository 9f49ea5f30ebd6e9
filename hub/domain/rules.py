"""How long claims run and when aid counts as overlapping: defaults per need category.

Every default can be overridden per category in the settings (HUB_CLAIM_DAYS, HUB_OVERLAP_DAYS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from hub.settings import Settings
from hub.vocabulary import NeedCategory

C = NeedCategory

# Days a provider has to deliver before a claim expires: urgent kinds of help run short, so
# that a forgotten claim does not block a child for long.
DEFAULT_CLAIM_DAYS: Mapping[NeedCategory, int] = {
    C.EDUCATION: 30,
    C.MATERIAL: 21,
    C.FINANCIAL: 30,
    C.MEDICAL: 14,
    C.PSYCHOLOGICAL: 14,
    C.SAFETY: 7,
    C.FAMILY_CONTACT: 14,
    C.AFTER_SCHOOL_CARE: 30,
    C.LEGAL: 30,
}

# Aid of one category to one child from two providers within this many days is likely
# duplicated (two winter coats in one season), not follow-up care.
DEFAULT_OVERLAP_DAYS: Mapping[NeedCategory, int] = {
    C.EDUCATION: 90,
    C.MATERIAL: 60,
    C.FINANCIAL: 90,
    C.MEDICAL: 30,
    C.PSYCHOLOGICAL: 30,
    C.SAFETY: 30,
    C.FAMILY_CONTACT: 30,
    C.AFTER_SCHOOL_CARE: 60,
    C.LEGAL: 90,
}

# After a dispute the provider gets at least this long to put the delivery right.
DISPUTE_GRACE = timedelta(days=7)
# "Expiring soon" in coverage reports.
EXPIRY_HORIZON = timedelta(days=7)


@dataclass(frozen=True)
class CoordinationRules:
    claim_days: Mapping[NeedCategory, int] = field(default_factory=lambda: DEFAULT_CLAIM_DAYS)
    overlap_days: Mapping[NeedCategory, int] = field(default_factory=lambda: DEFAULT_OVERLAP_DAYS)
    max_extensions: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> CoordinationRules:
        return cls(
            claim_days={**DEFAULT_CLAIM_DAYS, **dict(settings.claim_days)},
            overlap_days={**DEFAULT_OVERLAP_DAYS, **dict(settings.overlap_days)},
            max_extensions=settings.claim_max_extensions,
        )

    def claim_period(self, category: NeedCategory) -> timedelta:
        return timedelta(days=self.claim_days[category])

    def overlap_window(self, category: NeedCategory) -> timedelta:
        return timedelta(days=self.overlap_days[category])
