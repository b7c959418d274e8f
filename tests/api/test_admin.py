"""User administration and the audit log over the API."""

from __future__ import annotations

import httpx

from support.http import bearer, login


async def test_admin_creates_and_lists_users(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/admin/users",
        json={"username": "Olga", "password": "operator-password", "role": "operator"},
        headers=admin_headers,
    )
    assert response.status_code == 201
    assert response.json()["username"] == "olga"
    users = (await client.get("/v1/admin/users", headers=admin_headers)).json()
    assert [(u["username"], u["role"]) for u in users] == [("admin", "admin"), ("olga", "operator")]
    assert all("password_hash" not in user for user in users)
    await login(client, "olga", "operator-password")


async def test_duplicate_user_gets_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"username": "admin", "password": "another-password"}
    response = await client.post("/v1/admin/users", json=body, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


async def test_weak_password_is_refused_with_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"username": "pat", "password": "short"}
    response = await client.post("/v1/admin/users", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.password"
    users = (await client.get("/v1/admin/users", headers=admin_headers)).json()
    assert [u["username"] for u in users] == ["admin"]


async def test_bad_username_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"username": "no spaces", "password": "long-enough-password"}
    response = await client.post("/v1/admin/users", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.username"


async def test_patch_unknown_user_gets_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.patch(
        "/v1/admin/users/ghost", json={"role": "admin"}, headers=admin_headers
    )
    assert response.status_code == 404


async def test_patch_rejects_unknown_fields(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.patch(
        "/v1/admin/users/admin", json={"rolee": "viewer"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.rolee"


async def test_every_admin_action_is_audited_with_who_when_why(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post(
        "/v1/admin/users",
        json={"username": "vic", "password": "viewer-password1", "reason": "new analyst"},
        headers={**admin_headers, "X-Request-ID": "req-1"},
    )
    await client.patch(
        "/v1/admin/users/vic",
        json={"disabled": True, "reason": "left the team"},
        headers=admin_headers,
    )
    key = (
        await client.post(
            "/v1/admin/api-keys", json={"name": "bot", "role": "operator"}, headers=admin_headers
        )
    ).json()
    await client.delete(
        f"/v1/admin/api-keys/{key['id']}", params={"reason": "rotated"}, headers=admin_headers
    )
    everything = (await client.get("/v1/admin/audit", headers=admin_headers)).json()
    entries = [e for e in everything if e["actor"] == "admin"]
    actions = [(e["action"], e["actor"], e["target"], e["reason"]) for e in entries]
    assert actions == [
        ("apikey.revoke", "admin", f"{key['id']}:bot", "rotated"),
        ("apikey.create", "admin", f"{key['id']}:bot", None),
        ("user.update", "admin", "vic", "left the team"),
        ("user.create", "admin", "vic", "new analyst"),
    ]
    create = entries[-1]
    assert create["request_id"] == "req-1"
    assert create["source_ip"] == "127.0.0.1"
    assert create["outcome"] == "success"
    assert create["at"]
    assert entries[2]["details"] == {"disabled": True}
    assert key["key"] not in str(entries)


async def test_audit_log_filters_and_pages(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for name in ("k1", "k2", "k3"):
        await client.post("/v1/admin/api-keys", json={"name": name}, headers=admin_headers)
    first = (await client.get("/v1/admin/audit", params={"limit": 2}, headers=admin_headers)).json()
    assert [e["target"].split(":")[1] for e in first] == ["k3", "k2"]
    rest = (
        await client.get(
            "/v1/admin/audit",
            params={"before_id": first[-1]["id"], "action": "apikey.create"},
            headers=admin_headers,
        )
    ).json()
    assert [e["target"].split(":")[1] for e in rest] == ["k1"]
    only = await client.get(
        "/v1/admin/audit", params={"action": "user.create"}, headers=admin_headers
    )
    assert [e["target"] for e in only.json()] == ["admin"]


async def test_audit_log_is_admin_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (
        await client.post(
            "/v1/admin/api-keys", json={"name": "op", "role": "operator"}, headers=admin_headers
        )
    ).json()["key"]
    assert (await client.get("/v1/admin/audit", headers=bearer(key))).status_code == 403


async def test_audit_limit_is_validated(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/admin/audit", params={"limit": 0}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "query.limit"


async def test_a_refused_change_is_audited_as_denied(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = (
        await client.post("/v1/admin/api-keys", json={"name": "viewer-bot"}, headers=admin_headers)
    ).json()["key"]
    refused = await client.post(
        "/v1/admin/users",
        json={"username": "mallory", "password": "escalate-please"},
        headers=bearer(key),
    )
    assert refused.status_code == 403
    assert (await client.get("/v1/admin/users", headers=bearer(key))).status_code == 403
    denied = (
        await client.get(
            "/v1/admin/audit", params={"actor": "api_key:viewer-bot"}, headers=admin_headers
        )
    ).json()
    assert [(e["action"], e["outcome"], e["target"]) for e in denied] == [
        ("POST /v1/admin/users", "denied", "/v1/admin/users")
    ]
