"""Global IDs for resolvers; the parsing lives with the schema, whose entity types need it too."""

from hub.schema.ids import parse_global_id, uuid_of

__all__ = ["parse_global_id", "uuid_of"]
