"""The heartbeat clients against a real warden, and against one that is down."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from support.eventually import eventually
from tradewarden.guard.heartbeat import (
    AsyncHeartbeatClient,
    HeartbeatClient,
    HeartbeatConfig,
    Ping,
    PingKind,
    backoff_s,
    describe_error,
    register_heartbeat_metrics,
)
from tradewarden.guard.heartbeat._core import retry_after_s

from ._warden import TOKEN, Warden


def config(url: str, **options: object) -> HeartbeatConfig:
    # A warden under a loaded test machine can take seconds to store a flip.
    options.setdefault("timeout_s", 30.0)
    return HeartbeatConfig(url=url, name="bot", token=TOKEN, **options)  # type: ignore[arg-type]


async def test_sync_client_records_pings_start_and_fail_on_the_warden(warden: Warden) -> None:
    with HeartbeatClient(config(warden.url)) as client:
        client.ping()
        await eventually(lambda: warden.beat().pings_total == 1)
        assert warden.beat().last_status == "success"
        client.start()
        await eventually(lambda: warden.beat().last_start_at is not None)
        client.fail("swap loop crashed")
        await eventually(lambda: warden.beat().last_status == "fail")
        # Leave nothing for close() to send: it would block the loop that serves the warden.
        await eventually(lambda: client.stats.sent == 3, timeout_s=30)
    assert warden.beat().message == "swap loop crashed"


async def test_async_client_records_pings_on_the_warden(warden: Warden) -> None:
    async with AsyncHeartbeatClient(config(warden.url)) as client:
        client.ping()
        client.ping()
        await eventually(lambda: client.stats.sent == 2)
    assert warden.beat().pings_total == 2


async def test_run_sends_start_then_success_or_fail_naming_the_error(warden: Warden) -> None:
    async with AsyncHeartbeatClient(config(warden.url)) as client:
        async with client.run():
            pass
        await eventually(lambda: warden.beat().last_status == "success")
        # The success after a start closes a run: the warden measured its duration.
        assert warden.beat().last_duration_s is not None

        @client.run()
        async def iteration() -> None:
            raise RuntimeError("rpc at https://rpc.example/?api-key=k1 is down")

        with pytest.raises(RuntimeError):
            await iteration()
        await eventually(lambda: warden.beat().last_status == "fail")
    message = warden.beat().message or ""
    assert message.startswith("RuntimeError: rpc at https://rpc.example/?...")
    assert "k1" not in message


async def test_an_api_key_authenticates_instead_of_the_token(warden: Warden) -> None:
    with HeartbeatClient(
        HeartbeatConfig(url=warden.url, name="bot", api_key=warden.api_key, timeout_s=30)
    ) as c:
        c.ping()
        await eventually(lambda: warden.beat().pings_total == 1)


async def test_the_token_is_read_from_a_file_named_by_the_environment(
    warden: Warden, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    monkeypatch.setenv("TRADEWARDEN_HEARTBEAT_TOKEN_FILE", str(tmp_path / "token"))
    with HeartbeatClient(HeartbeatConfig(url=warden.url, name="bot", timeout_s=30)) as client:
        client.ping()
        await eventually(lambda: warden.beat().pings_total == 1)


async def test_a_refused_ping_is_dropped_with_a_warning_that_hides_the_token(
    warden: Warden, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-abcdef"
    with caplog.at_level(logging.DEBUG):
        client = HeartbeatClient(
            HeartbeatConfig(url=warden.url, name="bot", token=wrong, timeout_s=30)
        )
        client.ping()
        await eventually(lambda: client.stats.rejected == 1)
        client.close()
    assert client.stats.sent == 0
    assert "HTTP 401" in caplog.text
    assert wrong not in caplog.text
    assert wrong not in repr(client.config)


async def test_with_the_warden_down_calls_return_and_nothing_raises(
    closed_port: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = HeartbeatClient(config(closed_port, max_queue=3, backoff_initial_s=0.01))
        for _ in range(10):
            client.ping()
        client.fail("message")
        await eventually(lambda: client.stats.failed_attempts >= 2)
        client.close(timeout_s=1)
    stats = client.stats
    assert stats.sent == 0
    assert stats.queued <= 3
    assert stats.dropped >= 8
    assert "did not take a ping" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_warden_that_hangs_costs_the_bot_nothing(hanging_server: str) -> None:
    client = AsyncHeartbeatClient(config(hanging_server, timeout_s=0.2, max_queue=2))
    for _ in range(5):
        client.ping()
    assert client.stats.queued <= 2
    await eventually(lambda: client.stats.failed_attempts >= 1)
    assert "timed out" in (client.stats.last_error or "")
    await client.aclose(timeout_s=1)
    assert client.stats.sent == 0


async def test_pings_queued_while_the_warden_was_down_arrive_when_it_is_back(
    warden: Warden,
) -> None:
    class Flaky:
        """Refuse the first two sends, as a warden that is restarting would."""

        def __init__(self) -> None:
            from tradewarden.guard.heartbeat import UrllibTransport

            self.inner = UrllibTransport()
            self.calls = 0

        def send(self, request, timeout_s):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls <= 2:
                return 503, None
            return self.inner.send(request, timeout_s)

    with HeartbeatClient(config(warden.url, backoff_initial_s=0.01), transport=Flaky()) as c:
        c.ping()
        await eventually(lambda: warden.beat().pings_total == 1)
    assert c.stats.failed_attempts == 2


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    cfg = HeartbeatConfig(
        url="http://127.0.0.1:1", name="bot", backoff_initial_s=1, backoff_max_s=8
    )
    rng = random.Random(7)
    for failures, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (10, 8), (100, 8)]:
        waits = [backoff_s(failures, cfg, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2


def test_config_refuses_credentials_in_the_url() -> None:
    with pytest.raises(ValueError, match="no credentials"):
        HeartbeatConfig(url="http://127.0.0.1:1/?token=x", name="bot")
    with pytest.raises(ValueError, match="no credentials"):
        HeartbeatConfig(url="http://u:p@127.0.0.1:1", name="bot")


def test_requests_carry_the_token_in_a_header_never_in_the_url() -> None:
    cfg = config("http://127.0.0.1:8000/")
    request = cfg.request(Ping(PingKind.FAIL, "boom"))
    assert request.url == "http://127.0.0.1:8000/v1/heartbeats/bot/fail"
    assert request.headers["X-Heartbeat-Token"] == TOKEN
    assert request.body == b"boom"
    assert TOKEN not in repr(request)


def test_describe_error_drops_url_credentials_and_queries() -> None:
    error = ConnectionError("POST https://user:pw@rpc.example/v1?api-key=abc failed\nmore")
    assert describe_error(error) == "ConnectionError: POST https://rpc.example/v1?... failed"


async def test_the_clients_counts_are_exposed_on_the_bots_registry(closed_port: str) -> None:
    registry = CollectorRegistry()
    client = HeartbeatClient(config(closed_port, max_queue=1, backoff_initial_s=0.01))
    register_heartbeat_metrics(registry, client)
    client.ping()
    client.ping()
    client.ping()
    await eventually(lambda: client.stats.failed_attempts >= 1)
    client.close(timeout_s=1)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"heartbeat": "bot", **labels})

    assert sample("heartbeat_client_pings_total", outcome="sent") == 0
    assert (sample("heartbeat_client_pings_total", outcome="dropped") or 0) >= 1
    assert (sample("heartbeat_client_pings_total", outcome="failed_attempt") or 0) >= 1
    assert sample("heartbeat_client_queued") == client.stats.queued


def test_a_sync_client_facing_a_hanging_warden_returns_at_once(hanging_server: str) -> None:
    client = HeartbeatClient(config(hanging_server, timeout_s=0.2, max_queue=2))
    for _ in range(5):
        client.ping()
        client.fail("still failing")
    assert client.stats.queued <= 2
    client.close(timeout_s=1)
    assert client.stats.sent == 0


def test_retry_after_is_honoured_up_to_the_backoff_cap() -> None:
    cfg = config("http://127.0.0.1:1", backoff_max_s=10)
    assert retry_after_s("3", cfg) == 3
    assert retry_after_s("3600", cfg) == 10
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", cfg) is None
    assert retry_after_s(None, cfg) is None
