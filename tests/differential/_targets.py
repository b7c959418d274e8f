"""Loopback scrape targets whose samples carry their own timestamps, so that two scrapers
(Prometheus and the warden) store exactly the same samples whenever they scrape.

Each scraper names itself with the ``who`` query parameter and walks its own copy of one
deterministic history: its n-th scrape serves step n (timestamp ``base_ms + n * step_ms``)
until the last step, which is then served again (a duplicate both stores ignore). A
history of minutes is scraped in seconds, in the past, so no test waits for time to pass.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from support.net import LOOPBACK, free_port

__all__ = ["BUCKETS", "DemoTarget", "exposition"]

BUCKETS = (0.1, 0.25, 0.5, 1.0)
RESET_AT = 37  # the 200s counter restarts (a process restart) at this step


def _requests_ok(step: int, seed: int) -> float:
    start = RESET_AT if step >= RESET_AT else 0
    return float(sum((n % 5 + 3) * (10 + seed) for n in range(start, step + 1)))


def _requests_failed(step: int, seed: int) -> float:
    return float(step // (3 + seed))


def _gauge(step: int, seed: int) -> float:
    return round(0.5 + 0.4 * math.sin(step / 5 + seed), 6)


def _bucket_counts(step: int, seed: int) -> list[float]:
    # Cumulative observations per bucket: monotonic in le and in time.
    total = [0.0] * (len(BUCKETS) + 1)
    for n in range(step + 1):
        latency = 0.05 + ((n * 7 + seed * 3) % 11) / 10
        for i, le in enumerate((*BUCKETS, math.inf)):
            if latency <= le:
                total[i] += 1
    return total


def exposition(step: int, seed: int, t_ms: int) -> str:
    """Return the text format body of ``step`` of target ``seed``."""
    buckets = _bucket_counts(step, seed)
    observed_sum = sum(0.05 + ((n * 7 + seed * 3) % 11) / 10 for n in range(step + 1))
    lines = [
        "# TYPE demo_requests_total counter",
        f'demo_requests_total{{code="200"}} {_requests_ok(step, seed)} {t_ms}',
        f'demo_requests_total{{code="500"}} {_requests_failed(step, seed)} {t_ms}',
        "# TYPE demo_temperature gauge",
        f"demo_temperature {_gauge(step, seed)} {t_ms}",
        "# TYPE demo_info gauge",
        f'demo_info{{version="1.{seed}"}} 1 {t_ms}',
        "# TYPE demo_latency_seconds histogram",
    ]
    for le, count in zip((*BUCKETS, math.inf), buckets, strict=True):
        bound = "+Inf" if math.isinf(le) else repr(le)
        lines.append(f'demo_latency_seconds_bucket{{le="{bound}"}} {count} {t_ms}')
    lines += [
        f"demo_latency_seconds_sum {round(observed_sum, 6)} {t_ms}",
        f"demo_latency_seconds_count {buckets[-1]} {t_ms}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class DemoTarget:
    """One loopback target serving its history to each scraper separately."""

    seed: int
    base_ms: int
    steps: int
    step_ms: int = 15_000
    port: int = field(default_factory=free_port)
    served: Counter[str] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        """``host:port`` as a scrape config names it."""
        return f"{LOOPBACK}:{self.port}"

    def last_ms(self) -> int:
        """The timestamp of the last step."""
        return self.base_ms + (self.steps - 1) * self.step_ms

    async def _metrics(self, request: web.Request) -> web.Response:
        who = request.query.get("who", "")
        step = min(self.served[who], self.steps - 1)
        self.served[who] += 1
        body = exposition(step, self.seed, self.base_ms + step * self.step_ms)
        return web.Response(text=body, content_type="text/plain", charset="utf-8")

    def done(self, who: str) -> bool:
        """Whether ``who`` has been served every step (the last one twice)."""
        return self.served[who] > self.steps

    async def start(self) -> None:
        """Serve on the loopback port."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, LOOPBACK, self.port).start()

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
