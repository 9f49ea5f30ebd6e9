"""Configuration, read once from ``HUB_*`` environment variables.

Every setting has a safe default so that ``hub demo`` works with nothing configured; the README
lists them all. Values are validated here so that a typo fails at start-up, not at the first
request.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hub.vocabulary import NeedCategory

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
    # Server processes on the one port (``hub serve``); one per core is the usual choice.
    workers: int = 1
    # How long a worker may leave its supervisor's health check unanswered, at start (a new
    # interpreter importing uvicorn) and later, before it is killed as hung and replaced.
    worker_healthcheck_timeout_seconds: int = 30
    env: Environment = "prod"
    log_level: str = "INFO"
    max_page_size: int = 100
    default_page_size: int = 20
    db_pool_size: int = 20
    # How long opening a database connection may take before it counts as failed: a stalled
    # server would otherwise hold every connect attempt for asyncpg's default minute.
    db_connect_timeout_seconds: float = 5.0
    # /readyz says "not ready" once this share of the pool's connections is in use (1.0: all).
    ready_max_pool_use: float = 1.0
    id_hash_key: str | None = field(default=None, repr=False)
    # The hub's public URL: the "iss" of every token it signs. Defaults to http://HOST:PORT.
    issuer: str | None = None
    # The "aud" of access tokens: the GraphQL API. Defaults to ISSUER/graphql.
    token_audience: str | None = None
    access_token_ttl: int = 600
    refresh_token_ttl: int = 14 * 24 * 3600
    authorization_code_ttl: int = 60
    invitation_ttl: int = 7 * 24 * 3600
    # Client assertions (private_key_jwt) may live at most this long; their jti is kept as long.
    client_assertion_max_lifetime: int = 300
    token_leeway: int = 30
    login_window: int = 900
    # Failed sign-ins of one login from one address, and from all addresses together.
    login_max_failures_per_account: int = 5
    login_max_failures_per_account_total: int = 50
    login_max_failures_per_address: int = 20
    # Failed client authentications (a wrong secret or assertion, an unknown client) within a
    # window: of one client from one address, of one client from all addresses, of one address.
    client_auth_window: int = 900
    client_auth_max_failures_per_client: int = 10
    client_auth_max_failures_per_client_total: int = 100
    client_auth_max_failures_per_address: int = 30
    # The proxies whose X-Forwarded-For names the client (addresses or CIDR networks); requests
    # from any other peer are taken to come from the peer itself. None by default.
    trusted_proxies: tuple[str, ...] = ()
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    # Password and secret hashes each process computes at once; more wait their turn.
    password_hash_concurrency: int = 2
    signing_keys_refresh: int = 60
    external_jwks_refresh: int = 300
    # Encrypts the signing keys' private parts in the database; else a key in the data directory.
    key_encryption_key: str | None = field(default=None, repr=False)

    # How often each process looks for claims past their deadline; 0 turns the sweeper off.
    sweep_interval_seconds: float = 60.0
    # How often a process deletes stale token, code and sign-in rows; 0 leaves it to `hub prune`.
    prune_interval_seconds: float = 3600.0
    # How often each process links newly committed audit events into the hash chain; 0 leaves
    # it to reads of the audit log (which always link first).
    audit_link_interval_seconds: float = 1.0
    # How often the processes between them record a checkpoint of the change feed (a time and
    # the transaction ids after it), which starts a `changedSince` page in one lookup; 0 turns
    # it off, and such pages pass over every need changed in their window.
    change_checkpoint_interval_seconds: float = 60.0
    claim_max_extensions: int = 2
    # Per-category overrides of the days a claim runs before it expires, and of the window in
    # which aid of the same category from two providers counts as overlapping. Pairs rather
    # than a dict, so that settings stay hashable.
    claim_days: tuple[tuple[NeedCategory, int], ...] = ()
    overlap_days: tuple[tuple[NeedCategory, int], ...] = ()

    # Need events a subscriber may have waiting before the hub ends its stream as too slow.
    events_queue_size: int = 100
    # How often an idle subscription re-reads its subscriber's roles (each event does too).
    events_recheck_seconds: float = 60.0
    # How often the LISTEN connection is pinged when quiet: a connection that died without a
    # word (no FIN, no RST) is noticed, and its subscribers told, within this plus 5 s.
    events_ping_seconds: float = 5.0
    # WebSocket connections one principal (member, else OAuth client) may hold open at once,
    # per process; and how long a new connection may take to send connection_init.
    max_websockets_per_principal: int = 20
    websocket_init_timeout_seconds: float = 10.0

    # Persisted documents each process keeps in memory in front of the database.
    persisted_documents_cache: int = 1000

    # The most bytes a request body may have, on every route: the largest document
    # (HUB_MAX_DOCUMENT_LENGTH characters, up to 6 bytes each JSON-escaped) and its variables,
    # such as a gateway's batch of entity representations, fit well within it.
    max_body_bytes: int = 2 * 1024 * 1024

    # Operation limits: no single request may exhaust the hub (README, "Limits").
    # In characters, as the parser counts them.
    max_document_length: int = 32 * 1024
    max_tokens: int = 2000
    max_depth: int = 12
    max_aliases: int = 30
    # Fields an operation selects once its fragments are expanded where they are spread: a
    # fragment spreading another twice, 40 deep, stands for 2**40 fields in a kilobyte.
    max_selections: int = 5000
    # The most an operation may cost (see hub/schema/cost.py), and what each principal may
    # spend per minute, counted in the same cost and shared by every hub process.
    max_cost: int = 25_000
    rate_limit_cost_per_minute: int = 100_000
    # Bounds an operation's execution; the same bound is every statement's statement_timeout.
    request_timeout_seconds: float = 30.0
    max_subscriptions_per_connection: int = 10

    def __post_init__(self) -> None:
        if self.rate_limit_cost_per_minute < self.max_cost:
            # An operation the cost limit admits must fit in a minute's budget, or it would
            # be refused forever with a retry-after that never comes true.
            raise SettingsError(
                f"HUB_RATE_LIMIT_COST_PER_MINUTE ({self.rate_limit_cost_per_minute}) must be "
                f"at least HUB_MAX_COST ({self.max_cost})"
            )

    @property
    def public_url(self) -> str:
        return (self.issuer or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def audience(self) -> str:
        return self.token_audience or f"{self.public_url}/graphql"

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
            workers=_int(env, "HUB_WORKERS", cls.workers, minimum=1, maximum=64),
            worker_healthcheck_timeout_seconds=_int(
                env,
                "HUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS",
                cls.worker_healthcheck_timeout_seconds,
                minimum=1,
                maximum=600,
            ),
            env="dev" if hub_env == "dev" else "prod",
            log_level=env.get("HUB_LOG_LEVEL", cls.log_level).upper(),
            max_page_size=_int(env, "HUB_MAX_PAGE_SIZE", cls.max_page_size, minimum=1),
            default_page_size=_int(env, "HUB_DEFAULT_PAGE_SIZE", cls.default_page_size, minimum=1),
            db_pool_size=_int(env, "HUB_DB_POOL_SIZE", cls.db_pool_size, minimum=1),
            db_connect_timeout_seconds=_float(
                env,
                "HUB_DB_CONNECT_TIMEOUT_SECONDS",
                cls.db_connect_timeout_seconds,
                minimum=0.1,
                maximum=60.0,
            ),
            ready_max_pool_use=_float(
                env, "HUB_READY_MAX_POOL_USE", cls.ready_max_pool_use, minimum=0.01, maximum=1.0
            ),
            id_hash_key=env.get("HUB_ID_HASH_KEY") or None,
            issuer=_url(env, "HUB_ISSUER"),
            token_audience=env.get("HUB_TOKEN_AUDIENCE") or None,
            access_token_ttl=_int(
                env, "HUB_ACCESS_TOKEN_TTL", cls.access_token_ttl, minimum=30, maximum=3600
            ),
            refresh_token_ttl=_int(
                env, "HUB_REFRESH_TOKEN_TTL", cls.refresh_token_ttl, minimum=60, maximum=90 * 86400
            ),
            authorization_code_ttl=_int(
                env, "HUB_AUTHORIZATION_CODE_TTL", cls.authorization_code_ttl, minimum=5, maximum=60
            ),
            invitation_ttl=_int(
                env, "HUB_INVITATION_TTL", cls.invitation_ttl, minimum=300, maximum=30 * 86400
            ),
            client_assertion_max_lifetime=_int(
                env,
                "HUB_CLIENT_ASSERTION_MAX_LIFETIME",
                cls.client_assertion_max_lifetime,
                minimum=30,
                maximum=3600,
            ),
            token_leeway=_int(env, "HUB_TOKEN_LEEWAY", cls.token_leeway, minimum=0, maximum=300),
            login_window=_int(env, "HUB_LOGIN_WINDOW", cls.login_window, minimum=60),
            login_max_failures_per_account=_int(
                env,
                "HUB_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                cls.login_max_failures_per_account,
                minimum=1,
            ),
            login_max_failures_per_account_total=_int(
                env,
                "HUB_LOGIN_MAX_FAILURES_PER_ACCOUNT_TOTAL",
                cls.login_max_failures_per_account_total,
                minimum=1,
            ),
            login_max_failures_per_address=_int(
                env,
                "HUB_LOGIN_MAX_FAILURES_PER_ADDRESS",
                cls.login_max_failures_per_address,
                minimum=1,
            ),
            client_auth_window=_int(
                env, "HUB_CLIENT_AUTH_WINDOW", cls.client_auth_window, minimum=60, maximum=86400
            ),
            client_auth_max_failures_per_client=_int(
                env,
                "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT",
                cls.client_auth_max_failures_per_client,
                minimum=1,
                maximum=10_000,
            ),
            client_auth_max_failures_per_client_total=_int(
                env,
                "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT_TOTAL",
                cls.client_auth_max_failures_per_client_total,
                minimum=1,
                maximum=100_000,
            ),
            client_auth_max_failures_per_address=_int(
                env,
                "HUB_CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS",
                cls.client_auth_max_failures_per_address,
                minimum=1,
                maximum=100_000,
            ),
            trusted_proxies=_networks(env, "HUB_TRUSTED_PROXIES"),
            password_hash_time_cost=_int(
                env, "HUB_PASSWORD_HASH_TIME_COST", cls.password_hash_time_cost, minimum=1
            ),
            password_hash_memory_kib=_int(
                env, "HUB_PASSWORD_HASH_MEMORY_KIB", cls.password_hash_memory_kib, minimum=8192
            ),
            password_hash_concurrency=_int(
                env,
                "HUB_PASSWORD_HASH_CONCURRENCY",
                cls.password_hash_concurrency,
                minimum=1,
                maximum=64,
            ),
            signing_keys_refresh=_int(
                env, "HUB_SIGNING_KEYS_REFRESH", cls.signing_keys_refresh, minimum=1
            ),
            external_jwks_refresh=_int(
                env, "HUB_EXTERNAL_JWKS_REFRESH", cls.external_jwks_refresh, minimum=10
            ),
            key_encryption_key=env.get("HUB_KEY_ENCRYPTION_KEY") or None,
            sweep_interval_seconds=_float(
                env, "HUB_SWEEP_INTERVAL_SECONDS", cls.sweep_interval_seconds, minimum=0.0
            ),
            prune_interval_seconds=_float(
                env, "HUB_PRUNE_INTERVAL_SECONDS", cls.prune_interval_seconds, minimum=0.0
            ),
            audit_link_interval_seconds=_float(
                env,
                "HUB_AUDIT_LINK_INTERVAL_SECONDS",
                cls.audit_link_interval_seconds,
                minimum=0.0,
            ),
            change_checkpoint_interval_seconds=_float(
                env,
                "HUB_CHANGE_CHECKPOINT_INTERVAL_SECONDS",
                cls.change_checkpoint_interval_seconds,
                minimum=0.0,
            ),
            claim_max_extensions=_int(
                env, "HUB_CLAIM_MAX_EXTENSIONS", cls.claim_max_extensions, minimum=0
            ),
            claim_days=_days_by_category(env, "HUB_CLAIM_DAYS"),
            overlap_days=_days_by_category(env, "HUB_OVERLAP_DAYS"),
            events_queue_size=_int(
                env, "HUB_EVENTS_QUEUE_SIZE", cls.events_queue_size, minimum=1, maximum=100000
            ),
            events_recheck_seconds=_float(
                env, "HUB_EVENTS_RECHECK_SECONDS", cls.events_recheck_seconds, minimum=1.0
            ),
            events_ping_seconds=_float(
                env, "HUB_EVENTS_PING_SECONDS", cls.events_ping_seconds, minimum=0.1
            ),
            max_websockets_per_principal=_int(
                env,
                "HUB_MAX_WEBSOCKETS_PER_PRINCIPAL",
                cls.max_websockets_per_principal,
                minimum=1,
            ),
            websocket_init_timeout_seconds=_float(
                env,
                "HUB_WEBSOCKET_INIT_TIMEOUT_SECONDS",
                cls.websocket_init_timeout_seconds,
                minimum=0.1,
            ),
            max_body_bytes=_int(
                env,
                "HUB_MAX_BODY_BYTES",
                cls.max_body_bytes,
                minimum=1024,
                maximum=256 * 1024 * 1024,
            ),
            max_document_length=_int(
                env, "HUB_MAX_DOCUMENT_LENGTH", cls.max_document_length, minimum=256
            ),
            max_tokens=_int(env, "HUB_MAX_TOKENS", cls.max_tokens, minimum=10),
            max_depth=_int(env, "HUB_MAX_DEPTH", cls.max_depth, minimum=2),
            max_aliases=_int(env, "HUB_MAX_ALIASES", cls.max_aliases, minimum=0),
            max_selections=_int(
                env, "HUB_MAX_SELECTIONS", cls.max_selections, minimum=500, maximum=1_000_000
            ),
            max_cost=_int(env, "HUB_MAX_COST", cls.max_cost, minimum=1),
            rate_limit_cost_per_minute=_int(
                env,
                "HUB_RATE_LIMIT_COST_PER_MINUTE",
                cls.rate_limit_cost_per_minute,
                minimum=1,
            ),
            request_timeout_seconds=_float(
                env, "HUB_REQUEST_TIMEOUT_SECONDS", cls.request_timeout_seconds, minimum=0.01
            ),
            max_subscriptions_per_connection=_int(
                env,
                "HUB_MAX_SUBSCRIPTIONS_PER_CONNECTION",
                cls.max_subscriptions_per_connection,
                minimum=1,
            ),
            persisted_documents_cache=_int(
                env, "HUB_PERSISTED_DOCUMENTS_CACHE", cls.persisted_documents_cache, minimum=0
            ),
        )


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")):
        raise SettingsError(f"{name} must be an http(s) URL, not {raw!r}")
    return raw.rstrip("/")


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def _float(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from exc
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name} must be at least {minimum}, not {raw!r}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {raw!r}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """``10.0.0.5,10.1.0.0/16,fd00::/8``: addresses and CIDR networks, each checked here, so
    that a typo fails at start-up instead of silently trusting nobody (or somebody else)."""
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    networks: list[str] = []
    for item in raw.split(","):
        value = item.strip()
        try:
            networks.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError as exc:
            raise SettingsError(
                f"{name}: {value!r} is not an IP address or a CIDR network (such as 10.0.0.0/8)"
            ) from exc
    return tuple(networks)


def _days_by_category(env: Mapping[str, str], name: str) -> tuple[tuple[NeedCategory, int], ...]:
    """``material=60,medical=14``: days per need category; categories left out keep defaults."""
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    days: dict[NeedCategory, int] = {}
    for item in raw.split(","):
        category, _, value = item.partition("=")
        try:
            key = NeedCategory(category.strip().lower())
        except ValueError as exc:
            known = ", ".join(c.value for c in NeedCategory)
            raise SettingsError(f"{name}: {category.strip()!r} is not one of {known}") from exc
        try:
            days[key] = int(value)
        except ValueError as exc:
            raise SettingsError(f"{name}: give whole days for {key.value}, not {value!r}") from exc
        if days[key] < 1:
            raise SettingsError(f"{name}: {key.value} needs at least 1 day")
    return tuple(sorted(days.items()))
