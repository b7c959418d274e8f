"""What the catalog stores of a spec: the given fields as JSON, never an inline secret."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.probes import inline_secrets
from tradewarden.probes._catalog import stored_form
from tradewarden.probes.kinds import monitor_adapter

_STORABLE: list[dict[str, Any]] = [
    {
        "name": "web",
        "kind": "http",
        "url": "https://example.test/health",
        "headers": {"Accept": "application/json"},
        "expect_status": [200, 204],
        "json_path": "data.items[0].status",
        "json_equals": {"ok": True},
        "ca_file": "/etc/ssl/ca.pem",
        "failure": {"rate": 0.5, "window": 4, "min_results": 2},
        "labels": {"team": "core"},
    },
    {"name": "beat", "kind": "heartbeat", "period_s": 60, "token_env": "BEAT_TOKEN"},
    {"name": "db", "kind": "postgres", "dsn_env": "DB_DSN"},
    {"name": "cache", "kind": "redis", "url_file": "/run/secrets/redis"},
    {"name": "jobs", "kind": "queue", "backend": "rq", "url_env": "RQ_URL", "queues": ["a"]},
    {"name": "port", "kind": "tcp", "host": "127.0.0.1", "port": 5432, "paused": True},
    {
        "name": "rpc",
        "kind": "solana_rpc",
        "providers": [{"name": "main", "url_env": "RPC_URL"}],
    },
    {"name": "ex", "kind": "exchange", "exchange": "binance"},
]


@pytest.mark.parametrize("given", _STORABLE, ids=lambda given: str(given["kind"]))
def test_the_stored_form_validates_back_to_the_same_spec(given: dict[str, Any]) -> None:
    adapter = monitor_adapter()
    spec = adapter.validate_python(given)
    stored = stored_form(spec)
    assert stored["kind"] == given["kind"]
    assert adapter.validate_python(stored) == spec
    assert inline_secrets(spec) == []


def test_defaults_are_not_pinned_in_the_stored_form() -> None:
    spec = monitor_adapter().validate_python(
        {"name": "port", "kind": "tcp", "host": "h", "port": 1}
    )
    assert stored_form(spec) == {"name": "port", "kind": "tcp", "host": "h", "port": 1}


def test_inline_secrets_are_found_nested_and_never_stored() -> None:
    adapter = monitor_adapter()
    rpc = adapter.validate_python(
        {
            "name": "rpc",
            "kind": "solana_rpc",
            "providers": [
                {"name": "env", "url_env": "RPC_URL"},
                {"name": "inline", "url": "https://rpc.test/?api-key=k"},
            ],
        }
    )
    assert inline_secrets(rpc) == [("providers", 1, "url")]
    with pytest.raises(ValueError, match=r"providers\.1\.url"):
        stored_form(rpc)
    db = adapter.validate_python({"name": "db", "kind": "postgres", "dsn": "postgresql://h/db"})
    assert inline_secrets(db) == [("dsn",)]
