"""Login throttling per account and per client address."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewarden.auth import LoginRateLimiter
from tradewarden.clock import ManualClock
from tradewarden.config import AuthConfig, LoginRateLimitConfig, ServiceConfig


def test_budget_per_account_then_wait() -> None:
    limiter = LoginRateLimiter(per_account=3, per_address=100, window_s=60)
    for second in range(3):
        assert limiter.retry_after(account="a", address="x", now=second) is None
        limiter.record_failure(account="a", address="x", now=second)
    assert limiter.retry_after(account="a", address="x", now=3) == pytest.approx(57)
    assert limiter.retry_after(account="A", address="y", now=3) == pytest.approx(57)
    assert limiter.retry_after(account="b", address="x", now=3) is None
    assert limiter.retry_after(account="a", address="x", now=60.5) is None


def test_budget_per_address_across_accounts() -> None:
    limiter = LoginRateLimiter(per_account=100, per_address=2, window_s=10)
    limiter.record_failure(account="a", address="x", now=0)
    limiter.record_failure(account="b", address="x", now=1)
    assert limiter.retry_after(account="c", address="x", now=2) == pytest.approx(8)
    assert limiter.retry_after(account="c", address="z", now=2) is None


def test_success_clears_the_account_but_not_the_address() -> None:
    limiter = LoginRateLimiter(per_account=2, per_address=3, window_s=10)
    limiter.record_failure(account="a", address="x", now=0)
    limiter.record_failure(account="a", address="x", now=0)
    limiter.record_success(account="a")
    assert limiter.retry_after(account="a", address="y", now=1) is None
    limiter.record_failure(account="a", address="x", now=1)
    assert limiter.retry_after(account="q", address="x", now=1) is not None


@given(
    failures=st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), max_size=40),
    probe=st.floats(min_value=0, max_value=1100, allow_nan=False),
)
def test_never_more_than_the_budget_inside_any_window(failures: list[float], probe: float) -> None:
    """Model: allowed iff fewer than `limit` failures in (now - window, now]."""
    limiter = LoginRateLimiter(per_account=5, per_address=1000, window_s=30)
    times = sorted(failures)
    for moment in times:
        limiter.record_failure(account="a", address="x", now=moment)
    now = max([probe, *times])
    recent = [moment for moment in times if moment > now - 30]
    wait = limiter.retry_after(account="a", address="x", now=now)
    assert (wait is None) == (len(recent) < 5)
    if wait is not None:
        assert 0 <= wait <= 30
        assert limiter.retry_after(account="a", address="x", now=now + wait + 1e-6) is None or (
            len([m for m in recent if m > now + wait - 30]) >= 5
        )


class TestLoginEndpointThrottles:
    @pytest.fixture
    def service_config(self) -> ServiceConfig:
        limits = LoginRateLimitConfig(per_account=3, per_address=5, window_s=60)
        return ServiceConfig(auth=AuthConfig(login_rate_limit=limits))

    async def test_account_is_throttled_with_retry_after(
        self, client: httpx.AsyncClient, clock: ManualClock
    ) -> None:
        wrong = {"username": "admin", "password": "wrong-password"}
        for _ in range(3):
            assert (await client.post("/v1/auth/login", json=wrong)).status_code == 401
        throttled = await client.post(
            "/v1/auth/login", json={"username": "admin", "password": "admin-password-for-tests"}
        )
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "60"
        assert throttled.json()["error"]["code"] == "too_many_requests"
        clock.advance(61)
        ok = await client.post(
            "/v1/auth/login", json={"username": "admin", "password": "admin-password-for-tests"}
        )
        assert ok.status_code == 200

    async def test_address_is_throttled_across_accounts(self, client: httpx.AsyncClient) -> None:
        for index in range(5):
            body = {"username": f"user{index}", "password": "whatever-password"}
            assert (await client.post("/v1/auth/login", json=body)).status_code == 401
        blocked = await client.post(
            "/v1/auth/login", json={"username": "admin", "password": "admin-password-for-tests"}
        )
        assert blocked.status_code == 429
