"""`tradewarden queue ...` against a warden served over real HTTP, on a private Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import Result

from probes._queue_workers import bull_queue, fill_bullmq
from support.cli import cli_against
from support.redis_server import RedisServer
from support.warden import serve_runtime
from tradewarden.auth import PasswordHasher, Role
from tradewarden.clock import ManualClock
from tradewarden.config import ServiceConfig, Settings
from tradewarden.probes.kinds import QueueSpec
from tradewarden.runtime import SYSTEM, Runtime

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
async def served(
    settings: Settings, fast_hasher: PasswordHasher, broker: RedisServer
) -> AsyncIterator[tuple[str, str]]:
    """Serve the app on a loopback port from this test's loop; yield its URL and a key."""
    monitor = QueueSpec(name="jobs", backend="bullmq", url=broker.url(), queues=["orders"])
    runtime = Runtime(
        settings, ServiceConfig(monitors=(monitor,)), clock=ManualClock(), hasher=fast_hasher
    )
    await runtime.start(bootstrap_admin=False, run_probes=True)
    key = await runtime.auth.create_api_key("ops", Role.OPERATOR, actor=SYSTEM)
    async with serve_runtime(runtime) as url:
        yield url, key.key


async def _queue(served: tuple[str, str], *args: str) -> Result:
    url, key = served
    return await cli_against(url, key, "queue", *args)


async def test_queue_commands_pause_retry_and_clean_over_the_api(
    served: tuple[str, str], broker: RedisServer
) -> None:
    async with bull_queue(broker.url()) as queue:
        await fill_bullmq(queue, broker.url())

        paused = await _queue(served, "pause", "jobs", "orders", "--reason", "deploy")
        with redis.Redis.from_url(broker.url(), decode_responses=True) as client:
            flag = client.hget("bull:orders:meta", "paused")
        resumed = await _queue(served, "resume", "jobs", "orders", "--reason", "deployed")
        retried = await _queue(served, "retry-failed", "jobs", "orders", "--reason", "fixed")
        cleaned = await _queue(
            served,
            "clean",
            "jobs",
            "orders",
            "--reason",
            "tidy",
            "--state",
            "completed",
            "--older-than",
            "0.001",
        )
        counts = await queue.getJobCounts("completed", "failed")

    assert paused.exit_code == 0, paused.output
    # The output also holds the server's access log: CliRunner captures this process's stdout.
    assert "jobs/orders (bullmq): paused" in paused.output.splitlines()
    assert flag == "1"
    assert "jobs/orders (bullmq): resumed" in resumed.output.splitlines()
    assert "jobs/orders (bullmq): retried 2 failed jobs" in retried.output.splitlines()
    assert (
        "jobs/orders (bullmq): removed 3 completed jobs older than 0.001 s"
        in cleaned.output.splitlines()
    )
    assert counts == {"completed": 0, "failed": 0}


async def test_queue_commands_fail_in_one_line(served: tuple[str, str]) -> None:
    no_reason = await _queue(served, "pause", "jobs", "orders")
    unknown = await _queue(served, "pause", "jobs", "ordres", "--reason", "r")
    zero = await _queue(
        served, "clean", "jobs", "orders", "--reason", "r", "--state", "failed", "--older-than", "0"
    )

    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output
    assert unknown.exit_code == 1
    assert "404: monitor 'jobs' watches no queue 'ordres'" in unknown.output
    assert zero.exit_code == 1
    assert "body.older_than_s" in zero.output
