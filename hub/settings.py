"""Configuration, read once from ``HUB_*`` environment variables.

Every setting has a safe default so that ``hub demo`` works with nothing configured; the README
lists them all. Values are validated here so that a typo fails at start-up, not at the first
request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Environment = Literal["dev", "prod"]


class SettingsError(ValueError):
    """A HUB_* variable holds a value the hub cannot use."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hub"


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    env: Environment = "prod"
    log_level: str = "INFO"
    max_page_size: int = 100
    default_page_size: int = 20
    db_pool_size: int = 10
    id_hash_key: str | None = field(default=None, repr=False)

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        hub_env = env.get("HUB_ENV", "prod").strip().lower()
        if hub_env not in ("dev", "prod"):
            raise SettingsError(f"HUB_ENV must be 'dev' or 'prod', not {hub_env!r}")
        data_dir = env.get("HUB_DATA_DIR")
        return cls(
            database_url=env.get("HUB_DATABASE_URL") or None,
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
            host=env.get("HUB_HOST", cls.host),
            port=_int(env, "HUB_PORT", cls.port, minimum=0),
            env="dev" if hub_env == "dev" else "prod",
            log_level=env.get("HUB_LOG_LEVEL", cls.log_level).upper(),
            max_page_size=_int(env, "HUB_MAX_PAGE_SIZE", cls.max_page_size, minimum=1),
            default_page_size=_int(env, "HUB_DEFAULT_PAGE_SIZE", cls.default_page_size, minimum=1),
            db_pool_size=_int(env, "HUB_DB_POOL_SIZE", cls.db_pool_size, minimum=1),
            id_hash_key=env.get("HUB_ID_HASH_KEY") or None,
        )


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value
