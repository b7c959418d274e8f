"""What the risk limits remember across snapshots, and where a bot may keep it.

Without a store, a restarted bot would start a fresh trading day (a new daily-loss budget)
and a fresh equity peak (no drawdown): ``SQLiteTrackStore`` and ``RedisTrackStore`` keep
the track so a restart changes neither.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tradewarden.errors import TradewardenError
from tradewarden.guard.risk._limits import RiskLimits, trading_day

if TYPE_CHECKING:
    import redis

__all__ = [
    "RedisTrackStore",
    "RiskTrack",
    "SQLiteTrackStore",
    "TrackStore",
    "TrackStoreError",
    "advance_track",
]


class TrackStoreError(TradewardenError):
    """The risk track could not be read or written (retryable)."""

    permanent = False


@dataclass(frozen=True, slots=True)
class RiskTrack:
    """The trading day, its starting equity, and the equity peak."""

    day: date | None = None
    start_of_day_equity: float = 0.0
    peak_equity: float = 0.0

    def to_json(self) -> str:
        """Return the track as JSON."""
        return json.dumps(
            {
                "day": self.day.isoformat() if self.day else None,
                "start_of_day_equity": self.start_of_day_equity,
                "peak_equity": self.peak_equity,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> RiskTrack:
        """Parse a stored track; raise TrackStoreError when it is not one."""
        try:
            data: Any = json.loads(text)
            day = date.fromisoformat(data["day"]) if data["day"] is not None else None
            start = float(data["start_of_day_equity"])
            peak = float(data["peak_equity"])
        except (ValueError, TypeError, KeyError) as exc:
            raise TrackStoreError(f"stored risk track is not one: {exc}") from exc
        if not (math.isfinite(start) and math.isfinite(peak)):
            raise TrackStoreError("stored risk track holds a non-finite number")
        return cls(day, start, peak)


def advance_track(track: RiskTrack, equity: float, now: float, limits: RiskLimits) -> RiskTrack:
    """Return the track after seeing ``equity`` at ``now``: pure.

    The first snapshot of a trading day (midnight in the limits' time zone) sets that
    day's starting equity; the peak is the highest equity ever seen.
    """
    day = trading_day(now, limits.zone)
    if track.day != day:
        track = replace(track, day=day, start_of_day_equity=equity)
    if equity > track.peak_equity:
        track = replace(track, peak_equity=equity)
    return track


class TrackStore(Protocol):
    """Where a RiskEngine keeps its track between runs."""

    def load(self) -> RiskTrack | None:
        """Return the stored track, or None; raise TrackStoreError."""
        ...

    def save(self, track: RiskTrack) -> None:
        """Store the track; raise TrackStoreError."""
        ...


class SQLiteTrackStore:
    """Keep tracks in a SQLite file (the trading state's file will do), one row per name."""

    def __init__(self, path: str | Path, *, name: str = "default") -> None:
        self.path = Path(path)
        self.name = name
        self._lock = threading.Lock()

    def load(self) -> RiskTrack | None:
        """Return the stored track, or None."""
        row = self._run(
            lambda conn: conn.execute(
                "SELECT track FROM risk_tracks WHERE name = ?", (self.name,)
            ).fetchone()
        )
        return RiskTrack.from_json(row[0]) if row else None

    def save(self, track: RiskTrack) -> None:
        """Store the track."""
        self._run(
            lambda conn: conn.execute(
                "INSERT INTO risk_tracks (name, track) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET track = excluded.track",
                (self.name, track.to_json()),
            )
        )

    def _run(self, work: Any) -> Any:
        with self._lock:
            conn: sqlite3.Connection | None = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS risk_tracks "
                    "(name TEXT PRIMARY KEY, track TEXT NOT NULL)"
                )
                return work(conn)
            except (OSError, sqlite3.Error) as exc:
                raise TrackStoreError(f"risk track in {self.path}: {exc}") from exc
            finally:
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()


class RedisTrackStore:
    """Keep the track under one Redis key (``<prefix>:risk_track:<name>``)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "tradewarden:trading",
        name: str = "default",
        client: redis.Redis | None = None,
        socket_timeout_s: float = 1.0,
    ) -> None:
        import redis

        self.key = f"{prefix}:risk_track:{name}"
        self._owns_client = client is None
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._client: redis.Redis = client or redis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
        )

    def load(self) -> RiskTrack | None:
        """Return the stored track, or None."""
        try:
            raw: Any = self._client.get(self.key)
        except self._errors as exc:
            raise TrackStoreError(f"risk track in Redis: {exc}") from exc
        return RiskTrack.from_json(raw) if raw is not None else None

    def save(self, track: RiskTrack) -> None:
        """Store the track."""
        try:
            self._client.set(self.key, track.to_json())
        except self._errors as exc:
            raise TrackStoreError(f"risk track in Redis: {exc}") from exc

    def close(self) -> None:
        """Close the client if this store made it."""
        if self._owns_client:
            self._client.close()
