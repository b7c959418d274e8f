from __future__ import annotations

import json

import httpx
import sentry_sdk
from fastapi import FastAPI
from pydantic import SecretStr

from support.eventually import eventually
from tradewarden import __version__
from tradewarden.config._settings import Settings
from tradewarden.telemetry import setup_sentry, shutdown_sentry

from ._servers import SentryIngest


def _settings(ingest: SentryIngest) -> Settings:
    return Settings(
        environment="production",
        sentry_dsn=SecretStr(ingest.dsn),
        sentry_environment="staging",
    )


def _fail(message: str) -> None:
    raise RuntimeError(message)


def test_sentry_stays_off_without_a_dsn() -> None:
    assert setup_sentry(Settings(sentry_dsn=None)) is False
    assert not sentry_sdk.get_client().is_active()


async def test_captured_exception_arrives_with_environment_and_without_secrets(
    sentry_ingest: SentryIngest,
) -> None:
    assert setup_sentry(_settings(sentry_ingest)) is True
    message = "login refused: password=hunter2, header Authorization: Bearer tok_abc123def"
    try:
        _fail(message)
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)
    shutdown_sentry()

    await eventually(lambda: bool(sentry_ingest.events()))
    (event,) = sentry_ingest.events()
    assert event["environment"] == "staging"
    assert event["release"] == f"tradewarden@{__version__}"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == ("login refused: password=***, header Authorization: Bearer ***")
    # Nowhere in what was sent: not in frame locals, not in breadcrumbs.
    raw = b"".join(envelope.raw for envelope in sentry_ingest.envelopes())
    assert b"hunter2" not in raw
    assert b"tok_abc123def" not in raw


async def test_environment_defaults_to_the_deployment_environment(
    sentry_ingest: SentryIngest,
) -> None:
    settings = Settings(environment="development", sentry_dsn=SecretStr(sentry_ingest.dsn))
    setup_sentry(settings)
    sentry_sdk.capture_message("hello")
    shutdown_sentry()

    await eventually(lambda: bool(sentry_ingest.events()))
    (event,) = sentry_ingest.events()
    assert event["environment"] == "development"


async def test_request_secrets_are_scrubbed_from_an_unhandled_route_error(
    sentry_ingest: SentryIngest,
) -> None:
    setup_sentry(_settings(sentry_ingest))
    app = FastAPI()

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("upstream answered 401")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/v1/boom?api-key=SECRET123&page=2",
            headers={
                "Authorization": "Bearer tok_header_456",
                "X-Debug": "forwarded Bearer tok_debug_789",
                "Cookie": "session=cookie-secret-000",
            },
        )
    assert response.status_code == 500
    shutdown_sentry()

    await eventually(lambda: bool(sentry_ingest.events()))
    (event,) = sentry_ingest.events()
    request = event["request"]
    assert request["query_string"] == "api-key=***&page=2"
    assert request["headers"]["x-debug"] == "forwarded Bearer ***"
    raw = json.dumps(event)
    for secret in ("SECRET123", "tok_header_456", "tok_debug_789", "cookie-secret-000"):
        assert secret not in raw


def test_shutdown_leaves_the_no_op_client(sentry_ingest: SentryIngest) -> None:
    setup_sentry(_settings(sentry_ingest))
    assert sentry_sdk.get_client().is_active()

    shutdown_sentry()

    assert not sentry_sdk.get_client().is_active()
    sentry_sdk.capture_message("after shutdown")
    assert sentry_sdk.get_client().transport is None
