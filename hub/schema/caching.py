"""Per-process caches of parsed and validated documents.

Parsing and validating a document costs more than executing a small page of it, and clients send
the same few documents again and again. Strawberry's caches are bounded LRUs at module level,
keyed by the document's text (parsing) and the parsed document (validation): never by who asks
or with which variables, so what a principal may see is still decided on every request.
"""

from __future__ import annotations

from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache

CACHING_EXTENSIONS: list[type[SchemaExtension]] = [ParserCache, ValidationCache]
