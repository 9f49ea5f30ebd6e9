"""Per-need disclosure (DESIGN rule 3, need-to-know): the text of a need, and of the claims and
deliveries on it, goes to officials of the child's region and to the provider holding that very
need - for sensitive categories only if its kind and served categories qualify - never to a
provider because it holds another need of the same child.

``rules`` decides from the policy's data, ``statements`` asks which needs the reader's provider
holds (one query per batch), ``views`` applies both to a batch of rows.
"""

from hub.domain.disclosure.rules import is_official, reads_need_text
from hub.domain.disclosure.statements import (
    NOTHING_HELD,
    Holdings,
    holdings,
    holdings_memo,
    one_active_claim,
)
from hub.domain.disclosure.views import Disclosure, disclosure_for

__all__ = [
    "NOTHING_HELD",
    "Disclosure",
    "Holdings",
    "disclosure_for",
    "holdings",
    "holdings_memo",
    "is_official",
    "one_active_claim",
    "reads_need_text",
]
