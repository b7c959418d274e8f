"""A runbook: prose for people, automated steps of the safe kinds, remediation buttons.

Every model is frozen and forbids unknown fields. Validation does everything that can be
known before an alert arrives: step kinds, read-only SQL, allow-listed Redis commands,
template syntax, bind parameters, inline probe specs. What the alert fills in (templated
values) is checked again when a step runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from tradewarden.alerting import MatcherError, parse_matchers
from tradewarden.probes.kinds import MonitorConfig
from tradewarden.runbooks._readonly import check_redis_command, check_sql, sql_param_names
from tradewarden.runbooks._templates import check_template, is_templated
from tradewarden.series import Labels
from tradewarden.series._config import Seconds

__all__ = [
    "ACTIONS",
    "STEP_KINDS",
    "Action",
    "ActionName",
    "AnyStep",
    "AppliesTo",
    "HttpStep",
    "ProbeStep",
    "PromqlStep",
    "RedisStep",
    "Runbook",
    "SqlStep",
    "Step",
]

_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"
RunbookId = Annotated[str, Field(pattern=_ID)]
StepId = Annotated[str, Field(pattern=_ID)]
ActionName = Literal["kill_switch.halt", "kill_switch.reduce", "breaker.open", "queue.pause"]
ACTIONS: tuple[str, ...] = ("kill_switch.halt", "kill_switch.reduce", "breaker.open", "queue.pause")
STEP_KINDS: tuple[str, ...] = ("promql", "http", "sql", "redis", "probe")
_ConnectionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
_Text = Annotated[str, Field(min_length=1, max_length=200)]
_Prose = Annotated[str, Field(min_length=1, max_length=10_000)]


def _template(value: str) -> str:
    return check_template(value)


Template = Annotated[str, Field(min_length=1, max_length=4_000), BeforeValidator(_template)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Frozen):
    """What every automated step has; each kind adds its own fields."""

    id: StepId
    title: _Text
    kind: str
    # None: the config's runbooks.step_timeout.
    timeout: Seconds | None = Field(default=None, gt=0, le=3_600)


class PromqlStep(Step):
    """An instant PromQL query over the warden's series store."""

    kind: Literal["promql"] = "promql"
    query: Template

    @field_validator("query")
    @classmethod
    def _parses(cls, query: str) -> str:
        if not is_templated(query):
            from tradewarden.promql import QueryError, parse

            try:
                parse(query)
            except QueryError as exc:
                raise ValueError(f"invalid PromQL: {exc}") from None
        return query


class HttpStep(Step):
    """A GET (or HEAD) of an HTTP endpoint: its status and body."""

    kind: Literal["http"] = "http"
    url: Template
    method: Literal["GET", "HEAD"] = "GET"
    # Header name -> the environment variable holding its value (read at run time).
    headers_env: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")],
        Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)],
    ] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "{{")):
            raise ValueError("must be an http:// or https:// URL")
        return url


class SqlStep(Step):
    """One read-only SQL query on a configured PostgreSQL connection."""

    kind: Literal["sql"] = "sql"
    connection: _ConnectionName
    # Never templated: alert values reach the query only as bind parameters (:name).
    query: Annotated[str, Field(min_length=1, max_length=20_000)]
    params: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Template] = Field(
        default_factory=dict
    )

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str) -> str:
        check_sql(query)
        return query

    @model_validator(mode="after")
    def _params_match(self) -> Self:
        used = sql_param_names(self.query)
        missing = [name for name in used if name not in self.params]
        unused = [name for name in self.params if name not in used]
        if missing:
            raise ValueError(f"params: the query uses :{', :'.join(missing)} but params lacks it")
        if unused:
            raise ValueError(f"params: {', '.join(unused)} not used in the query")
        return self


class RedisStep(Step):
    """One allow-listed Redis read command on a configured Redis connection."""

    kind: Literal["redis"] = "redis"
    connection: _ConnectionName
    command: tuple[Annotated[str, Field(min_length=1, max_length=1_000)], ...] = Field(
        min_length=1, max_length=100
    )

    @field_validator("command")
    @classmethod
    def _allowed(cls, command: tuple[str, ...]) -> tuple[str, ...]:
        check_redis_command(command, rendered=False)
        for argument in command:
            check_template(argument)
        return command


class ProbeStep(Step):
    """Run a configured monitor's check now, or an inline probe spec once."""

    kind: Literal["probe"] = "probe"
    monitor: Template | None = None
    probe: MonitorConfig | None = None

    @field_validator("probe", mode="before")
    @classmethod
    def _named(cls, spec: Any) -> Any:
        if isinstance(spec, dict) and spec.get("kind") == "heartbeat":
            raise ValueError("a heartbeat is pushed, not probed; name its monitor instead")
        # An inline probe is no monitor: it needs no name of its own.
        if isinstance(spec, dict) and "name" not in spec:
            return {"name": "runbook-step", **spec}
        return spec

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.monitor is None) == (self.probe is None):
            raise ValueError("set exactly one of monitor, probe")
        return self


def _allowed_kind(step: Any) -> Any:
    if isinstance(step, dict):
        kind = step.get("kind")
        if kind not in STEP_KINDS:
            raise ValueError(
                f"kind {kind!r} is not allowed: automated steps are only "
                f"{', '.join(STEP_KINDS)} (no shell commands, no writes)"
            )
    return step


AnyStep = Annotated[
    PromqlStep | HttpStep | SqlStep | RedisStep | ProbeStep,
    Field(discriminator="kind"),
    BeforeValidator(_allowed_kind),
]


class Action(_Frozen):
    """A remediation button; run unattended only when the config allows that action."""

    id: StepId
    title: _Text
    action: ActionName
    params: dict[Annotated[str, Field(pattern=r"^[a-z_]{1,50}$")], Template] = Field(
        default_factory=dict
    )
    automatic: bool = False


class AppliesTo(_Frozen):
    """Which alerts this runbook is for: by alert name, narrowed by matchers."""

    alertnames: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = ()
    # Alertmanager matcher strings (``queue=~".+"``); all must match.
    matchers: tuple[str, ...] = ()
    _parsed: tuple[Any, ...] = PrivateAttr(default=())

    @field_validator("matchers")
    @classmethod
    def _parse(cls, matchers: tuple[str, ...]) -> tuple[str, ...]:
        for text in matchers:
            try:
                parse_matchers(text)
            except MatcherError as exc:
                raise ValueError(f"invalid matcher {text!r}: {exc}") from None
        return matchers

    def model_post_init(self, context: Any, /) -> None:
        """Keep the parsed matchers."""
        self._parsed = tuple(m for text in self.matchers for m in parse_matchers(text))

    def score(self, labels: Labels) -> int | None:
        """Return how specifically this matches an alert's labels (None: not at all)."""
        if not self.alertnames and not self.matchers:
            return None
        if self.alertnames and labels.get("alertname") not in self.alertnames:
            return None
        if not all(m.matches(labels.get(m.name)) for m in self._parsed):
            return None
        return (2 if self.alertnames else 0) + len(self._parsed)


class Runbook(_Frozen):
    """One runbook file."""

    id: RunbookId
    title: _Text
    summary: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\n]*$")]
    applies_to: AppliesTo = AppliesTo()
    symptoms: tuple[_Prose, ...] = Field(min_length=1)
    diagnosis: tuple[_Prose, ...] = Field(min_length=1)
    resolution: tuple[_Prose, ...] = Field(min_length=1)
    escalation: tuple[_Prose, ...] = ()
    automated: tuple[AnyStep, ...] = Field(default=(), max_length=50)
    actions: tuple[Action, ...] = Field(default=(), max_length=20)
    _source: str = PrivateAttr(default="")

    @field_validator("automated", "actions")
    @classmethod
    def _unique_ids(cls, items: tuple[Step | Action, ...]) -> tuple[Step | Action, ...]:
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"id {item.id!r} is used twice")
            seen.add(item.id)
        return items

    @property
    def source(self) -> str:
        """Return where the runbook was loaded from (``bundled:<file>`` or a path)."""
        return self._source

    def with_source(self, source: str) -> Runbook:
        """Return this runbook marked as loaded from ``source``."""
        copy = self.model_copy()
        copy._source = source
        return copy

    def automatic_actions(self, allowed: tuple[str, ...]) -> list[Action]:
        """Return the actions that may run unattended: marked automatic AND allowed."""
        return [a for a in self.actions if a.automatic and a.action in allowed]
