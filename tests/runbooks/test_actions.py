"""The remediation buttons' pure part: params rendered from the alert (a missing value is
422 naming the param), each action name mapped to its control call and audit name, and
the runtime's controls answering 503 when the back end is not set up."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from tradewarden.runbooks import Action
from tradewarden.runbooks._actions import (
    AUDIT_ACTIONS,
    ActionFailedError,
    RuntimeControls,
    dispatch,
    render_params,
)
from tradewarden.runbooks._model import ACTIONS


class Recording:
    """A ``Controls`` that records what was asked (the real calls are tested in tests/api)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def trading(
        self, verb: Literal["halt", "reduce"], actor: str, reason: str, message: str
    ) -> dict[str, Any]:
        self.calls.append(("trading", verb, actor, reason, message))
        return {"to": verb}

    async def open_breaker(self, name: str, *, forced: bool) -> dict[str, Any]:
        self.calls.append(("breaker", name, forced))
        return {"to": "FORCED_OPEN" if forced else "OPEN"}

    async def pause_queue(self, monitor: str, queue: str) -> dict[str, Any]:
        self.calls.append(("queue", monitor, queue))
        return {"paused": True}


def test_every_action_has_an_audit_name() -> None:
    assert set(AUDIT_ACTIONS) == set(ACTIONS)


def test_params_render_from_the_alert_and_a_missing_value_names_the_param() -> None:
    action = Action(
        id="pause",
        title="Pause",
        action="queue.pause",
        params={"monitor": "{{ labels.monitor }}", "queue": "{{ labels.queue }}"},
    )
    assert render_params(action, {"monitor": "workers", "queue": "orders"}, {}) == {
        "monitor": "workers",
        "queue": "orders",
    }
    with pytest.raises(ActionFailedError) as raised:
        render_params(action, {"monitor": "workers"}, {})
    assert (raised.value.status, raised.value.message) == (422, "params.queue: label queue missing")


def test_a_required_param_the_action_lacks_is_422() -> None:
    action = Action(id="open", title="Open", action="breaker.open")
    with pytest.raises(ActionFailedError) as raised:
        render_params(action, {}, {})
    assert raised.value.status == 422
    assert raised.value.message.startswith("params.breaker:")


async def test_each_name_maps_to_its_control_call() -> None:
    controls = Recording()
    asked = [
        ("kill_switch.halt", {"message": "loss"}),
        ("kill_switch.reduce", {}),
        ("breaker.open", {"breaker": "venue-x", "forced": "false"}),
        ("queue.pause", {"monitor": "workers", "queue": "orders"}),
    ]
    targets = [
        (await dispatch(controls, name, params, actor="alice", reason="why"))[0]
        for name, params in asked
    ]
    assert targets == ["trading_state", "trading_state", "venue-x", "workers/orders"]
    assert controls.calls == [
        ("trading", "halt", "alice", "why", "loss"),
        ("trading", "reduce", "alice", "why", ""),
        ("breaker", "venue-x", False),
        ("queue", "workers", "orders"),
    ]


async def test_runtime_controls_without_back_ends_are_503() -> None:
    controls = RuntimeControls(lambda: None, lambda: None)
    with pytest.raises(ActionFailedError) as halted:
        await controls.trading("halt", "alice", "why", "")
    with pytest.raises(ActionFailedError) as paused:
        await controls.pause_queue("workers", "orders")
    assert (halted.value.status, paused.value.status) == (503, 503)
    assert paused.value.message == "monitors do not run in this process"
