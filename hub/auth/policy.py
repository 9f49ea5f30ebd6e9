"""The access policy: which role may do what, and where.

Every entry point asks here (through the domain layer); nothing else decides. A permission holds
for a region when one of the principal's grants has a role carrying that permission and a
jurisdiction covering the region.
"""

from __future__ import annotations

from enum import StrEnum

from hub.auth.principal import Principal, covers
from hub.vocabulary import Role


class Permission(StrEnum):
    READ_REGISTER = "register:read"  # pseudonymous facts of children and needs
    READ_CASE_DETAIL = "register:read_case"  # village, school, guardianship, need description
    READ_IDENTITY = "register:read_identity"
    WRITE_REGISTER = "register:write"  # register and update children; open, update, cancel needs
    READ_PROVIDERS = "providers:read"


_READERS = {Permission.READ_REGISTER, Permission.READ_PROVIDERS}
_OFFICIALS = _READERS | {
    Permission.READ_CASE_DETAIL,
    Permission.READ_IDENTITY,
    Permission.WRITE_REGISTER,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PLATFORM_ADMIN: frozenset({Permission.READ_PROVIDERS}),
    Role.GOVERNMENT_OFFICER: frozenset(_OFFICIALS),
    Role.CHILD_DIRECTOR: frozenset(_OFFICIALS),
    Role.PROVIDER_ADMIN: frozenset(_READERS),
    Role.COORDINATOR: frozenset(_READERS),
    Role.WORKER: frozenset(_READERS),
    Role.AUDITOR: frozenset({Permission.READ_PROVIDERS}),
}


def jurisdictions_for(principal: Principal, permission: Permission) -> tuple[str, ...]:
    """The region prefixes where the principal holds ``permission``; empty if nowhere."""
    if principal.scopes is not None and permission.value not in principal.scopes:
        return ()
    prefixes = {
        grant.jurisdiction
        for grant in principal.grants
        if permission in ROLE_PERMISSIONS.get(grant.role, frozenset())
    }
    # Drop prefixes already covered by a shorter one, so SQL filters stay small.
    return tuple(
        sorted(p for p in prefixes if not any(o != p and p.startswith(o) for o in prefixes))
    )


def may(principal: Principal, permission: Permission, region_code: str | None = None) -> bool:
    """Whether the principal holds ``permission`` anywhere, or for ``region_code`` if given."""
    prefixes = jurisdictions_for(principal, permission)
    if region_code is None:
        return bool(prefixes)
    return any(covers(prefix, region_code) for prefix in prefixes)
