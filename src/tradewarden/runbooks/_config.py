"""The config file's ``runbooks:`` section: where runbooks come from, their time budgets,
the actions they may run unattended, and the connections their steps read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradewarden.probes._secrets import EnvName, read_secret
from tradewarden.probes.kinds._redis_common import redis_url_problem
from tradewarden.probes.kinds.postgres import PostgresSpec
from tradewarden.runbooks._model import ActionName
from tradewarden.series._config import Seconds

__all__ = ["ConnectionConfig", "ConnectionName", "RunbooksConfig"]

ConnectionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectionConfig(_Section):
    """A database or Redis that runbook steps read, its URL from env or a file only."""

    name: ConnectionName
    kind: Literal["postgres", "redis"]
    url_env: EnvName | None = None
    url_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "url: an inline URL is not allowed (a secret); use url_env or url_file"
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [n for n, v in (("url_env", self.url_env), ("url_file", self.url_file)) if v]
        if len(given) != 1:
            raise ValueError(
                f"set exactly one of url_env, url_file (got {', '.join(given) or 'none'})"
            )
        return self

    def resolve_url(self) -> str:
        """Return the URL now (a rotated secret is picked up); ValueError says what is wrong."""
        if self.kind == "postgres":
            return PostgresSpec(
                name="x", dsn_env=self.url_env, dsn_file=self.url_file
            ).resolve_dsn()
        return read_secret("url", None, self.url_env, self.url_file, redis_url_problem)


class RunbooksConfig(_Section):
    """Which runbooks load, how long their steps may take, and what they may touch."""

    # The runbooks shipped with tradewarden (src/tradewarden/runbooks/bundled/).
    bundled: bool = True
    # Folders of the user's runbooks (*.yml, *.yaml), relative to the config file.
    directories: tuple[str, ...] = ()
    step_timeout: Seconds = Field(default=10.0, gt=0, le=3_600)
    # A whole run of a runbook's automated steps is cut here.
    run_timeout: Seconds = Field(default=60.0, gt=0, le=86_400)
    # Remediation actions a runbook may run unattended (its action says automatic: true).
    allow_automatic: tuple[ActionName, ...] = ()
    connections: tuple[ConnectionConfig, ...] = ()
    # Hosts (``host`` for any port, or ``host:port``) an http step may read when its URL's
    # host comes from an alert's labels, on top of the scrape targets and the http monitors.
    http_hosts: tuple[str, ...] = ()

    @field_validator("http_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not host or any(c in host for c in "/?#@ ") or "://" in host:
                raise ValueError(f"{host!r} is not a host or host:port")
        return tuple(h.lower() for h in hosts)

    @field_validator("connections")
    @classmethod
    def _unique_names(
        cls, connections: tuple[ConnectionConfig, ...]
    ) -> tuple[ConnectionConfig, ...]:
        seen: set[str] = set()
        for connection in connections:
            if connection.name in seen:
                raise ValueError(f"connection name {connection.name!r} is used twice")
            seen.add(connection.name)
        return connections

    def connection(self, name: str) -> ConnectionConfig | None:
        """Return the connection called ``name``, or None."""
        return next((c for c in self.connections if c.name == name), None)
