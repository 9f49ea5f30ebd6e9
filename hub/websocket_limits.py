"""How many WebSocket connections each principal may hold open in this process.

A connection is counted from its accepted ``connection_init`` until it closes, under its member
(whichever app they connect through), else its OAuth client. Each process counts its own: with
N processes behind a load balancer, a principal may hold up to N times the limit (README,
"Limits"). A connection beyond the limit is closed with 1008 (policy violation) and a reason
that starts with ``TOO_MANY_CONNECTIONS``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hub.auth.principal import Principal

CLOSE_CODE = 1008
REASON = "TOO_MANY_CONNECTIONS"


class TooManyConnections(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{REASON}: at most {limit} connections per principal")
        self.limit = limit


def principal_key(principal: Principal) -> str:
    if principal.member_id is not None:
        return f"member:{principal.member_id}"
    return f"client:{principal.client_id}"


class ConnectionLimit:
    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        self._open: Counter[str] = Counter()

    def admit(self, principal: Principal) -> Callable[[], None]:
        """Count one more connection of ``principal``; the returned function, called once when
        it closes, counts it out. TooManyConnections if it already holds the limit."""
        key = principal_key(principal)
        if self._open[key] >= self.per_principal:
            raise TooManyConnections(self.per_principal)
        self._open[key] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[key] -= 1
                if self._open[key] <= 0:
                    del self._open[key]

        return release

    def held_by(self, principal: Principal) -> int:
        return self._open[principal_key(principal)]
