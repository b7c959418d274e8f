"""Who is on call: weekly rotations at a local handoff time, across DST, with overrides."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.escalation import LayerConfig, Override, ScheduleConfig, who_is_on_call

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _schedule(zone: str = "Europe/Berlin", **layer: object) -> ScheduleConfig:
    values: dict[str, object] = {
        "name": "primary",
        "members": ("alice", "bob", "carol"),
        "handoff_weekday": "monday",
        "handoff_time": dt.time(9, 0),
        "start": dt.date(2026, 3, 2),  # a Monday: alice's first week
    }
    values.update(layer)
    secondary = LayerConfig(name="secondary", members=("bob", "carol", "alice"))
    return ScheduleConfig(
        name="ops",
        time_zone=zone,
        layers=(
            LayerConfig.model_validate(values),
            secondary.model_copy(update={"start": values["start"]}),
        ),
    )


def _local(zone: ZoneInfo, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone, fold=fold)  # type: ignore[arg-type,misc]


def test_the_turn_changes_at_the_handoff_instant_not_a_moment_before() -> None:
    schedule = _schedule()
    handoff = _local(BERLIN, 2026, 3, 9, 9, 0)
    assert who_is_on_call(schedule, "primary", handoff - dt.timedelta(microseconds=1)) == "alice"
    assert who_is_on_call(schedule, "primary", handoff) == "bob"
    assert who_is_on_call(schedule, "secondary", handoff) == "carol"
    assert who_is_on_call(schedule, "primary", _local(BERLIN, 2026, 3, 23, 9, 0)) == "alice"


def test_a_handoff_keeps_its_local_time_across_the_spring_forward_change() -> None:
    # Berlin springs forward on Sunday 2026-03-29: the week is 167 hours long.
    schedule = _schedule()
    handoff = _local(BERLIN, 2026, 3, 30, 9, 0)
    assert handoff.utcoffset() == dt.timedelta(hours=2)
    assert who_is_on_call(schedule, "primary", handoff - dt.timedelta(seconds=1)) == "alice"
    assert who_is_on_call(schedule, "primary", handoff) == "bob"
    # 167 hours (not 168) after the previous handoff.
    previous = _local(BERLIN, 2026, 3, 23, 9, 0).astimezone(dt.UTC)
    assert who_is_on_call(schedule, "primary", previous + dt.timedelta(hours=167)) == "bob"
    later = previous + dt.timedelta(hours=167, seconds=-1)
    assert who_is_on_call(schedule, "primary", later) == "alice"


def test_a_handoff_keeps_its_local_time_across_the_fall_back_change() -> None:
    # New York falls back on Sunday 2026-11-01: that week is 169 hours long.
    schedule = _schedule("America/New_York", start=dt.date(2026, 10, 26))
    previous = _local(NEW_YORK, 2026, 10, 26, 9, 0).astimezone(dt.UTC)
    handoff = _local(NEW_YORK, 2026, 11, 2, 9, 0).astimezone(dt.UTC)
    assert (handoff - previous).total_seconds() == 169 * 3600
    assert who_is_on_call(schedule, "primary", previous + dt.timedelta(hours=168)) == "alice"
    assert who_is_on_call(schedule, "primary", handoff) == "bob"


def test_a_handoff_inside_the_spring_forward_gap_happens_when_the_clock_jumps() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: the wall clock goes 01:59:59 -> 03:00.
    schedule = _schedule(
        handoff_weekday="sunday", handoff_time=dt.time(2, 30), start=dt.date(2026, 3, 1)
    )
    jump = dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)  # 03:00 CEST
    before = who_is_on_call(schedule, "primary", jump - dt.timedelta(seconds=1))
    after = who_is_on_call(schedule, "primary", jump + dt.timedelta(minutes=30))
    assert before != after
    assert (
        who_is_on_call(schedule, "primary", jump + dt.timedelta(minutes=30, seconds=-1)) == before
    )


def test_a_handoff_at_a_repeated_hour_happens_at_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01.
    schedule = _schedule(
        "America/New_York",
        handoff_weekday="sunday",
        handoff_time=dt.time(1, 30),
        start=dt.date(2026, 10, 25),
    )
    first = _local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    second = _local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert who_is_on_call(schedule, "primary", first - dt.timedelta(seconds=1)) == "alice"
    assert who_is_on_call(schedule, "primary", first) == "bob"
    assert who_is_on_call(schedule, "primary", second) == "bob"


def test_rotations_of_several_weeks_and_a_start_in_the_future() -> None:
    schedule = _schedule(rotation_weeks=2)
    assert who_is_on_call(schedule, "primary", _local(BERLIN, 2026, 3, 10, 12, 0)) == "alice"
    assert who_is_on_call(schedule, "primary", _local(BERLIN, 2026, 3, 16, 9, 0)) == "bob"
    # Before the start the rotation runs backwards: the week before is the last member's.
    assert who_is_on_call(schedule, "primary", _local(BERLIN, 2026, 2, 24, 9, 0)) == "carol"


def test_overrides_replace_one_person_for_a_while_and_chain_in_order() -> None:
    schedule = _schedule()
    start = _local(BERLIN, 2026, 3, 3, 12, 0)
    end = _local(BERLIN, 2026, 3, 4, 12, 0)
    bob_for_alice = Override("ops", "primary", "alice", "bob", start, end)
    carol_for_bob = Override("ops", None, "bob", "carol", start, end)
    at = start + dt.timedelta(hours=1)
    assert who_is_on_call(schedule, "primary", at, [bob_for_alice]) == "bob"
    assert who_is_on_call(schedule, "primary", at, [bob_for_alice, carol_for_bob]) == "carol"
    assert who_is_on_call(schedule, "primary", end, [bob_for_alice]) == "alice"
    assert (
        who_is_on_call(schedule, "primary", start - dt.timedelta(seconds=1), [bob_for_alice])
        == "alice"
    )
    # An override for someone not on call changes nothing; another schedule's neither.
    assert who_is_on_call(schedule, "secondary", at, [bob_for_alice]) == "bob"
    other = Override("other", None, "alice", "carol", start, end)
    assert who_is_on_call(schedule, "primary", at, [other]) == "alice"


def test_an_unknown_layer_is_none_and_a_naive_time_is_refused() -> None:
    schedule = _schedule()
    assert who_is_on_call(schedule, "tertiary", _local(BERLIN, 2026, 3, 3, 0, 0)) is None
    with pytest.raises(ValueError, match="aware"):
        who_is_on_call(schedule, "primary", dt.datetime(2026, 3, 3))  # noqa: DTZ001


@given(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=dt.datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(dt.UTC),
    )
)
def test_every_instant_has_exactly_the_member_of_its_local_week(at: dt.datetime) -> None:
    schedule = _schedule()
    person = who_is_on_call(schedule, "primary", at)
    local = at.astimezone(BERLIN)
    monday = local.date() - dt.timedelta(days=local.weekday())
    if (local.weekday(), local.time()) < (0, dt.time(9, 0)):
        monday -= dt.timedelta(days=7)
    weeks = (monday - dt.date(2026, 3, 2)).days // 7
    assert person == ("alice", "bob", "carol")[weeks % 3]
