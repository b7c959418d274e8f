"""Diagnosis: the runbook runs after the opening commits; its steps land on the timeline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from incidents.conftest import DispatcherFactory, ServiceFactory, alert, detail, incidents
from support.eventually import eventually
from tradewarden.clock import ManualClock
from tradewarden.incidents import IncidentsConfig, RunbookDiagnosis, StepCallback
from tradewarden.notify import Severity


@dataclass(frozen=True)
class FakeStep:
    step_id: str
    status: str
    output: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "title": self.step_id,
            "status": self.status,
            "output": self.output,
        }


class FakeDiagnosis:
    """Two steps; the second waits for ``release`` so a test can look in between."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], dict[str, str]]] = []
        self.release = asyncio.Event()

    async def diagnose(
        self, labels: Mapping[str, str], annotations: Mapping[str, str], on_step: StepCallback
    ) -> str | None:
        self.seen.append((dict(labels), dict(annotations)))
        await on_step(FakeStep("waiting-now", "ok", {"value": 1234}))
        await self.release.wait()
        await on_step(FakeStep("health", "failed", {"status": 503}))
        return "high-queue-backlog"


async def test_steps_are_appended_as_they_end_after_the_opening_committed(
    make_service: ServiceFactory, make_dispatcher: DispatcherFactory, clock: ManualClock
) -> None:
    fake = FakeDiagnosis()
    service = make_service(diagnosis=fake)
    dispatcher = make_dispatcher(service)
    firing = alert(
        clock,
        annotations={"runbook": "high-queue-backlog"},
        alertname="Backlog",
        severity="high",
        queue="q1",
    )
    await dispatcher.ingest([firing])
    await dispatcher.flush_due()
    [incident] = await incidents(service)

    async def steps() -> list[Any]:
        found = await detail(service, incident.public_id)
        return [e for e in found.timeline if e.kind == "runbook_step"]

    async def first_step() -> bool:
        return len(await steps()) == 1

    await eventually(first_step)  # the first step is visible while the run goes on
    assert fake.seen == [
        (
            {"alertname": "Backlog", "severity": "high", "queue": "q1"},
            {"runbook": "high-queue-backlog"},
        )
    ]
    fake.release.set()
    await service.diagnoses.wait()
    written = await steps()
    assert [(e.data["step_id"], e.data["status"], e.actor) for e in written] == [
        ("waiting-now", "ok", "runbook"),
        ("health", "failed", "runbook"),
    ]
    assert written[0].data["output"] == {"value": 1234}
    last = (await detail(service, incident.public_id)).timeline[-1]
    assert last.data == {"runbook": "high-queue-backlog", "steps": 2}
    await service.close()


async def test_a_rolled_back_opening_runs_no_diagnosis(
    make_service: ServiceFactory, clock: ManualClock
) -> None:
    fake = FakeDiagnosis()
    fake.release.set()
    service = make_service(diagnosis=fake)

    async def open_then_fail() -> None:
        async with service.database.session() as session:
            await service.open(
                session,
                title="x",
                severity=Severity.P0,
                by="tradewarden",
                diagnose=({"alertname": "X"}, {}),
            )
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await open_then_fail()
    await asyncio.sleep(0)  # a started task would be registered by now
    await service.diagnoses.wait()
    assert fake.seen == []
    assert await incidents(service) == []
    await service.close()


async def test_a_failing_diagnosis_is_a_note_not_a_crash(
    make_service: ServiceFactory, clock: ManualClock
) -> None:
    class Broken:
        async def diagnose(self, *_args: object) -> str | None:
            raise ConnectionError("runbook target unreachable")

    service = make_service(diagnosis=Broken())
    async with service.database.session() as session:
        incident = await service.open(
            session, title="x", severity=Severity.P0, by="t", diagnose=({"alertname": "X"}, {})
        )
    await service.diagnoses.wait()
    found = await detail(service, incident.public_id)
    assert [(e.kind, e.text) for e in found.timeline][-1] == (
        "note",
        "diagnosis failed: ConnectionError",
    )
    await service.close()


async def test_runbook_diagnosis_runs_the_runbook_the_alert_finds() -> None:
    @dataclass(frozen=True)
    class Book:
        id: str

    class Catalog:
        def for_alert(
            self, labels: Mapping[str, str], annotations: Mapping[str, str]
        ) -> Book | None:
            return Book("rpc-latency") if labels.get("alertname") == "RpcSlow" else None

    class Runner:
        def __init__(self) -> None:
            self.ran: list[str] = []

        async def run(
            self,
            runbook: Book,
            labels: Mapping[str, str],
            annotations: Mapping[str, str],
            *,
            on_step: StepCallback | None = None,
        ) -> list[FakeStep]:
            self.ran.append(runbook.id)
            step = FakeStep("probe", "ok", {})
            if on_step is not None:
                await on_step(step)
            return [step]

    runner = Runner()
    diagnosis = RunbookDiagnosis(Catalog(), runner)
    got: list[dict[str, Any]] = []

    async def on_step(result: Any) -> None:
        got.append(result.to_dict())

    assert await diagnosis.diagnose({"alertname": "RpcSlow"}, {}, on_step) == "rpc-latency"
    assert await diagnosis.diagnose({"alertname": "Other"}, {}, on_step) is None
    assert runner.ran == ["rpc-latency"]
    assert [g["step_id"] for g in got] == ["probe"]


async def test_diagnoses_in_a_storm_run_a_few_at_a_time_and_all_run(
    make_service: ServiceFactory, clock: ManualClock
) -> None:
    class Gate:
        """Each diagnosis waits for ``release``; counts how many run at once."""

        def __init__(self) -> None:
            self.started: list[str] = []
            self.running = self.most = 0
            self.release = asyncio.Event()

        async def diagnose(
            self, labels: Mapping[str, str], _annotations: Mapping[str, str], _on: StepCallback
        ) -> str | None:
            self.started.append(labels["alertname"])
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                await self.release.wait()
            finally:
                self.running -= 1
            return None

    gate = Gate()
    service = make_service(IncidentsConfig(max_concurrent_diagnoses=2), diagnosis=gate)
    names = [f"A{i}" for i in range(5)]
    for name in names:
        async with service.database.session() as session:
            diagnose = ({"alertname": name}, {})
            await service.open(session, title=name, severity=Severity.P0, by="t", diagnose=diagnose)
    await eventually(lambda: len(gate.started) >= 2)
    for _ in range(50):  # every task that could start has had its turn by now
        await asyncio.sleep(0)
    assert gate.started == ["A0", "A1"]  # the others wait, in opening order
    gate.release.set()
    await service.diagnoses.wait()
    assert gate.started == names
    assert gate.most == 2
    await service.close()
