"""Who reads the text of a need, and of the claims and deliveries on it: pure decisions over the
policy's data (``hub.auth.policy``), given what the reader's provider holds.

The text of a need is its description and why it was cancelled; of a claim, its note and why it
ended; of a delivery, what was given, the evidence and why it was disputed. It goes to:

- officials of the child's region (``register:read_case`` there), always;
- a provider holding an active claim on that very need - not on another need of the same child -
  unless the need's category is a sensitive one its kind and served categories do not qualify
  it for (``qualifies_for_category``);
- and a claim's or a delivery's own provider, always: its own records.

Everyone else who may read the need sees its pseudonymous facts only: category, status, urgency,
quantities and dates.
"""

from __future__ import annotations

from hub.auth.policy import Permission, may, qualifies_for_category
from hub.auth.principal import Principal
from hub.vocabulary import NeedCategory


def is_official(principal: Principal, region_code: str) -> bool:
    """Whether the principal reads every need's text in the region: its officials do."""
    return may(principal, Permission.READ_CASE_DETAIL, region_code)


def may_hold(principal: Principal) -> bool:
    """Whether holding a claim can widen what the principal reads: only for one who may claim
    at all (a client narrowed to reading the register reads as any reader of it)."""
    return may(principal, Permission.CLAIM)


def reads_need_text(
    principal: Principal, region_code: str, category: NeedCategory, *, holds: bool
) -> bool:
    """``holds``: the principal's provider holds an active claim on this need, and the
    principal may act on claims (``may_hold``; ``statements.holdings`` asks only then)."""
    if is_official(principal, region_code):
        return True
    return holds and qualifies_for_category(principal, category)
