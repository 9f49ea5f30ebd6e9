"""Where the database is: the configured server, or the embedded one in the data directory."""

from __future__ import annotations

from hub.db.embedded import embedded_url
from hub.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded_url(settings.data_dir)
