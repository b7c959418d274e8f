"""Probes: monitors that check bots and their dependencies from outside, on a schedule.

A monitor is a ``MonitorSpec`` of some kind (``kinds/``); its probe returns a
``ProbeResult``; the ``Scheduler`` runs it, decides the state with ``decide()``, stores
every flip through a ``FlipRecorder`` before announcing it, and hands every result to one
``ResultSink``.
"""

from tradewarden.probes._catalog import MonitorCatalog, MonitorSource, inline_secrets
from tradewarden.probes._heartbeats import Beat, HeartbeatBoard, HeartbeatStore, PingKind
from tradewarden.probes._metrics import ProbeMetrics
from tradewarden.probes._model import MonitorState, Probe, ProbeContext, ProbeResult, Sample
from tradewarden.probes._policy import Decision, decide
from tradewarden.probes._ports import Flip, FlipRecorder, ResultSink
from tradewarden.probes._recorder import StoreFlipRecorder, StoreHeartbeats
from tradewarden.probes._scheduler import CheckRecord, MonitorStatus, ReloadSummary, Scheduler
from tradewarden.probes._spec import ConsecutivePolicy, FailurePolicy, MonitorSpec, RatePolicy
from tradewarden.probes._web import new_web_session

__all__ = [
    "Beat",
    "CheckRecord",
    "ConsecutivePolicy",
    "Decision",
    "FailurePolicy",
    "Flip",
    "FlipRecorder",
    "HeartbeatBoard",
    "HeartbeatStore",
    "MonitorCatalog",
    "MonitorSource",
    "MonitorSpec",
    "MonitorState",
    "MonitorStatus",
    "PingKind",
    "Probe",
    "ProbeContext",
    "ProbeMetrics",
    "ProbeResult",
    "RatePolicy",
    "ReloadSummary",
    "ResultSink",
    "Sample",
    "Scheduler",
    "StoreFlipRecorder",
    "StoreHeartbeats",
    "decide",
    "inline_secrets",
    "new_web_session",
]
