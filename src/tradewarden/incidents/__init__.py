"""Incidents: opened from alerts by policy or by hand, an append-only timeline, reports.

``IncidentService`` keeps incidents in the store (every write in the caller's session,
so it commits with its audit row or with the dispatcher's flush); ``IncidentObserver``
is the dispatcher's flush observer and the escalator's hook; ``render_report`` writes the
seeds' incident report in Markdown; ``Diagnosis`` is the port runbooks run behind.
"""

from tradewarden.incidents._alerts import IncidentObserver
from tradewarden.incidents._config import IncidentsConfig
from tradewarden.incidents._diagnosis import (
    Diagnosis,
    DiagnosisRunner,
    RunbookDiagnosis,
    StepCallback,
    StepOutcome,
)
from tradewarden.incidents._model import (
    OPEN_STATUSES,
    Impact,
    Kind,
    Status,
    TransitionError,
    allowed_transitions,
    check_transition,
    durations,
    most_severe,
    public_id,
    services_and_bots,
)
from tradewarden.incidents._report import format_duration, iso, render_report
from tradewarden.incidents._service import (
    SYSTEM_ACTOR,
    EscalationPort,
    IncidentDetail,
    IncidentService,
)

__all__ = [
    "OPEN_STATUSES",
    "SYSTEM_ACTOR",
    "Diagnosis",
    "DiagnosisRunner",
    "EscalationPort",
    "Impact",
    "IncidentDetail",
    "IncidentObserver",
    "IncidentService",
    "IncidentsConfig",
    "Kind",
    "RunbookDiagnosis",
    "Status",
    "StepCallback",
    "StepOutcome",
    "TransitionError",
    "allowed_transitions",
    "check_transition",
    "durations",
    "format_duration",
    "iso",
    "most_severe",
    "public_id",
    "render_report",
    "services_and_bots",
]
