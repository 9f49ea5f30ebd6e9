"""A GraphQL client for tests: posts an operation as a member of the test world (with a real
access token, as an app of their provider would), with a given token, or - for anyone else, and
when the client has no tokens to hand - with the development header; returns the decoded
response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.auth import Tokens


@dataclass
class GraphQLResponse:
    status_code: int
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code", "") for error in self.errors]

    def ok(self) -> dict[str, Any]:
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, tokens: Tokens | None = None) -> None:
        self.http = http
        self.tokens = tokens
        self._member_tokens: dict[str, str] = {}

    async def sign_in_everyone(self) -> None:
        """Mint every world member's token up front, so that tests comparing the database
        before and after a request see no rows the tokens themselves needed."""
        assert self.tokens is not None
        for login in self.tokens.world.members:
            self._member_tokens[login] = await self.tokens.member(login)

    def client_id_for(self, login: str) -> str:
        """The app a member of the test world acts through."""
        assert self.tokens is not None
        return self.tokens.client_id_for(login)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> GraphQLResponse:
        """``as_``: a member of the test world, acting through an app of their provider."""
        sent = dict(headers or {})
        if as_ is not None and self.tokens is not None and as_ in self.tokens.world.members:
            if as_ not in self._member_tokens:
                self._member_tokens[as_] = await self.tokens.member(as_)
            token = self._member_tokens[as_]
        elif as_ is not None:
            sent["X-Hub-Dev-Member"] = as_
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        body = response.json()
        return GraphQLResponse(response.status_code, body.get("data"), body.get("errors") or [])
