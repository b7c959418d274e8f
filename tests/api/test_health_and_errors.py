"""Liveness, JSON errors, request ids, the body limit, OpenAPI and docs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter

from tradewarden.api import create_app
from tradewarden.config import ServerConfig, ServiceConfig
from tradewarden.runtime import Runtime


@pytest.mark.parametrize("path", ["/health", "/v1/health"])
async def test_health_needs_no_auth_and_is_keyword_friendly(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.text == '{"status":"ok"}'


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) == 16


async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["x-request-id"] == "trace-abc.123"
    assert response.json()["request_id"] == "trace-abc.123"


async def test_a_hostile_incoming_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "<script>" + "a" * 100})
    assert response.headers["x-request-id"] != "<script>" + "a" * 100


async def test_404_is_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Not Found"}


async def test_405_is_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_422_names_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/login", json={"username": "a", "pasword": "x"})
    assert response.status_code == 422
    body = response.json()
    fields = {item["field"] for item in body["error"]["fields"]}
    assert fields == {"body.password", "body.pasword"}
    assert "body.password" in body["error"]["message"]


async def test_422_on_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_500_is_json_without_internals(runtime: Runtime) -> None:
    app = create_app(runtime, manage_runtime=False)
    boom = APIRouter()

    @boom.get("/boom")
    async def _boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.include_router(boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://warden") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.text


async def test_oversized_declared_body_gets_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/login",
        content=b"x" * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_oversized_streamed_body_gets_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"y" * 65536

    response = await client.post(
        "/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


class TestConfiguredBodyLimit:
    @pytest.fixture
    def service_config(self) -> ServiceConfig:
        return ServiceConfig(server=ServerConfig(max_body_bytes=2048))

    async def test_body_limit_is_configurable(self, client: httpx.AsyncClient) -> None:
        small = await client.post("/v1/auth/login", content=b"x" * 2000)
        assert small.status_code == 422
        large = await client.post("/v1/auth/login", content=b"x" * 2049)
        assert large.status_code == 413


async def test_invalid_content_length_gets_400(runtime: Runtime) -> None:
    app = create_app(runtime, manage_runtime=False)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/auth/login",
        "raw_path": b"/v1/auth/login",
        "query_string": b"",
        "headers": [(b"content-length", b"abc")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/api-docs"])
async def test_openapi_and_docs_are_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/health", "/status", "/metrics", "/v1/auth/login", "/v1/admin/audit"):
        assert path in paths
