"""Maintenance windows, pure: one-off and cron windows, DST in Berlin and New York, and
the config section's errors (file, line, field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewarden.alerting import MaintenanceError, MaintenanceSchedule, MaintenanceWindow
from tradewarden.alerting._matchers import parse_matchers
from tradewarden.config import parse_config_text
from tradewarden.errors import ConfigError
from tradewarden.series import Labels

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
HOUR = 3_600_000


def ms(zone: ZoneInfo, *parts: int, fold: int = 0) -> int:
    """The instant the zone's wall clock reads ``parts`` (``fold=1``: its second time)."""
    return int(datetime(*parts, tzinfo=zone, fold=fold).timestamp() * 1000)  # type: ignore[misc]


def utc(at_ms: int | None) -> str | None:
    if at_ms is None:
        return None
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def cron(expression: str, duration_ms: int = HOUR, zone: str = "UTC") -> MaintenanceWindow:
    return MaintenanceWindow(
        "w", parse_matchers('bot="a"'), cron=expression, duration_ms=duration_ms, timezone=zone
    )


# --- one-off ------------------------------------------------------------------------


def test_a_one_off_window_is_active_from_its_start_to_its_end() -> None:
    window = MaintenanceWindow(
        "move", parse_matchers('bot="a"'), starts_at_ms=1000, ends_at_ms=5000
    )
    assert [window.active_at(t) for t in (999, 1000, 4999, 5000)] == [False, True, True, False]
    assert (window.next_start(0), window.next_end(0)) == (1000, 5000)
    assert (window.next_start(1000), window.next_end(1000)) == (None, 5000)
    assert (window.next_start(5000), window.next_end(5000)) == (None, None)


def test_a_window_mutes_only_the_labels_its_matchers_select() -> None:
    window = MaintenanceWindow("move", parse_matchers('bot="a"'), starts_at_ms=0, ends_at_ms=10)
    assert window.mutes(Labels.of({"bot": "a"}), 5)
    assert not window.mutes(Labels.of({"bot": "b"}), 5)
    assert not window.mutes(Labels.of({"bot": "a"}), 10)
    assert window.silence_id == "maintenance:move"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"starts_at_ms": 5, "ends_at_ms": 5}, "ends_at"),
        ({"starts_at_ms": 5}, "ends_at"),
        (
            {"starts_at_ms": 5, "ends_at_ms": 9, "cron": "0 2 * * *", "duration_ms": HOUR},
            "starts_at",
        ),
        ({}, "starts_at"),
        ({"cron": "0 2 * *", "duration_ms": HOUR}, "cron"),
        ({"cron": "0 25 * * *", "duration_ms": HOUR}, "cron"),
        ({"cron": "0 0 30 2 *", "duration_ms": HOUR}, "cron"),
        ({"cron": "0 2 * * *", "duration_ms": 0}, "duration"),
        ({"cron": "0 2 * * *", "duration_ms": HOUR, "timezone": "Europe/Atlantis"}, "timezone"),
    ],
)
def test_an_impossible_window_names_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(MaintenanceError, match=f"^{field}: "):
        MaintenanceWindow("w", parse_matchers('bot="a"'), **options)  # type: ignore[arg-type]


def test_a_window_needs_a_matcher() -> None:
    with pytest.raises(MaintenanceError, match=r"^matchers: "):
        MaintenanceWindow("w", (), starts_at_ms=0, ends_at_ms=1)


# --- cron, in a zone ----------------------------------------------------------------

# (cron, zone, at, active, next start, next end); times as the zone's wall clock; the
# expected values in UTC.
TABLE = [
    # Berlin, 02:30 for an hour: 00:30 UTC in summer, 01:30 UTC in winter.
    ("30 2 * * *", BERLIN, (2026, 7, 1, 12, 0), False, "2026-07-02 00:30", "2026-07-02 01:30"),
    ("30 2 * * *", BERLIN, (2026, 1, 1, 2, 45), True, "2026-01-02 01:30", "2026-01-01 02:30"),
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist: the start is at
    # the jump (01:00 UTC), still for an hour.
    ("30 2 * * *", BERLIN, (2026, 3, 28, 12, 0), False, "2026-03-29 01:00", "2026-03-29 02:00"),
    ("30 2 * * *", BERLIN, (2026, 3, 29, 3, 30), True, "2026-03-30 00:30", "2026-03-29 02:00"),
    # 25 October 2026: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice: it starts
    # once, at the first (00:30 UTC), and lasts an hour (to 02:30 CET).
    ("30 2 * * *", BERLIN, (2026, 10, 24, 12, 0), False, "2026-10-25 00:30", "2026-10-25 01:30"),
    ("30 2 * * *", BERLIN, (2026, 10, 25, 2, 45), True, "2026-10-26 01:30", "2026-10-25 01:30"),
    # New York, 8 March 2026 (02:00 EST to 03:00 EDT) and 1 November (02:00 EDT to 01:00 EST).
    ("30 2 * * *", NEW_YORK, (2026, 3, 7, 12, 0), False, "2026-03-08 07:00", "2026-03-08 08:00"),
    ("30 1 * * *", NEW_YORK, (2026, 10, 31, 12, 0), False, "2026-11-01 05:30", "2026-11-01 06:30"),
    ("30 1 * * *", NEW_YORK, (2026, 11, 1, 3, 0), False, "2026-11-02 06:30", "2026-11-02 07:30"),
    # Weekly, Wednesdays 02:00 for 2h (2026-12-02 is a Wednesday).
    ("0 2 * * 3", BERLIN, (2026, 12, 1, 12, 0), False, "2026-12-02 01:00", "2026-12-02 03:00"),
]


@pytest.mark.parametrize("row", TABLE)
def test_a_cron_window_follows_the_zone_wall_clock(
    row: tuple[str, ZoneInfo, tuple[int, ...], bool, str, str],
) -> None:
    expression, zone, at, active, start, end = row
    duration = 2 * HOUR if expression.endswith("3") else HOUR
    window = cron(expression, duration, zone.key)
    now = ms(zone, *at)
    assert window.active_at(now) is active
    assert utc(window.next_start(now)) == start
    assert utc(window.next_end(now)) == end


def test_the_repeated_hour_of_a_fall_back_does_not_start_the_window_again() -> None:
    window = cron("30 2 * * *", HOUR, "Europe/Berlin")
    second_0230 = ms(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    second_0245 = ms(BERLIN, 2026, 10, 25, 2, 45, fold=1)
    assert not window.active_at(second_0230)  # an hour after the only start: over
    assert not window.active_at(second_0245)
    assert window.active_at(second_0230 - 1)


def test_overlapping_occurrences_run_together() -> None:
    window = cron("0 * * * *", 90 * 60_000)  # every hour for 90 minutes: never ends
    assert window.active_at(ms(ZoneInfo("UTC"), 2026, 1, 1, 5, 59))
    assert window.next_end(0) is None
    short = cron("0,30 2 * * *", 45 * 60_000)  # 02:00 and 02:30, 45 minutes each
    assert utc(short.next_end(ms(ZoneInfo("UTC"), 2026, 1, 1, 2, 10))) == "2026-01-01 03:15"


def test_the_schedule_remembers_until_the_next_change_and_recomputes_after() -> None:
    window = cron("0 2 * * *", HOUR)
    schedule = MaintenanceSchedule([window])
    labels = Labels.of({"bot": "a"})
    at_2 = ms(ZoneInfo("UTC"), 2026, 1, 1, 2, 0)
    assert schedule.muting(labels, at_2 - 1) == []
    assert schedule.muting(labels, at_2) == ["maintenance:w"]
    assert schedule.muting(labels, at_2 + HOUR - 1) == ["maintenance:w"]
    assert schedule.muting(labels, at_2 + HOUR) == []
    assert schedule.muting(labels, at_2 + 30_000) == ["maintenance:w"]  # the clock went back
    assert schedule.muting(Labels.of({"bot": "b"}), at_2) == []
    assert [w.name for w in schedule.active(at_2 + 24 * HOUR)] == ["w"]


# --- properties against a minute-by-minute model --------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]
# Around every DST change of 2026 in these zones (Lord Howe moves by 30 minutes).
CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]


def _fields_match(spec: tuple[str, str, str], wall: datetime) -> bool:
    minute, hour, weekday = spec
    return (
        int(minute) == wall.minute
        and (hour == "*" or int(hour) == wall.hour)
        and (weekday == "*" or int(weekday) == (wall.isoweekday() % 7))
    )


def _model_starts(spec: tuple[str, str, str], zone: ZoneInfo, lo_ms: int, hi_ms: int) -> list[int]:
    """Every start in [lo, hi), found minute by minute on the UTC line: a minute whose wall
    time matches and is that wall time's first occurrence, or a jump over wall times of
    which one matches."""
    starts = []
    minute = 60_000
    t = lo_ms - lo_ms % minute
    while t < hi_ms:
        here = datetime.fromtimestamp(t / 1000, zone)
        wall = here.replace(tzinfo=None)
        before = datetime.fromtimestamp((t - minute) / 1000, zone).replace(tzinfo=None)
        skipped = []
        probe = before + timedelta(minutes=1)
        while probe < wall:  # the wall minutes a spring-forward jump skipped
            skipped.append(probe)
            probe += timedelta(minutes=1)
        first = here.fold == 0
        if t >= lo_ms and (
            (first and _fields_match(spec, wall)) or any(_fields_match(spec, w) for w in skipped)
        ):
            starts.append(t)
        t += minute
    return starts


SPECS = st.tuples(
    st.sampled_from(["0", "15", "30", "45"]),
    st.sampled_from(["*", "0", "1", "2", "3"]),
    st.sampled_from(["*", "0", "3"]),
)


@settings(max_examples=60, deadline=None)
@given(
    spec=SPECS,
    zone_name=st.sampled_from(ZONES),
    change=st.sampled_from(CHANGES),
    offset_s=st.integers(-30 * 3600, 30 * 3600),
    duration_min=st.sampled_from([1, 20, 45, 60, 120]),
)
def test_active_and_next_start_agree_with_the_minute_model(
    spec: tuple[str, str, str],
    zone_name: str,
    change: datetime,
    offset_s: int,
    duration_min: int,
) -> None:
    zone = ZoneInfo(zone_name)
    window = cron(" ".join((spec[0], spec[1], "*", "*", spec[2])), duration_min * 60_000, zone_name)
    at = int(change.timestamp() * 1000) + offset_s * 1000
    duration = duration_min * 60_000
    recent = _model_starts(spec, zone, at - duration + 1, at + 1)
    assert window.active_at(at) is bool(recent)
    # The next start lies within 8 days (weekly at most); the model finds the first.
    nxt = window.next_start(at)
    assert nxt is not None
    assert nxt > at
    ahead = _model_starts(spec, zone, at + 1, nxt + 1)
    assert ahead == [nxt]
    end = window.next_end(at)
    if end is not None:
        assert end > at
        assert window.active_at(end - 1)
        assert not window.active_at(end)


# --- the config section ---------------------------------------------------------------


def test_the_config_section_builds_windows() -> None:
    config = parse_config_text(
        "maintenance_windows:\n"
        "  - name: weekly\n"
        "    matchers: ['exchange=\"binance\"']\n"
        "    cron: '0 2 * * 3'\n"
        "    duration: 2h\n"
        "    timezone: Europe/Berlin\n"
        "    comment: exchange maintenance\n"
        "  - name: move\n"
        "    matchers: ['alertname=~\".+\"']\n"
        "    starts_at: 2026-12-05T22:00:00+01:00\n"
        "    ends_at: '2026-12-06T01:00:00+01:00'\n"
    )
    weekly, move = (w.window() for w in config.maintenance_windows)
    assert (weekly.cron, weekly.duration_ms, weekly.timezone) == (
        "0 2 * * 3",
        2 * HOUR,
        "Europe/Berlin",
    )
    assert weekly.comment == "exchange maintenance"
    assert (utc(move.starts_at_ms), utc(move.ends_at_ms)) == (
        "2026-12-05 21:00",
        "2026-12-06 00:00",
    )


BASE = "maintenance_windows:\n  - name: w\n    matchers: ['bot=\"a\"']\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    cron: '61 * * * *'\n    duration: 1h\n",
            ":4: maintenance_windows.0.cron: '61 * * * *' is not a valid",
        ),
        (
            "    cron: '0 2 * * *'\n    duration: 0s\n",
            ":5: maintenance_windows.0.duration: must be greater than 0",
        ),
        (
            "    cron: '0 2 * * *'\n    duration: soon\n",
            ":5: maintenance_windows.0.duration: not a valid duration",
        ),
        (
            "    cron: '0 2 * * *'\n    duration: 1h\n    timezone: Mars/Olympus\n",
            ":6: maintenance_windows.0.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "    starts_at: 2026-12-05T22:00:00+01:00\n    ends_at: 2026-12-05T21:00:00+01:00\n",
            ":2: maintenance_windows.0: ends_at: the window must end after it starts",
        ),
        (
            "    starts_at: 2026-12-05T22:00:00\n    ends_at: 2026-12-05T23:00:00+01:00\n",
            ":4: maintenance_windows.0.starts_at: Input should have timezone info",
        ),
        (
            (
                "    starts_at: 2026-12-05T22:00:00+01:00\n    ends_at: 2026-12-05T23:00:00+01:00\n"
                "    cron: '0 2 * * *'\n    duration: 1h\n"
            ),
            ":2: maintenance_windows.0: cron: give either starts_at and ends_at (once) or cron",
        ),
        ("    comment: no time\n", ":2: maintenance_windows.0: starts_at: give either"),
        (
            "    cron: '0 2 * * *'\n",
            ":2: maintenance_windows.0: duration: a recurring window needs",
        ),
        (
            (
                "    cron: '0 2 * * *'\n    duration: 1h\n"
                "  - name: w\n    matchers: ['bot=\"b\"']\n"
                "    cron: '0 3 * * *'\n    duration: 1h\n"
            ),
            ":1: maintenance_windows: 1.name: maintenance window 'w' is defined twice",
        ),
    ],
)
def test_a_bad_window_names_file_line_and_field(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config_text(BASE + body, source="tw.yaml")
    assert f"tw.yaml{expected}" in raised.value.message


@pytest.mark.parametrize("matchers", ["[]", "['']"])
def test_a_window_without_matchers_is_refused(matchers: str) -> None:
    text = (
        f"maintenance_windows:\n  - name: w\n    matchers: {matchers}\n"
        "    cron: '0 2 * * *'\n    duration: 1h\n"
    )
    with pytest.raises(ConfigError, match=r"tw.yaml:3: maintenance_windows.0.matchers: "):
        parse_config_text(text, source="tw.yaml")
