"""A config is validated when it is built, and each error names its field."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tradewarden.guard.breaker import BreakerConfig, WindowKind


def test_defaults_are_the_seeds() -> None:
    config = BreakerConfig()
    assert (config.failure_threshold, config.success_threshold) == (5, 2)
    assert (config.timeout_s, config.monitoring_period_s) == (30.0, 60.0)
    assert config.permitted_calls_in_half_open == 1
    assert config.window is WindowKind.CONSECUTIVE


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BreakerConfig().failure_threshold = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_threshold", 0),
        ("failure_threshold", 2.5),
        ("failure_threshold", True),
        ("success_threshold", -1),
        ("permitted_calls_in_half_open", 0),
        ("window_size", 0),
        ("minimum_number_of_calls", 0),
        ("timeout_s", 0),
        ("timeout_s", math.inf),
        ("monitoring_period_s", -5.0),
        ("slow_call_duration_s", math.nan),
        ("failure_rate_threshold", 0),
        ("failure_rate_threshold", 100.5),
        ("slow_call_rate_threshold", "50"),
        ("window", "count"),
        ("record_exceptions", Exception),
        ("ignore_exceptions", (int,)),
        ("failure_predicate", 3),
        ("result_predicate", "yes"),
    ],
)
def test_invalid_setting_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        BreakerConfig(**{field: value})  # type: ignore[arg-type]


def test_rates_accept_the_whole_percent_range() -> None:
    config = BreakerConfig(failure_rate_threshold=100, slow_call_rate_threshold=0.5)
    assert config.failure_rate_threshold == 100
