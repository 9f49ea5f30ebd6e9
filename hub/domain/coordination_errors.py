"""Expected refusals of coordination requests, each with a stable code clients can branch on.

Losing a race for a need is not among them: that is a typed answer (see ``hub.domain.claims``).
"""

from __future__ import annotations

from hub.domain.errors import Conflict, Forbidden


class NotClaimant(Forbidden):
    """Only the provider holding a claim may extend, release or deliver under it."""

    code = "NOT_CLAIMANT"


class CategoryNotServed(Forbidden):
    """A provider claims only needs in the categories it serves, so that a need stays open to
    those qualified for it. A provider serving no category claims nothing."""

    code = "CATEGORY_NOT_SERVED"


class SelfVerification(Forbidden):
    """Separation of duties: a delivery is verified by someone other than who delivered it."""

    code = "SELF_VERIFICATION"


class NeedNotClaimable(Conflict):
    code = "NEED_NOT_CLAIMABLE"


class ClaimNotActive(Conflict):
    code = "CLAIM_NOT_ACTIVE"


class ClaimExpired(Conflict):
    """The claim's deadline passed (whether or not the sweeper has recorded it yet)."""

    code = "CLAIM_EXPIRED"


class ExtensionLimit(Conflict):
    code = "EXTENSION_LIMIT"


class OverDelivery(Conflict):
    """Deliveries under a claim never add up to more than its pledge."""

    code = "OVER_DELIVERY"


class AlreadyReviewed(Conflict):
    code = "DELIVERY_ALREADY_REVIEWED"
