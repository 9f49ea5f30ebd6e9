"""SQLAlchemy models: one module per concept, all registered on one metadata."""

from hub.db.models.access import AccessRecord
from hub.db.models.audit import AuditEvent
from hub.db.models.base import Base
from hub.db.models.change_checkpoint import ChangeCheckpoint
from hub.db.models.child import Child, ChildIdentity, GuardianConsent
from hub.db.models.claim import Claim
from hub.db.models.credentials import Invitation, LoginAttempt, MemberCredential
from hub.db.models.delivery import Delivery
from hub.db.models.documents import PersistedDocument, TrustedDocument
from hub.db.models.idempotency import IdempotencyKey
from hub.db.models.merge import ChildMerge
from hub.db.models.need import Need
from hub.db.models.oauth import (
    AuthorizationCode,
    OAuthClient,
    RefreshToken,
    RevokedAccessToken,
    SigningKey,
    TokenFamily,
    UsedClientAssertion,
)
from hub.db.models.provider import Member, Provider, RoleGrant
from hub.db.models.rate_limit import RateLimit
from hub.db.models.region import Region

__all__ = [
    "AccessRecord",
    "AuditEvent",
    "AuthorizationCode",
    "Base",
    "ChangeCheckpoint",
    "Child",
    "ChildIdentity",
    "ChildMerge",
    "Claim",
    "Delivery",
    "GuardianConsent",
    "IdempotencyKey",
    "Invitation",
    "LoginAttempt",
    "Member",
    "MemberCredential",
    "Need",
    "OAuthClient",
    "PersistedDocument",
    "Provider",
    "RateLimit",
    "RefreshToken",
    "Region",
    "RevokedAccessToken",
    "RoleGrant",
    "SigningKey",
    "TokenFamily",
    "TrustedDocument",
    "UsedClientAssertion",
]
