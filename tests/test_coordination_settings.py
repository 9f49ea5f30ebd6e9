"""Coordination settings: claim periods, overlap windows, extensions and the sweeper."""

from __future__ import annotations

import pytest

from hub.domain.rules import DEFAULT_CLAIM_DAYS, CoordinationRules
from hub.settings import Settings, SettingsError
from hub.vocabulary import NeedCategory


def test_coordination_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "HUB_SWEEP_INTERVAL_SECONDS": "2.5",
            "HUB_CLAIM_MAX_EXTENSIONS": "0",
            "HUB_CLAIM_DAYS": "medical=7, Safety=3",
            "HUB_OVERLAP_DAYS": "material=45",
        }
    )
    assert settings.sweep_interval_seconds == 2.5
    assert settings.claim_max_extensions == 0
    assert dict(settings.claim_days) == {NeedCategory.MEDICAL: 7, NeedCategory.SAFETY: 3}
    assert dict(settings.overlap_days) == {NeedCategory.MATERIAL: 45}
    hash(settings)  # settings stay usable as a cache key
    defaults = Settings.from_env({})
    assert defaults.sweep_interval_seconds == 60
    assert defaults.claim_days == ()


@pytest.mark.parametrize(
    "name, value",
    [
        ("HUB_SWEEP_INTERVAL_SECONDS", "-1"),
        ("HUB_SWEEP_INTERVAL_SECONDS", "nan"),
        ("HUB_CLAIM_DAYS", "clothes=60"),
        ("HUB_CLAIM_DAYS", "material=0"),
        ("HUB_OVERLAP_DAYS", "material=sixty"),
        ("HUB_CLAIM_MAX_EXTENSIONS", "-1"),
    ],
)
def test_bad_coordination_settings_fail_at_start(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({name: value})


def test_rules_take_the_defaults_and_the_overrides() -> None:
    rules = CoordinationRules.from_settings(
        Settings.from_env({"HUB_CLAIM_DAYS": "medical=7", "HUB_CLAIM_MAX_EXTENSIONS": "5"})
    )
    assert rules.claim_days[NeedCategory.MEDICAL] == 7
    assert rules.claim_days[NeedCategory.MATERIAL] == DEFAULT_CLAIM_DAYS[NeedCategory.MATERIAL]
    assert rules.overlap_window(NeedCategory.MATERIAL).days == 60
    assert rules.max_extensions == 5
