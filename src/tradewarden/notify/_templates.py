"""Message templates (Jinja2, sandboxed): good defaults, overridable per channel.

A template sees every field of the message plus ``severity_label``, ``emoji`` and
``started_at_iso``. Templates are compiled and tried on a sample message when the config
is loaded, so a syntax error or a misspelt name stops the start, naming the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from tradewarden.notify._message import Message, MessageStatus, Severity

__all__ = ["DEFAULT_BODY", "DEFAULT_TITLE", "Rendered", "Renderer", "check_template"]

DEFAULT_TITLE = (
    "{% if status == 'resolved' %}✅ RESOLVED: {{ title }}"
    "{% elif status == 'acknowledged' %}👀 ACKNOWLEDGED: {{ title }}"
    "{% else %}{{ emoji }} {{ severity_label | upper }}: {{ title }}{% endif %}"
)
DEFAULT_BODY = """\
{% if summary %}{{ summary }}
{% endif %}{% if description %}{{ description }}
{% endif %}Severity: {{ severity }} {{ severity_label }}
{% if started_at_iso %}Started: {{ started_at_iso }}
{% endif %}{% if metric %}Metric: {{ metric }}
{% endif %}{% if threshold %}Threshold: {{ threshold }}
{% endif %}{% if current_value %}Current value: {{ current_value }}
{% endif %}{% if runbook_url %}Runbook: {{ runbook_url }}
{% endif %}{% if dashboard_url %}Dashboard: {{ dashboard_url }}
{% endif %}{% if ack_url and status == 'firing' %}Acknowledge: {{ ack_url }}
{% endif %}"""

_SAMPLE = Message(
    fingerprint="sample",
    severity=Severity.P0,
    status=MessageStatus.FIRING,
    title="Sample alert",
    summary="A sample to check the template",
    labels={"alertname": "Sample"},
    metric="up",
    threshold="1",
    current_value="0",
    started_at=datetime(2026, 1, 1, tzinfo=UTC),
    runbook_url="https://example.invalid/runbook",
    dashboard_url="https://example.invalid/dashboard",
    ack_url="https://example.invalid/ack",
)


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    # Sandboxed: a template from the config file cannot reach Python internals.
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def check_template(source: str) -> str | None:
    """Return what is wrong with a template (syntax, unknown name), or None."""
    try:
        _environment().from_string(source).render(_SAMPLE.template_context())
    except TemplateError as exc:
        return f"invalid template: {exc.message or type(exc).__name__}"
    return None


@dataclass(frozen=True)
class Rendered:
    """A message as text: a title and a body."""

    title: str
    body: str


class Renderer:
    """Render messages with a channel's templates (the defaults where none is given)."""

    def __init__(self, *, title: str | None = None, body: str | None = None) -> None:
        environment = _environment()
        self._title = environment.from_string(title or DEFAULT_TITLE)
        self._body = environment.from_string(body or DEFAULT_BODY)

    def render(self, message: Message) -> Rendered:
        """Return the title and body of ``message``."""
        context = message.template_context()
        return Rendered(
            title=self._title.render(context).strip(),
            body=self._body.render(context).strip(),
        )
