"""The access policy: which role may do what, and where.

Every entry point asks here (through the domain layer); nothing else decides. A permission holds
for a region when one of the principal's grants has a role carrying that permission and a
jurisdiction covering the region, and - for a client - the token's scopes include it.

Permissions double as OAuth scopes: a client registered with ``register:read`` only can never
do more than read the register, whatever roles its provider holds.

Everything here is data (``ROLE_PERMISSIONS``, ``ROLE_RANK``, ``KIND_ROLES``,
``SENSITIVE_CATEGORY_READERS``) plus a few pure functions over it, so the permission-matrix tests
can be generated from the policy itself.
"""

from __future__ import annotations

from enum import StrEnum

from hub.auth.principal import Principal, covers
from hub.vocabulary import NeedCategory, ProviderKind, Role


class Permission(StrEnum):
    READ_REGISTER = "register:read"  # pseudonymous facts of children and needs
    # Village, school, guardianship; the text of every need of the region and of the claims and
    # deliveries on it (``hub.domain.disclosure``).
    READ_CASE_DETAIL = "register:read_case"
    READ_IDENTITY = "register:read_identity"  # officials: identities within their jurisdiction
    # Identity of a child the provider holds an active claim on, where the guardian consented.
    READ_CLAIMED_IDENTITY = "register:read_claimed_identity"
    WRITE_REGISTER = "register:write"  # register and update children; open, update, cancel needs
    READ_STATISTICS = "register:statistics"  # counts only: no single child or need
    READ_PROVIDERS = "providers:read"
    MANAGE_PROVIDERS = "providers:manage"  # create and suspend providers
    MANAGE_MEMBERS = "members:manage"  # invite members, grant and revoke roles
    MANAGE_CLIENTS = "clients:manage"  # register, rotate and revoke OAuth clients
    # Trust GraphQL documents for a client, and restrict the client to its trusted documents.
    MANAGE_TRUSTED_DOCUMENTS = "clients:trusted_documents"
    INTROSPECT = "schema:introspect"  # introspection (__schema, __type) outside development
    READ_ACCESS_LOG = "access_log:read"  # who read which child's identity
    READ_AUDIT = "audit:read"  # the audit log of one's jurisdiction
    READ_PLATFORM_AUDIT = "audit:read_platform"  # hub-wide events that belong to no region
    CLAIM = "coordination:claim"  # claim needs; extend, release and deliver one's own claims
    VERIFY = "coordination:verify"  # verify or dispute others' deliveries; fail or revoke claims
    OVERSEE = "coordination:oversee"  # overlapping aid and providers' accountability


_READERS = {Permission.READ_REGISTER, Permission.READ_PROVIDERS, Permission.READ_STATISTICS}
_OFFICIALS = _READERS | {
    Permission.READ_CASE_DETAIL,
    Permission.READ_IDENTITY,
    Permission.WRITE_REGISTER,
    Permission.READ_ACCESS_LOG,
    Permission.CLAIM,
    Permission.VERIFY,
    Permission.OVERSEE,
}
_PROVIDER_STAFF = _READERS | {Permission.READ_CLAIMED_IDENTITY, Permission.CLAIM}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Runs the platform: providers, roles, clients and the audit log; no child data at all.
    Role.PLATFORM_ADMIN: frozenset(
        {
            Permission.READ_PROVIDERS,
            Permission.MANAGE_PROVIDERS,
            Permission.MANAGE_MEMBERS,
            Permission.MANAGE_CLIENTS,
            Permission.MANAGE_TRUSTED_DOCUMENTS,
            Permission.READ_AUDIT,
            Permission.READ_PLATFORM_AUDIT,
            Permission.INTROSPECT,
        }
    ),
    Role.GOVERNMENT_OFFICER: frozenset(_OFFICIALS),
    Role.CHILD_DIRECTOR: frozenset(_OFFICIALS),
    Role.PROVIDER_ADMIN: frozenset(
        _PROVIDER_STAFF
        | {
            Permission.MANAGE_MEMBERS,
            Permission.MANAGE_CLIENTS,
            Permission.MANAGE_TRUSTED_DOCUMENTS,
        }
    ),
    Role.COORDINATOR: frozenset(_PROVIDER_STAFF),
    Role.WORKER: frozenset(_PROVIDER_STAFF),
    # Audit log, access log and aggregates; never a child's record itself.
    Role.AUDITOR: frozenset(
        {
            Permission.READ_PROVIDERS,
            Permission.READ_STATISTICS,
            Permission.READ_ACCESS_LOG,
            Permission.READ_AUDIT,
        }
    ),
}

# Nobody grants a role above their own: a role may grant roles of its rank or lower. Only the
# platform admin (rank 0) may grant roles to other providers than its own.
ROLE_RANK: dict[Role, int] = {
    Role.PLATFORM_ADMIN: 0,
    Role.GOVERNMENT_OFFICER: 1,
    Role.AUDITOR: 1,
    Role.CHILD_DIRECTOR: 2,
    Role.PROVIDER_ADMIN: 3,
    Role.COORDINATOR: 4,
    Role.WORKER: 5,
}

_EVERY_PROVIDER = frozenset({Role.PROVIDER_ADMIN, Role.COORDINATOR, Role.WORKER})

# A provider's kind limits the roles it can hold: a business has no government officer.
KIND_ROLES: dict[ProviderKind, frozenset[Role]] = {
    ProviderKind.GOVERNMENT: _EVERY_PROVIDER
    | {Role.PLATFORM_ADMIN, Role.GOVERNMENT_OFFICER, Role.AUDITOR},
    ProviderKind.VILLAGE_OFFICE: _EVERY_PROVIDER | {Role.CHILD_DIRECTOR},
    ProviderKind.SCHOOL: _EVERY_PROVIDER,
    ProviderKind.NGO: _EVERY_PROVIDER,
    ProviderKind.BUSINESS: _EVERY_PROVIDER,
    ProviderKind.VOLUNTEER_GROUP: _EVERY_PROVIDER,
    ProviderKind.INDIVIDUAL: _EVERY_PROVIDER,
}

# Identity goes to non-government providers only through a claim and the guardian's consent.
GOVERNMENT_KINDS = frozenset({ProviderKind.GOVERNMENT, ProviderKind.VILLAGE_OFFICE})
# Permissions that only a non-government provider's roles exercise.
NON_GOVERNMENT_ONLY = frozenset({Permission.READ_CLAIMED_IDENTITY})
# Permissions whose reach is not a region: the provider directory is open to every provider
# that may read it at all, hub-wide audit events belong to no region, and the schema is one.
UNREGIONAL = frozenset(
    {Permission.READ_PROVIDERS, Permission.READ_PLATFORM_AUDIT, Permission.INTROSPECT}
)

ALL_SCOPES: tuple[str, ...] = tuple(permission.value for permission in Permission)

# The text of a need (its description, why it was cancelled) and of the claims and deliveries on
# it goes to officials of the child's region (``register:read_case``) and to a provider holding
# an active claim on that very need (``hub.domain.disclosure``). For these categories that is not
# enough: the text tells of a child's mind, body, safety or legal trouble, and goes only to a
# holder whose kind is listed here and who serves the category. A business, a volunteer group or
# an individual never reads it; what they may hold of such a need they deliver by its category.
#
# - Psychological: schools (teachers and counsellors are the confidants the child has), NGOs
#   (social workers), government departments (education bureaus, mental health services).
# - Medical: NGOs (health and relief programmes) and government departments (health
#   commissions, medical assistance of civil affairs); a school refers a child, it does not
#   treat one.
# - Safety and guardianship: NGOs, schools (which see a child alone at home first and must
#   report it), village offices and government departments (civil affairs answers for
#   guardianship).
# - Legal: NGOs (legal aid organisations) and government departments (justice bureaus and their
#   legal aid centres).
#
# Government departments and village offices are public bodies bound to keep what they learn of
# a child confidential; their officials (government officers, child directors) read every need
# of their region through ``register:read_case`` anyway. Listing them here only lets their staff
# without that permission (workers, coordinators) read the needs they hold themselves.
SENSITIVE_CATEGORY_READERS: dict[NeedCategory, frozenset[ProviderKind]] = {
    NeedCategory.PSYCHOLOGICAL: frozenset(
        {ProviderKind.SCHOOL, ProviderKind.NGO, ProviderKind.GOVERNMENT}
    ),
    NeedCategory.MEDICAL: frozenset({ProviderKind.NGO, ProviderKind.GOVERNMENT}),
    NeedCategory.SAFETY: frozenset(
        {
            ProviderKind.SCHOOL,
            ProviderKind.NGO,
            ProviderKind.VILLAGE_OFFICE,
            ProviderKind.GOVERNMENT,
        }
    ),
    NeedCategory.LEGAL: frozenset({ProviderKind.NGO, ProviderKind.GOVERNMENT}),
}


def jurisdictions_for(principal: Principal, permission: Permission) -> tuple[str, ...]:
    """The region prefixes where the principal holds ``permission``; empty if nowhere."""
    if principal.scopes is not None and permission.value not in principal.scopes:
        return ()
    if permission in NON_GOVERNMENT_ONLY and principal.provider_kind in GOVERNMENT_KINDS:
        return ()
    prefixes = {
        grant.jurisdiction
        for grant in principal.grants
        if permission in ROLE_PERMISSIONS.get(grant.role, frozenset())
        and grant.role in KIND_ROLES[principal.provider_kind]
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


def qualifies_for_category(principal: Principal, category: NeedCategory) -> bool:
    """Whether the principal's provider may read the text of a need of ``category`` it holds:
    any category but a sensitive one, and a sensitive one only if the provider's kind is among
    its readers (``SENSITIVE_CATEGORY_READERS``) and the provider serves it."""
    readers = SENSITIVE_CATEGORY_READERS.get(category)
    if readers is None:
        return True
    return principal.provider_kind in readers and category in principal.served_categories


def may_introspect(principal: Principal | None, *, dev: bool) -> bool:
    """Whether introspection (``__schema``, ``__type``) answers: always in development, and
    otherwise for principals holding ``schema:introspect`` (platform admins)."""
    return dev or (principal is not None and may(principal, Permission.INTROSPECT))


def may_everywhere(
    principal: Principal, permission: Permission, region_codes: tuple[str, ...] | list[str]
) -> bool:
    """Whether ``permission`` holds for every one of ``region_codes`` (and there is one)."""
    return bool(region_codes) and all(may(principal, permission, code) for code in region_codes)


def may_grant(
    principal: Principal,
    role: Role,
    jurisdiction: str,
    *,
    provider_id: object,
    provider_kind: ProviderKind,
) -> str | None:
    """Why the principal may not grant ``role`` in ``jurisdiction`` at that provider; None if
    it may.

    The grantor needs ``members:manage`` over the jurisdiction through a grant of a role that
    ranks at least as high as the one granted, in its own provider unless it is a platform
    admin; and the provider's kind must be able to hold the role at all.
    """
    if role not in KIND_ROLES[provider_kind]:
        return f"a {provider_kind.value} provider cannot hold the role {role.value}"
    if principal.scopes is not None and Permission.MANAGE_MEMBERS.value not in principal.scopes:
        return "granting roles is outside this client's scopes"
    for grant in principal.grants:
        if Permission.MANAGE_MEMBERS not in ROLE_PERMISSIONS[grant.role]:
            continue
        if grant.role not in KIND_ROLES[principal.provider_kind]:
            continue
        if not covers(grant.jurisdiction, jurisdiction):
            continue
        if ROLE_RANK[grant.role] > ROLE_RANK[role]:
            continue
        if grant.role is not Role.PLATFORM_ADMIN and provider_id != principal.provider_id:
            continue
        return None
    return "you cannot grant that role there: it would be wider than your own"
