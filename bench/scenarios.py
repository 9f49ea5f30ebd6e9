"""The four scenarios: the GraphQL each sends and how each virtual user moves through the data."""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub import fast_claim, fast_path

PAGE_SIZE = 50
FEED_PAGE_SIZE = 100
# How many pages a reader follows before starting again from the first.
PAGES_PER_VISIT = 5
STORM_CLIENTS = 64

# The document NGO apps send, which the hub answers on its compiled path.
NEEDS_PAGE = fast_path.NEEDS_PAGE

CHANGES_FEED = """
query ChangesFeed($province: String!, $since: DateTime!, $after: String) {
  needs(filter: {jurisdiction: $province, changedSince: $since}, orderBy: CHANGED,
        first: 100, after: $after) {
    edges { node { id category urgency status pledgedQuantity version updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# The mutation claiming apps send, which the hub answers on its compiled path.
CLAIM_NEED = fast_claim.CLAIM_NEED

CHILD_DETAIL = """
query ChildDetail($id: ID!) {
  child(id: $id) {
    code ageBand birthDate sex guardianship school
    parentsAbsence { fatherAway motherAway since workLocation }
    region { code name }
    identity(purpose: "case review") {
      fullName idNumberTail address guardianName guardianRelation guardianPhone
    }
    coverage {
      need { id category urgency status description }
      claims { status expiresAt }
      pledged delivered verified unmet
    }
  }
}
"""


def global_id(type_name: str, key: uuid.UUID | str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@dataclass
class Targets:
    """What the scenarios read and write, found in the seeded database."""

    county: str
    province: str
    child_ids: list[uuid.UUID]
    # Open indivisible needs of the county, by category, for the storm to take.
    claimable_needs: dict[str, list[uuid.UUID]]
    # The categories each storm client's provider serves, by client number: a provider claims
    # only needs of those, so each client takes only such needs and the storm measures claims.
    storm_categories: list[frozenset[str]]
    oldest_change: datetime
    storm_queue: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def needs_page_requests(targets: Targets) -> Any:
    """An endless walk: the first page, then following pages, then the first again."""

    def walk(user: int, rng: random.Random) -> Any:
        after: str | None = None
        pages = 0
        while True:
            response = yield {
                "query": NEEDS_PAGE,
                "variables": {"county": targets.county, "after": after},
            }
            pages += 1
            info = _page_info(response, "needs")
            if info is None or not info["hasNextPage"] or pages >= PAGES_PER_VISIT:
                after, pages = None, 0
            else:
                after = info["endCursor"]

    return walk


def changes_feed_requests(targets: Targets) -> Any:
    def walk(user: int, rng: random.Random) -> Any:
        while True:
            since = targets.oldest_change + timedelta(
                seconds=rng.uniform(0, 0.9)
                * (
                    datetime.now(targets.oldest_change.tzinfo) - targets.oldest_change
                ).total_seconds()
            )
            after: str | None = None
            for _ in range(PAGES_PER_VISIT):
                response = yield {
                    "query": CHANGES_FEED,
                    "variables": {
                        "province": targets.province,
                        "since": since.isoformat(),
                        "after": after,
                    },
                }
                info = _page_info(response, "needs")
                if info is None or not info["hasNextPage"]:
                    break
                after = info["endCursor"]

    return walk


def child_detail_requests(targets: Targets) -> Any:
    def walk(user: int, rng: random.Random) -> Any:
        while True:
            yield {
                "query": CHILD_DETAIL,
                "variables": {"id": global_id("Child", rng.choice(targets.child_ids))},
            }

    return walk


def claim_storm_requests(targets: Targets) -> Any:
    """Every client takes needs from queues shared by category, only of the categories its
    provider serves (any other is refused before the race), and now and then one another
    client just took: so that clients collide and the database has to refuse the second claim."""

    def walk(user: int, rng: random.Random) -> Any:
        served = targets.storm_categories[user]
        recent = targets.storm_queue
        while True:
            open_in = [c for c in sorted(served) if targets.claimable_needs.get(c)]
            if not open_in:
                return
            taken = [need for need, category in recent[-64:] if category in served]
            if taken and rng.random() < 0.2:
                need = rng.choice(taken)
            else:
                # A category at random: clients of providers serving it meet on its queue.
                category = rng.choice(open_in)
                need = targets.claimable_needs[category].pop()
                recent.append((need, category))
            yield {
                "query": CLAIM_NEED,
                "variables": {
                    "need": global_id("Need", need),
                    # Fresh keys every run: a key reused for another need is refused.
                    "key": str(uuid.uuid4()),
                },
            }

    return walk


def _page_info(response: Any, root: str) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = response["data"][root]["pageInfo"]
    except (KeyError, TypeError):
        return None
    return info
