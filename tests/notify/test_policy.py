"""The outbox's pure decisions: backoff, the token bucket, the fate of an attempt, HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.notify import (
    Outcome,
    RetryConfig,
    SendResult,
    TokenBucket,
    backoff_s,
    classify_http,
    decide,
    parse_retry_after,
)

RETRY = RetryConfig(initial_backoff_s=2, max_backoff_s=60, deadline_s=600, timeout_s=5)


@given(attempt=st.integers(1, 200), fraction=st.floats(0, 1))
def test_backoff_is_full_jitter_under_a_doubling_ceiling(attempt: int, fraction: float) -> None:
    ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
    assert backoff_s(attempt, RETRY, lambda: fraction) == pytest.approx(fraction * ceiling)
    assert 0 <= backoff_s(attempt, RETRY, lambda: fraction) <= 60


def test_an_ok_is_delivered_and_a_permanent_failure_fails_at_once() -> None:
    ok = decide(SendResult.ok(), attempt=1, now=0, deadline=10, retry=RETRY, random=lambda: 1)
    assert ok.state == "delivered"
    refused = decide(
        SendResult.permanent("HTTP 400"),
        attempt=1,
        now=0,
        deadline=600,
        retry=RETRY,
        random=lambda: 1,
    )
    assert (refused.state, refused.reason) == ("failed", "permanent failure: HTTP 400")


def test_a_transient_failure_waits_at_least_its_retry_after() -> None:
    result = SendResult.transient("429", retry_after_s=45)
    step = decide(result, attempt=1, now=100, deadline=1000, retry=RETRY, random=lambda: 0.5)
    assert (step.state, step.retry_at) == ("pending", 145)
    short = SendResult.transient("503", retry_after_s=0.1)
    step = decide(short, attempt=3, now=100, deadline=1000, retry=RETRY, random=lambda: 1)
    assert step.retry_at == 108  # the backoff is longer


def test_a_retry_that_would_end_past_the_deadline_is_not_scheduled() -> None:
    result = SendResult.transient("503")
    step = decide(result, attempt=4, now=590, deadline=600, retry=RETRY, random=lambda: 1)
    assert step.state == "failed"
    assert step.reason == "deadline passed after 4 attempts: 503"


@given(
    rate=st.floats(0.1, 100),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=60),
)
def test_the_bucket_never_allows_more_than_burst_plus_rate_times_time(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate, burst)
    now, sends = 0.0, []
    for gap in gaps:
        now += gap
        sends.append(now + bucket.reserve(now))
    assert sends == sorted(sends)  # slots are handed out in order
    for end in sends:
        window = [at for at in sends if at <= end]
        assert len(window) <= burst + rate * end + 1e-6


def test_the_bucket_spreads_a_burst_over_slots() -> None:
    bucket = TokenBucket(0.5, 2)
    assert bucket.reserve(0) == 0
    assert bucket.reserve(0) == 0
    assert bucket.reserve(0) == pytest.approx(2.0)
    assert bucket.reserve(0) == pytest.approx(4.0)
    assert bucket.reserve(10) == pytest.approx(0.0)  # refilled by the slots' end


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (202, Outcome.OK),
        (204, Outcome.OK),
        (301, Outcome.TRANSIENT),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (410, Outcome.PERMANENT),
        (429, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_http_answers_are_classified(status: int, outcome: Outcome) -> None:
    result = classify_http(status, {}, now=0, what="Slack")
    assert (result.outcome, result.status_code) == (outcome, status)
    if outcome is not Outcome.OK:
        assert f"Slack answered HTTP {status}" in (result.error or "")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 12, 1, 12, 1, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after("12", now=now) == 12
    assert parse_retry_after(later, now=now) == pytest.approx(90)
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
    result = classify_http(503, {"Retry-After": later}, now=now)
    assert result.retry_after_s == pytest.approx(90)
