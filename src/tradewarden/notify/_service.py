"""The delivery layer as one component: channels, the outbox and its workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry

from tradewarden.clock import Clock
from tradewarden.notify._config import ChannelConfig
from tradewarden.notify._metrics import NotifyMetrics
from tradewarden.notify._outbox import Outbox
from tradewarden.notify._redact import SecretScrubber, install_log_filter, remove_log_filter
from tradewarden.notify._worker import OutboxWorker
from tradewarden.notify.channels import Channel, HttpPoster, build_channels
from tradewarden.store import Database

__all__ = ["Notifier"]


class Notifier:
    """Build the configured channels (ConfigError when one cannot send), the outbox, and
    workers on demand. ``outbox.enqueue`` is what routing and escalation call."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        channels: Sequence[ChannelConfig],
        *,
        registry: CollectorRegistry | None,
        channel_factory: Callable[[Sequence[ChannelConfig]], dict[str, Channel]] | None = None,
        check_secrets: bool = True,
    ) -> None:
        self.scrubber = SecretScrubber()
        install_log_filter(self.scrubber)
        self.metrics = NotifyMetrics(registry)
        self._http = HttpPoster(clock, self.scrubber)
        if channel_factory is None:
            self.channels = build_channels(
                channels,
                clock=clock,
                scrubber=self.scrubber,
                http=self._http,
                check_secrets=check_secrets,
            )
        else:
            self.channels = channel_factory(channels)
        self.outbox = Outbox(database, clock, {c.name: c for c in channels})
        self.enqueue = self.outbox.enqueue
        self.workers: list[OutboxWorker] = []
        for config in channels:  # every channel's series from 0, so rate() sees the first
            self.metrics.failures.labels(config.name)
            self.metrics.deliveries.labels(config.name)

    def worker(self, **options: object) -> OutboxWorker:
        """Return a new (not started) worker over this outbox."""
        worker = OutboxWorker(
            self.outbox,
            self.channels,
            metrics=self.metrics,
            scrubber=self.scrubber,
            **options,  # type: ignore[arg-type]
        )
        self.workers.append(worker)
        return worker

    def start(self, workers: int = 1) -> None:
        """Start ``workers`` workers."""
        for _ in range(workers):
            self.worker().start()

    async def aclose(self) -> None:
        """Stop the workers (attempts in flight finish), then close the channels."""
        for worker in self.workers:
            await worker.stop()
        for channel in self.channels.values():
            await channel.aclose()
        await self._http.aclose()
        remove_log_filter(self.scrubber)
