"""A week of history written through the ORM: incidents, alert groups, flips, notifications.

``seed`` writes it relative to ``now``; ``EXPECTED`` holds what the KPIs of the 7 days up
to ``now`` must be (worked out by hand in the comments).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tradewarden.store import (
    Database,
    Escalation,
    Incident,
    IncidentActionItem,
    MonitorFlip,
    Notification,
)

MINUTE = timedelta(minutes=1)
WEEK_S = 7 * 24 * 3600

EXPECTED: dict[str, Any] = {
    # A (P0): detected after 2 min, acked 2 min after notified, resolved after 20 min.
    # B (P1): 4 min, 6 min, 40 min. C (P2, open): 1 min. D is a false positive.
    "mttd_s": (2 + 4 + 1) / 3 * 60,
    "mtta_s": (2 + 6) / 2 * 60,
    "mttr_s": (20 + 40) / 2 * 60,
    "mttr_p0_s": 20 * 60,
    # Groups g1 (acked 2 min after opening), g2 (6 min), g3 and g4 (resolved unacked; g3's
    # incident D is a false positive): noise 2 of 4, acknowledged within 5 min 1 of 4.
    "noise": (2, 4),
    "ack_5m": (1, 4),
    "p0p1_2h": (2, 2),
    # api: down for one hour of the week (it came UP eight days ago).
    "api_availability": 1 - 3600 / WEEK_S,
    "incidents": {"total": 4, "open": 1, "resolved": 3, "false_positive": 1},
}


def _incident(number: int, severity: str, start: datetime, **times: Any) -> Incident:
    fields = {
        "detected_at": None,
        "notified_at": None,
        "acknowledged_at": None,
        "resolved_at": None,
        "group_key": None,
        "false_positive": False,
        **times,
    }
    return Incident(
        public_id=f"INC-2027-{number:04d}",
        title=f"incident {number} | {severity}",
        severity=severity,
        status="resolved" if fields["resolved_at"] else "investigating",
        services=[],
        bots=[],
        impact={},
        impact_started_at=start,
        created_by="test",
        created_at=fields["detected_at"] or start,
        updated_at=start,
        **fields,
    )


def _group(key: str, opened: datetime, **times: Any) -> Escalation:
    return Escalation(
        key=key,
        generation=0,
        policy_name="page",
        policy={},
        message={"severity": "P1", "title": f"[FIRING:1] {key}"},
        status="resolved" if times.get("resolved_at") else "open",
        step=0,
        round=0,
        fired=1,
        notified=[],
        opened_at=opened,
        updated_at=opened,
        **times,
    )


def _notification(number: int, title: str, at: datetime, event: str = "firing") -> Notification:
    return Notification(
        key=f"n{number}",
        channel="ops",
        fingerprint=f"fp{number}",
        event=event,
        severity="P1",
        title=title,
        message={},
        state="delivered",
        attempts=1,
        created_at=at,
        next_attempt_at=at,
        deadline_at=at + timedelta(hours=1),
    )


async def seed(database: Database, now: datetime) -> None:
    """Write the history ``EXPECTED`` describes, relative to ``now``."""
    a, b = now - timedelta(days=3), now - timedelta(days=2)
    c, d = now - timedelta(days=1), now - timedelta(days=1) + timedelta(hours=1)
    async with database.session() as session:
        first = _incident(
            1,
            "P0",
            a,
            detected_at=a + 2 * MINUTE,
            notified_at=a + 3 * MINUTE,
            acknowledged_at=a + 5 * MINUTE,
            resolved_at=a + 20 * MINUTE,
            group_key="g1",
        )
        session.add_all(
            [
                first,
                _incident(
                    2,
                    "P1",
                    b,
                    detected_at=b + 4 * MINUTE,
                    notified_at=b + 4 * MINUTE,
                    acknowledged_at=b + 10 * MINUTE,
                    resolved_at=b + 40 * MINUTE,
                    group_key="g2",
                ),
                _incident(3, "P2", c, detected_at=c + MINUTE, notified_at=c + MINUTE),
                _incident(
                    4, "P3", d, resolved_at=d + 5 * MINUTE, false_positive=True, group_key="g3"
                ),
                # Ten days ago: outside the week.
                _incident(5, "P0", now - timedelta(days=10), resolved_at=now - timedelta(days=9)),
            ]
        )
        session.add_all(
            [
                _group(
                    "g1",
                    a + 3 * MINUTE,
                    acknowledged_at=a + 5 * MINUTE,
                    resolved_at=a + 20 * MINUTE,
                ),
                _group(
                    "g2",
                    b + 4 * MINUTE,
                    acknowledged_at=b + 10 * MINUTE,
                    resolved_at=b + 40 * MINUTE,
                ),
                _group("g3", d, resolved_at=d + 2 * MINUTE),
                _group("g4", now - timedelta(hours=5), resolved_at=now - timedelta(hours=4)),
                _group("old", now - timedelta(days=9), resolved_at=now - timedelta(days=9)),
            ]
        )
        flips = [
            ("api", "PENDING", "UP", now - timedelta(days=8)),
            ("api", "UP", "DOWN", b),
            ("api", "DOWN", "UP", b + timedelta(hours=1)),
            ("db", "PENDING", "UP", now - timedelta(days=20)),
        ]
        session.add_all(
            [
                MonitorFlip(monitor=m, old_state=o, new_state=n, reason="test", at=t)
                for m, o, n, t in flips
            ]
        )
        session.add_all(
            [
                _notification(1, "[FIRING:1] BotDown bot=a", a),
                _notification(2, "[FIRING:2] BotDown bot=a", b),
                _notification(3, "[FIRING:1] BotDown bot=b", c),
                _notification(4, "[FIRING:1] HighLatency", d),
                _notification(5, "[RESOLVED:1] HighLatency", d, event="resolved"),
                _notification(6, "[FIRING:1] Ancient", now - timedelta(days=9)),
            ]
        )
        await session.flush()
        today = now.date()
        session.add_all(
            [
                IncidentActionItem(
                    incident_id=first.id,
                    number=number,
                    title=title,
                    owner="alice",
                    due_date=today + timedelta(days=offset),
                    status=status,
                    created_by="test",
                    created_at=a,
                    updated_at=a,
                )
                for number, title, offset, status in (
                    (1, "Add a pool size alert", -3, "open"),
                    (2, "Already done", -3, "done"),
                    (3, "Not due yet", 3, "open"),
                )
            ]
        )
