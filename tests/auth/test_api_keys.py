"""API keys: shown once, stored hashed, scoped to a role, revocable, with last-used time."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import select

from support.http import bearer
from tradewarden.clock import ManualClock
from tradewarden.runtime import Runtime
from tradewarden.store import ApiKey


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], role: str = "viewer"
) -> dict[str, object]:
    response = await client.post(
        "/v1/admin/api-keys", json={"name": "bot-1", "role": role}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    created = await _create(client, admin_headers)
    key = str(created["key"])
    assert key.startswith("tw_")
    listed = (await client.get("/v1/admin/api-keys", headers=admin_headers)).json()
    assert key not in str(listed)
    async with runtime.database.session() as session:
        stored = (await session.scalars(select(ApiKey))).one()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in stored.key_hash


async def test_key_authenticates_with_its_role(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = str((await _create(client, admin_headers, role="operator"))["key"])
    me = await client.get("/v1/auth/me", headers=bearer(key))
    assert me.json() == {"kind": "api_key", "name": "bot-1", "role": "operator"}
    via_header = await client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert via_header.status_code == 200
    admin_only = await client.get("/v1/admin/users", headers=bearer(key))
    assert admin_only.status_code == 403


async def test_last_used_time_is_recorded(
    client: httpx.AsyncClient, admin_headers: dict[str, str], clock: ManualClock
) -> None:
    key = str((await _create(client, admin_headers))["key"])
    before = (await client.get("/v1/admin/api-keys", headers=admin_headers)).json()
    assert before[0]["last_used_at"] is None
    await client.get("/v1/auth/me", headers=bearer(key))
    after = (await client.get("/v1/admin/api-keys", headers=admin_headers)).json()
    assert after[0]["last_used_at"] is not None


async def test_revoked_key_gets_401(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await _create(client, admin_headers)
    key = str(created["key"])
    response = await client.delete(
        f"/v1/admin/api-keys/{created['id']}", params={"reason": "leaked"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    denied = await client.get("/v1/auth/me", headers=bearer(key))
    assert denied.status_code == 401
    assert denied.json()["error"]["message"] == "API key revoked"
    again = await client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin_headers)
    assert again.status_code == 404


async def test_wrong_secret_with_a_real_prefix_gets_401(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = str((await _create(client, admin_headers))["key"])
    forged = key[: key.rindex("_") + 1] + "x" * 43
    assert (await client.get("/v1/auth/me", headers=bearer(forged))).status_code == 401


async def test_revoked_keys_are_listed_on_request(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await _create(client, admin_headers)
    await client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin_headers)
    assert (await client.get("/v1/admin/api-keys", headers=admin_headers)).json() == []
    everything = await client.get(
        "/v1/admin/api-keys", params={"include_revoked": "true"}, headers=admin_headers
    )
    assert len(everything.json()) == 1


async def test_key_creation_validates_the_role(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/admin/api-keys", json={"name": "x", "role": "root"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.role"
