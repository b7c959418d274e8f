"""The store: SQLAlchemy models, repositories and Alembic migrations.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) when ``DATABASE_URL``
says so. Every query lives in a repository here; routers and commands call them.
"""

from tradewarden.store._alerting import AlertGroupRow, AlertingRepository, AlertRow, SilenceRow
from tradewarden.store._apikeys import ApiKeyRepository
from tradewarden.store._audit import AuditRecord, AuditRepository, Outcome
from tradewarden.store._database import Backend, Database, normalise_database_url
from tradewarden.store._escalation import (
    Escalation,
    EscalationRepository,
    OnCallOverride,
    OverrideRepository,
)
from tradewarden.store._flips import FlipRepository
from tradewarden.store._heartbeats import HeartbeatRepository
from tradewarden.store._incidents import IncidentFilter, IncidentRepository
from tradewarden.store._meta import MetaRepository
from tradewarden.store._migrate import current_revision, head_revision, upgrade
from tradewarden.store._models import (
    ApiKey,
    AuditEntry,
    Base,
    HeartbeatState,
    Incident,
    IncidentActionItem,
    IncidentAlert,
    IncidentSequence,
    IncidentTimelineEntry,
    MonitorDefinition,
    MonitorFlip,
    RefreshToken,
    User,
    UtcDateTime,
)
from tradewarden.store._monitors import MonitorRepository
from tradewarden.store._notifications import (
    Notification,
    NotificationAttempt,
    NotificationRepository,
)
from tradewarden.store._tokens import RefreshTokenRepository
from tradewarden.store._users import UserRepository

__all__ = [
    "AlertGroupRow",
    "AlertRow",
    "AlertingRepository",
    "ApiKey",
    "ApiKeyRepository",
    "AuditEntry",
    "AuditRecord",
    "AuditRepository",
    "Backend",
    "Base",
    "Database",
    "Escalation",
    "EscalationRepository",
    "FlipRepository",
    "HeartbeatRepository",
    "HeartbeatState",
    "Incident",
    "IncidentActionItem",
    "IncidentAlert",
    "IncidentFilter",
    "IncidentRepository",
    "IncidentSequence",
    "IncidentTimelineEntry",
    "MetaRepository",
    "MonitorDefinition",
    "MonitorFlip",
    "MonitorRepository",
    "Notification",
    "NotificationAttempt",
    "NotificationRepository",
    "OnCallOverride",
    "Outcome",
    "OverrideRepository",
    "RefreshToken",
    "RefreshTokenRepository",
    "SilenceRow",
    "User",
    "UserRepository",
    "UtcDateTime",
    "current_revision",
    "head_revision",
    "normalise_database_url",
    "upgrade",
]
