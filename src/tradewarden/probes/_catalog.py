"""Where monitors come from: the config file, and the store for those created over the API.

The catalog is the one writer of the scheduler's set of monitors. The config file is the
source of truth for its monitors: the API cannot change or delete them, and when a stored
monitor has the name of one in the file, the file's monitor runs and the stored one is
skipped (with a warning). An API monitor is stored as the JSON it was posted as (defaults
are not pinned), validated again on every load with the same union as the config file.

A write stores the row and its audit entry in one transaction and builds the probe inside
it (the part of applying a spec that can fail, so a failure stores nothing); the probe is
handed to the scheduler only once the transaction has committed, so the scheduler never
runs a monitor the store does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from tradewarden.clock import Clock, utc_datetime
from tradewarden.errors import ConflictError, NotFoundError
from tradewarden.probes._model import Probe
from tradewarden.probes._scheduler import ReloadSummary, Scheduler, close_probe
from tradewarden.probes._spec import MonitorSpec
from tradewarden.probes.kinds import monitor_adapter
from tradewarden.store import AuditRecord, AuditRepository, Database, MonitorRepository

__all__ = ["MonitorCatalog", "MonitorSource", "inline_secrets", "stored_form"]

MonitorSource = Literal["config", "api"]
logger = logging.getLogger("tradewarden.probes")


def inline_secrets(spec: MonitorSpec) -> list[tuple[str | int, ...]]:
    """Return the paths of the fields holding a secret inline (a ``SecretStr``), nested
    ones included (``("providers", 0, "url")``)."""
    return list(_secret_paths(spec, ()))


def _secret_paths(value: object, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, SecretStr):
        yield path
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_paths(getattr(value, name), (*path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secret_paths(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_paths(item, (*path, str(key)))


def stored_form(spec: MonitorSpec) -> dict[str, Any]:
    """Return ``spec`` as it is stored: the fields that were given, as JSON values.

    Refuses inline secrets: dumped, they would be stored as a mask (or, unmasked, in
    every backup of the database).
    """
    secrets = inline_secrets(spec)
    if secrets:
        names = ", ".join(".".join(str(part) for part in path) for path in secrets)
        raise ValueError(f"inline secrets are not stored: {names}")
    return {"kind": spec.kind, **spec.model_dump(mode="json", exclude_unset=True)}


class MonitorCatalog:
    """The monitors of the config file and of the store, applied to one scheduler."""

    def __init__(self, database: Database, scheduler: Scheduler, clock: Clock) -> None:
        self._database = database
        self._scheduler = scheduler
        self._clock = clock
        self._adapter = monitor_adapter()
        self._config: dict[str, MonitorSpec] = {}
        self._api: dict[str, MonitorSpec] = {}
        self._seen: dict[str, datetime] = {}  # when each stored monitor changed, last read
        # One change of the set at a time in this process (API writes, reloads, syncs).
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    def source(self, name: str) -> MonitorSource | None:
        """Return where the monitor ``name`` comes from (None when unknown)."""
        if name in self._config:
            return "config"
        if name in self._api:
            return "api"
        return None

    async def start(self, config_monitors: Iterable[MonitorSpec]) -> None:
        """Read the stored monitors and start the scheduler with them and the file's."""
        async with self._lock:
            self._config = {spec.name: spec for spec in config_monitors}
            self._api = await self._load()
            await self._scheduler.start(self._merged())

    async def reload(self, config_monitors: Iterable[MonitorSpec]) -> ReloadSummary:
        """Apply the file's monitors (already validated) and the store's current ones.

        With the store unreachable, the API monitors known in this process are kept.
        """
        async with self._lock:
            config = {spec.name: spec for spec in config_monitors}
            try:
                api = await self._load()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("reload: cannot read the stored monitors, keeping them: %s", exc)
                api = self._api
            self._config, previous = config, self._config
            try:
                summary = self._scheduler.apply(self._merged(api))
            except BaseException:
                self._config = previous
                raise
            self._api = api
            return summary

    async def sync(self) -> ReloadSummary:
        """Apply the changes other instances made to the stored monitors since the last read.

        Only stored monitors that changed are touched: the others keep running as they
        are (paused ones stay paused).
        """
        async with self._lock:
            async with self._database.read_session() as session:
                versions = await MonitorRepository(session).versions()
            if versions == self._seen:
                return ReloadSummary((), (), ())
            api = await self._load()
            removed = sorted(
                name
                for name in self._api.keys() - api.keys()
                if name not in self._config and self._scheduler.remove(name)
            )
            added: list[str] = []
            changed: list[str] = []
            for name, spec in list(api.items()):
                if name in self._config or self._api.get(name) == spec:
                    continue
                new = self._scheduler.get(name) is None
                try:
                    self._scheduler.put(spec)
                except Exception:
                    logger.exception("stored monitor %s cannot start; keeping what runs", name)
                    if name in self._api:
                        api[name] = self._api[name]
                    else:
                        del api[name]
                    continue
                (added if new else changed).append(name)
            self._api = api
        summary = ReloadSummary(tuple(sorted(added)), tuple(removed), tuple(sorted(changed)))
        if summary != ReloadSummary((), (), ()):
            logger.info(
                "stored monitors changed: added %s, removed %s, changed %s",
                list(summary.added),
                list(summary.removed),
                list(summary.changed),
            )
        return summary

    def watch(self, interval_s: float) -> None:
        """Look for other instances' changes to the stored monitors every ``interval_s``."""
        self._watcher = asyncio.create_task(self._watch(interval_s), name="monitor-sync")

    async def stop(self) -> None:
        """Stop watching the store."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sync()
            except (SQLAlchemyError, OSError) as exc:  # the store is down: look again later
                logger.warning("cannot read the stored monitors: %s", exc)
            except Exception:
                logger.exception("syncing the stored monitors failed")

    # -- writes from the API -------------------------------------------------------------

    async def create(self, spec: MonitorSpec, audit: AuditRecord) -> None:
        """Store and start ``spec``; ConflictError when its name is taken."""
        name = spec.name
        async with self._lock:
            if name in self._config:
                raise ConflictError(f"monitor {name!r} already exists in the config file")

            async def insert(repository: MonitorRepository, now: datetime) -> dict[str, Any]:
                stored = stored_form(spec)
                await repository.add(
                    name=name, kind=spec.kind, spec=stored, by=audit.actor, now=now
                )
                return {"kind": spec.kind}

            probe = await self._write(insert, audit, "monitor.create", name, spec)
            self._scheduler.put(spec, probe)
            self._api[name] = spec

    async def replace(self, spec: MonitorSpec, audit: AuditRecord) -> None:
        """Replace the stored monitor of ``spec.name``; it keeps its state and history."""
        name = spec.name
        async with self._lock:
            self._refuse_config(name)

            async def update(repository: MonitorRepository, now: datetime) -> dict[str, Any]:
                row = await repository.get(name, for_update=True)
                if row is None:
                    raise NotFoundError(f"monitor {name!r} does not exist")
                stored = stored_form(spec)
                # Field names only: a value may be a credential (a header, a URL with a key).
                changed = _changed_fields(row.spec, stored)
                await repository.replace(row, kind=spec.kind, spec=stored, by=audit.actor, now=now)
                return {"kind": spec.kind, "changed": changed}

            probe = await self._write(update, audit, "monitor.replace", name, spec)
            self._scheduler.put(spec, probe)
            self._api[name] = spec

    async def delete(self, name: str, audit: AuditRecord) -> None:
        """Delete the stored monitor ``name`` and stop it (its series go with it)."""
        async with self._lock:
            self._refuse_config(name)

            async def remove(repository: MonitorRepository, _now: datetime) -> dict[str, Any]:
                row = await repository.get(name, for_update=True)
                if row is None:
                    raise NotFoundError(f"monitor {name!r} does not exist")
                await repository.delete(row)
                return {"kind": row.kind}

            await self._write(remove, audit, "monitor.delete", name, None)
            self._scheduler.remove(name)
            self._api.pop(name, None)

    # -- internals -----------------------------------------------------------------------

    def _refuse_config(self, name: str) -> None:
        if name in self._config:
            raise ConflictError(
                f"monitor {name!r} is managed by the config file: change it there and reload"
            )

    async def _write(
        self,
        change: Callable[[MonitorRepository, datetime], Awaitable[dict[str, Any]]],
        audit: AuditRecord,
        action: str,
        name: str,
        spec: MonitorSpec | None,
    ) -> Probe | None:
        """Make ``change`` and its audit entry in one transaction, and build ``spec``'s
        probe inside it: a probe that cannot be built stores nothing."""
        now = utc_datetime(self._clock.now())
        probe: Probe | None = None
        try:
            async with self._database.session() as session:
                details = await change(MonitorRepository(session), now)
                record = dataclasses.replace(audit, action=action, target=name, details=details)
                await AuditRepository(session).append(record, now=now)
                if spec is not None:
                    probe = spec.build()
        except BaseException:
            if probe is not None:  # the commit failed: the probe never runs
                await close_probe(probe)
            raise
        return probe

    async def _load(self) -> dict[str, MonitorSpec]:
        """Return the stored monitors that validate; log and skip those that do not."""
        async with self._database.read_session() as session:
            rows = await MonitorRepository(session).all()
        self._seen = {row.name: row.updated_at for row in rows}
        loaded: dict[str, MonitorSpec] = {}
        for row in rows:
            try:
                loaded[row.name] = self._adapter.validate_python(row.spec)
            except ValidationError as exc:
                # A spec stored by an older version may no longer validate: run the others.
                problems = "; ".join(
                    f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                    for error in exc.errors(include_input=False)
                )
                # The problems are the message; a traceback would add nothing.
                logger.error(  # noqa: TRY400
                    "stored monitor %s is invalid and does not run: %s", row.name, problems
                )
        return loaded

    def _merged(self, api: Mapping[str, MonitorSpec] | None = None) -> list[MonitorSpec]:
        """Return the file's monitors, then the stored ones whose names the file leaves free."""
        merged = list(self._config.values())
        for name, spec in (self._api if api is None else api).items():
            if name in self._config:
                logger.warning(
                    "monitor %s is in the config file and in the store: the file's runs", name
                )
                continue
            merged.append(spec)
        return merged


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
