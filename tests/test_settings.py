"""Configuration from HUB_* variables: defaults that work, and typos that fail at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.db.engine import async_url
from hub.settings import Settings, SettingsError


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None  # the embedded server
    assert settings.env == "prod"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.max_page_size == 100
    assert settings.data_dir.name == "hub"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "HUB_DATABASE_URL": "postgresql://hub@db:5432/hub",
            "HUB_DATA_DIR": "~/hub-data",
            "HUB_HOST": "0.0.0.0",
            "HUB_PORT": "9000",
            "HUB_ENV": "DEV",
            "HUB_LOG_LEVEL": "debug",
            "HUB_MAX_PAGE_SIZE": "50",
            "HUB_DEFAULT_PAGE_SIZE": "10",
            "HUB_DB_POOL_SIZE": "4",
            "HUB_ID_HASH_KEY": "k",
            "HUB_WORKERS": "2",
            "HUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS": "60",
            "HUB_AUDIT_LINK_INTERVAL_SECONDS": "0.5",
            "HUB_CHANGE_CHECKPOINT_INTERVAL_SECONDS": "30",
            "HUB_DB_CONNECT_TIMEOUT_SECONDS": "2.5",
            "HUB_READY_MAX_POOL_USE": "0.9",
        }
    )
    assert (settings.workers, settings.audit_link_interval_seconds) == (2, 0.5)
    assert (settings.db_connect_timeout_seconds, settings.ready_max_pool_use) == (2.5, 0.9)
    assert settings.worker_healthcheck_timeout_seconds == 60
    assert settings.change_checkpoint_interval_seconds == 30
    assert settings.database_url == "postgresql://hub@db:5432/hub"
    assert settings.data_dir == Path("~/hub-data").expanduser()
    assert (settings.host, settings.port, settings.env) == ("0.0.0.0", 9000, "dev")
    assert settings.log_level == "DEBUG"
    assert (settings.max_page_size, settings.default_page_size, settings.db_pool_size) == (
        50,
        10,
        4,
    )
    assert settings.id_hash_key == "k"
    assert "id_hash_key" not in repr(settings)  # a secret stays out of logs


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HUB_ENV", "staging", "HUB_ENV must be 'dev' or 'prod'"),
        ("HUB_PORT", "eighty", "HUB_PORT must be a whole number"),
        ("HUB_MAX_PAGE_SIZE", "0", "HUB_MAX_PAGE_SIZE must be at least 1"),
        ("HUB_WORKERS", "0", "HUB_WORKERS must be at least 1"),
        ("HUB_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "'proxy.local' is not an IP address"),
        ("HUB_TRUSTED_PROXIES", "10.0.0.1/8", "'10.0.0.1/8' is not an IP address"),
        ("HUB_TRUSTED_PROXIES", "*", "'\\*' is not an IP address"),
        ("HUB_CLIENT_AUTH_WINDOW", "10", "HUB_CLIENT_AUTH_WINDOW must be at least 60"),
        ("HUB_PASSWORD_HASH_CONCURRENCY", "0", "HUB_PASSWORD_HASH_CONCURRENCY must be at least 1"),
        (
            "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT",
            "0",
            "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT must be at least 1",
        ),
        ("HUB_DB_CONNECT_TIMEOUT_SECONDS", "0", "HUB_DB_CONNECT_TIMEOUT_SECONDS must be at least"),
        ("HUB_DB_CONNECT_TIMEOUT_SECONDS", "600", "HUB_DB_CONNECT_TIMEOUT_SECONDS must be at most"),
        ("HUB_READY_MAX_POOL_USE", "1.5", "HUB_READY_MAX_POOL_USE must be at most 1.0"),
        (
            "HUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS",
            "0",
            "HUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS must be at least 1",
        ),
    ],
)
def test_bad_values_fail_with_a_clear_message(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_trusted_proxies_are_addresses_and_networks() -> None:
    assert Settings.from_env({}).trusted_proxies == ()  # nobody, unless configured
    settings = Settings.from_env({"HUB_TRUSTED_PROXIES": " 10.0.0.5, 10.1.0.0/16,fd00::/8 "})
    assert settings.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16", "fd00::/8")


def test_client_authentication_limits_are_read() -> None:
    settings = Settings.from_env(
        {
            "HUB_CLIENT_AUTH_WINDOW": "600",
            "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT": "4",
            "HUB_CLIENT_AUTH_MAX_FAILURES_PER_CLIENT_TOTAL": "40",
            "HUB_CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS": "12",
            "HUB_PASSWORD_HASH_CONCURRENCY": "3",
        }
    )
    assert settings.password_hash_concurrency == 3
    assert settings.client_auth_window == 600
    assert settings.client_auth_max_failures_per_client == 4
    assert settings.client_auth_max_failures_per_client_total == 40
    assert settings.client_auth_max_failures_per_address == 12


@pytest.mark.parametrize(
    "url",
    ["postgres://u:p@h/db", "postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"],
)
def test_database_urls_in_every_common_spelling(url: str) -> None:
    assert async_url(url) == "postgresql+asyncpg://u:p@h/db"


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        async_url("mysql://u:p@h/db")


def test_servers_older_than_postgresql_15_are_refused() -> None:
    from hub.db.engine import UnsupportedServer, check_server_version

    check_server_version(150004)
    check_server_version(160002)
    with pytest.raises(UnsupportedServer, match="PostgreSQL 15 or newer; this server is 14"):
        check_server_version(140011)
