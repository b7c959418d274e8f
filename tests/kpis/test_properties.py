"""Properties of the availability and ratio maths over random flip histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.kpis import EscalationRow, FlipRow, Window, availability_of, compute_kpis

T0 = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=10))
STATES = st.sampled_from(["PENDING", "UP", "DOWN", "DEGRADED", "PAUSED"])
MINUTES = st.integers(min_value=-300, max_value=900)


@st.composite
def histories(draw: st.DrawFn) -> list[FlipRow]:
    """Return a monitor's flips in time order, each starting from the previous state."""
    times = sorted(draw(st.lists(MINUTES, max_size=12)))
    state = "PENDING"
    flips = []
    for minute in times:
        new = draw(STATES)
        flips.append(FlipRow("m", state, new, T0 + timedelta(minutes=minute)))
        state = new
    return flips


@given(histories(), st.integers(min_value=-60, max_value=700))
def test_the_window_is_split_exactly_and_the_ratio_is_a_share(
    flips: list[FlipRow], now_minute: int
) -> None:
    now = T0 + timedelta(minutes=now_minute)
    result = availability_of("m", [f for f in flips if f.at < WINDOW.end], WINDOW, now)
    total = result.available_s + result.down_s + result.excluded_s
    assert total == WINDOW.length.total_seconds()
    assert min(result.available_s, result.down_s, result.excluded_s) >= 0
    assert result.ratio is None or 0 <= result.ratio <= 1
    if all(f.new_state != "DOWN" and f.old_state != "DOWN" for f in flips):
        assert result.down_s == 0


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=500),
            st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
            st.one_of(st.none(), st.integers(min_value=0, max_value=120)),
        ),
        max_size=20,
    )
)
def test_alert_ratios_never_exceed_their_denominators(
    rows: list[tuple[int, int | None, int | None]],
) -> None:
    groups = [
        EscalationRow(
            key=f"g{n}",
            opened_at=T0 + timedelta(minutes=opened),
            acknowledged_at=None if ack is None else T0 + timedelta(minutes=opened + ack),
            resolved_at=None if res is None else T0 + timedelta(minutes=opened + res),
        )
        for n, (opened, ack, res) in enumerate(rows)
    ]
    kpis = compute_kpis([], groups, [], WINDOW)
    for stat in (kpis.alert_noise, kpis.ack_within_5m):
        assert 0 <= stat.numerator <= stat.denominator <= len(groups)
