"""A process that enqueues a storm of notifications and delivers them, to be killed.

``python -m support.outbox_child DATABASE_URL EVENTS_URL COUNT``: enqueues COUNT
notifications to one PagerDuty channel (routing key from ``TW_TEST_PD_KEY``), prints
``enqueued`` and keeps delivering with one worker until killed.
"""

from __future__ import annotations

import asyncio
import sys

from prometheus_client import CollectorRegistry

from tradewarden.clock import SystemClock
from tradewarden.notify import Message, Notifier, PagerDutyChannelConfig, RetryConfig
from tradewarden.store import Database


async def _main(database_url: str, events_url: str, count: int) -> None:
    channel = PagerDutyChannelConfig(
        type="pagerduty",
        name="pager",
        routing_key_env="TW_TEST_PD_KEY",
        url=events_url,
        retry=RetryConfig(initial_backoff_s=0.05, max_backoff_s=0.5, deadline_s=3600),
    )
    database = Database(database_url)
    notifier = Notifier(database, SystemClock(), [channel], registry=CollectorRegistry())
    for n in range(count):
        await notifier.enqueue(Message(fingerprint=f"storm-{n}", title=f"alert {n}"), ["pager"])
    sys.stdout.write("enqueued\n")
    sys.stdout.flush()
    notifier.worker(batch_size=20).start()
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
