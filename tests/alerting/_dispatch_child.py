"""A process that ingests a storm of alerts and flushes it slowly, to be killed.

``python -m alerting._dispatch_child DATABASE_URL GROUPS PER_GROUP``: ingests
GROUPS * PER_GROUP alerts (one group per ``host``), prints ``ingested`` and flushes the
groups one by one, each flush a little slowed down, until killed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from tradewarden.alerting import Alert, RouteConfig, Router
from tradewarden.alerting._dispatch import Dispatcher
from tradewarden.alerting._silence_store import SilenceStore
from tradewarden.clock import SystemClock
from tradewarden.notify import AppriseChannelConfig, Outbox
from tradewarden.series import Labels
from tradewarden.store import Database

ROUTE = {"receiver": "chat", "group_by": ["host"], "group_wait": "0s"}


def build(database: Database, enqueue: Any) -> Dispatcher:
    """Return the dispatcher both the child and the test's second instance use."""
    clock = SystemClock()
    return Dispatcher(
        database,
        clock,
        Router.from_config(RouteConfig.model_validate(ROUTE)),
        enqueue=enqueue,
        silences=SilenceStore(database, clock),
    )


def outbox(database: Database) -> Outbox:
    """Return the outbox over the one channel (nothing delivers: the rows are the result)."""
    chat = AppriseChannelConfig(type="apprise", name="chat", url_env="TW_TEST_UNUSED")
    return Outbox(database, SystemClock(), {"chat": chat})


async def _main(database_url: str, groups: int, per_group: int) -> None:
    database = Database(database_url)
    box = outbox(database)

    async def slow(message: Any, channels: Any, **kwargs: Any) -> dict[str, int]:
        ids: dict[str, int] = await box.enqueue(message, channels, **kwargs)
        await asyncio.sleep(0.02)  # inside the flush's transaction: a kill lands mid-storm
        return ids

    dispatcher = build(database, slow)
    now = dispatcher.now_ms()
    storm = [
        Alert(
            Labels.of(alertname="BotDown", host=f"h{g}", bot=str(b)),
            starts_at_ms=now,
            ends_at_ms=now + 3_600_000,
        )
        for g in range(groups)
        for b in range(per_group)
    ]
    await dispatcher.ingest(storm)
    sys.stdout.write("ingested\n")
    sys.stdout.flush()
    while True:
        await dispatcher.flush_due()
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
