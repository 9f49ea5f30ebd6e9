"""Members, the roles they (and clients) hold, and what an invitation hands out once."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from hub.domain.members import GrantView, Invited, MemberView
from hub.vocabulary import Role


@strawberry.type(description="A person who acts for one or more providers.")
class Member:
    id: relay.GlobalID
    login: str
    display_name: str

    @classmethod
    def from_view(cls, view: MemberView) -> Member:
        return cls(
            id=relay.GlobalID("Member", str(view.id)),
            login=view.login,
            display_name=view.display_name,
        )


@strawberry.type(description="One role held at one provider, within one jurisdiction.")
class RoleGrant:
    id: relay.GlobalID
    provider_id: relay.GlobalID
    role: Role
    jurisdiction: str
    granted_at: datetime
    revoked_at: datetime | None
    member: Member | None = strawberry.field(description="Null for a client's role.")

    @classmethod
    def from_view(cls, view: GrantView, member: MemberView | None = None) -> RoleGrant:
        return cls(
            id=relay.GlobalID("RoleGrant", str(view.id)),
            provider_id=relay.GlobalID("Provider", str(view.provider_id)),
            role=view.role,
            jurisdiction=view.jurisdiction,
            granted_at=view.granted_at,
            revoked_at=view.revoked_at,
            member=None if member is None else Member.from_view(member),
        )


@strawberry.type
class InviteMemberPayload:
    member: Member
    grant: RoleGrant
    invitation_url: str = strawberry.field(
        description="Shown once: the person opens it to accept (a new member chooses a "
        "password there, an existing one enters theirs)."
    )
    expires_at: datetime

    @classmethod
    def from_domain(cls, invited: Invited, public_url: str) -> InviteMemberPayload:
        return cls(
            member=Member.from_view(invited.member),
            grant=RoleGrant.from_view(invited.grant, invited.member),
            invitation_url=f"{public_url}/oauth/invitation?token={invited.invitation_token}",
            expires_at=invited.expires_at,
        )


@strawberry.type
class RoleGrantPayload:
    grant: RoleGrant
