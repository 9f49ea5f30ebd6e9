"""The GraphQL-over-HTTP request parameters (``query``, ``operationName``, ``variables``,
``extensions``), read from a POST body or a GET query string and checked for their types.

Anything malformed is a ``ProtocolError`` - 400 ``BAD_REQUEST``, with a message naming what is
wrong - before anything runs. Strawberry's own reading assumed that a JSON body is an object
and let the standard library's decoder fail in ways it did not catch: a body that is a string,
a number or ``null``, bytes that are not UTF-8, a number of thousands of digits, or arrays
nested 100,000 deep all ended as a plain-text 500.

The standard library's decoder is kept (not orjson): it reads any string JSON can write,
including escaped lone surrogates, so that such a string in a variable reaches the argument
checks, which name the field at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from strawberry.http import GraphQLRequestData

from hub.protocol.errors import ProtocolError

BAD_REQUEST = "BAD_REQUEST"
BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
PARAMETERS = ("query", "operationName", "variables", "extensions")
# The parameters that are JSON objects; in a query string, JSON text.
_OBJECTS = ("variables", "extensions")


def from_body(body: bytes) -> GraphQLRequestData:
    """The parameters a POST body of ``application/json`` carries."""
    payload = decode_json(body, "the request body")
    if isinstance(payload, list):
        raise ProtocolError(
            400, BATCHING_NOT_SUPPORTED, "send one operation per request: batching is off"
        )
    if not isinstance(payload, dict):
        raise ProtocolError(
            400,
            BAD_REQUEST,
            "the request body must be a JSON object: "
            '{"query": …, "variables": {…}, "operationName": …, "extensions": {…}}',
        )
    return _checked(payload)


def from_query_string(query_string: str) -> GraphQLRequestData:
    """The parameters of a GET request's query string, where variables and extensions are
    JSON text; a parameter given twice is ambiguous, and refused."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    payload: dict[str, Any] = {}
    for name in PARAMETERS:
        values = [value for key, value in pairs if key == name]
        if len(values) > 1:
            raise ProtocolError(400, BAD_REQUEST, f"{name} is given more than once")
        if not values or (name in _OBJECTS and not values[0]):
            continue  # an empty variables= or extensions= says nothing, as if left out
        value = values[0]
        payload[name] = decode_json(value, name) if name in _OBJECTS else value
    return _checked(payload)


def decode_json(text: bytes | str, what: str) -> object:
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, BAD_REQUEST, f"{what} is not UTF-8") from exc
    except RecursionError as exc:
        raise ProtocolError(400, BAD_REQUEST, f"{what} nests too deeply") from exc
    except ValueError as exc:
        # A JSONDecodeError, or an integer longer than Python converts.
        raise ProtocolError(400, BAD_REQUEST, f"{what} is not JSON") from exc


def _checked(payload: Mapping[str, Any]) -> GraphQLRequestData:
    query = _typed(payload, "query", str, "a string")
    operation_name = _typed(payload, "operationName", str, "a string")
    variables = _typed(payload, "variables", dict, "an object")
    extensions = _typed(payload, "extensions", dict, "an object")
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=operation_name,
        extensions=extensions,
        protocol="http",
    )


def _typed(payload: Mapping[str, Any], name: str, kind: type, described: str) -> Any:
    value = payload.get(name)
    if value is not None and not isinstance(value, kind):
        raise ProtocolError(400, BAD_REQUEST, f"{name} must be {described} or null")
    return value
