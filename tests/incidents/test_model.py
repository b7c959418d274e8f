"""The incident's pure parts: transitions, ids, severities, durations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.clock import utc_datetime
from tradewarden.incidents import (
    Impact,
    Status,
    TransitionError,
    allowed_transitions,
    check_transition,
    durations,
    most_severe,
    public_id,
    services_and_bots,
)
from tradewarden.notify import Severity


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("investigating", "identified"),
        ("identified", "monitoring"),
        ("monitoring", "resolved"),
        ("investigating", "resolved"),
        ("monitoring", "investigating"),  # the fix did not hold
    ],
)
def test_open_statuses_move_freely_forward_and_back(old: str, new: str) -> None:
    check_transition(Status(old), Status(new))


@pytest.mark.parametrize("new", list(Status))
def test_resolved_is_final(new: Status) -> None:
    with pytest.raises(TransitionError, match="resolved"):
        check_transition(Status.RESOLVED, new)


@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)))
def test_a_transition_is_allowed_exactly_when_listed(old: Status, new: Status) -> None:
    allowed = new in allowed_transitions(old)
    assert allowed == (old is not Status.RESOLVED and new is not old)
    if allowed:
        check_transition(old, new)
    else:
        with pytest.raises(TransitionError):
            check_transition(old, new)


def test_public_ids_carry_the_year_and_four_digits() -> None:
    assert public_id(2026, 42) == "INC-2026-0042"
    assert public_id(2026, 12345) == "INC-2026-12345"


def test_the_most_severe_is_the_lowest_number() -> None:
    assert most_severe([Severity.P2, Severity.P0, Severity.P1]) is Severity.P0


def test_services_and_bots_come_from_their_labels() -> None:
    labels = [{"service": "api", "bot": "b1"}, {"monitor": "rpc", "bot_name": "b2"}, {}]
    assert services_and_bots(labels) == (["api", "rpc"], ["b1", "b2"])


def test_durations_are_drawn_from_the_record() -> None:
    start = utc_datetime(1_800_000_000)
    found = durations(
        impact_started_at=start,
        detected_at=start + timedelta(seconds=90),
        notified_at=start + timedelta(seconds=95),
        acknowledged_at=start + timedelta(seconds=215),
        resolved_at=None,
    )
    assert found == {
        "time_to_detect_s": 90.0,
        "time_to_acknowledge_s": 120.0,
        "time_to_resolve_s": None,
    }


def test_impact_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError, match="money_at_risk"):
        Impact(money_at_risk=-1)
