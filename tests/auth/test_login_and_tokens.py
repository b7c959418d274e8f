"""Login, access tokens, refresh tokens and every way authentication fails."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
import pytest

from support.http import bearer, login
from tradewarden.auth import Role
from tradewarden.clock import ManualClock
from tradewarden.runtime import SYSTEM, Runtime

PASSWORD = "correct horse battery"


async def _user(runtime: Runtime, name: str, role: Role) -> None:
    await runtime.auth.create_user(name, PASSWORD, role, actor=SYSTEM)


async def test_login_returns_access_and_refresh_tokens(client: httpx.AsyncClient) -> None:
    body = await login(client, "admin", "admin-password-for-tests")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    me = await client.get("/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json() == {"kind": "user", "name": "admin", "role": "admin"}


async def test_username_is_case_insensitive(client: httpx.AsyncClient) -> None:
    await login(client, "ADMIN", "admin-password-for-tests")


@pytest.mark.parametrize(
    ("username", "password"), [("admin", "wrong-password"), ("nobody", "whatever-password")]
)
async def test_wrong_credentials_get_the_same_401(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await client.post(
        "/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "unauthorized",
        "message": "invalid username or password",
    }
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_disabled_user_cannot_log_in(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _user(runtime, "bob", Role.VIEWER)
    await runtime.auth.update_user("bob", actor=SYSTEM, disabled=True)
    response = await client.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 401


async def test_missing_credentials_get_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "authentication required"


async def test_non_bearer_scheme_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert response.status_code == 401


async def test_expired_access_token_gets_401(client: httpx.AsyncClient, clock: ManualClock) -> None:
    body = await login(client, "admin", "admin-password-for-tests")
    clock.advance(15 * 60 + 1)
    response = await client.get("/v1/auth/me", headers=bearer(body["access_token"]))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "access token expired"


async def test_token_still_valid_just_before_expiry(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = await login(client, "admin", "admin-password-for-tests")
    clock.advance(15 * 60 - 1)
    response = await client.get("/v1/auth/me", headers=bearer(body["access_token"]))
    assert response.status_code == 200


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_tampered_token_gets_401(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _user(runtime, "viewer1", Role.VIEWER)
    body = await login(client, "viewer1", PASSWORD)
    header, payload, signature = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = f"{header}.{_b64(claims)}.{signature}"
    response = await client.get("/v1/admin/users", headers=bearer(forged))
    assert response.status_code == 401


def _admin_claims(clock: ManualClock) -> dict[str, object]:
    now = int(clock.now())
    return {
        "iss": "tradewarden",
        "sub": "1",
        "name": "admin",
        "role": "admin",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
    }


async def test_alg_none_token_gets_401(client: httpx.AsyncClient, clock: ManualClock) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_admin_claims(clock))}."
    response = await client.get("/v1/auth/me", headers=bearer(unsigned))
    assert response.status_code == 401


async def test_token_signed_with_another_key_gets_401(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    key = "another-key-that-is-long-enough-to-sign"
    token = jwt.encode(_admin_claims(clock), key, algorithm="HS256")
    response = await client.get("/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401


async def test_garbage_token_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me", headers=bearer("not.a.token"))
    assert response.status_code == 401


async def test_access_token_of_disabled_user_stops_working(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _user(runtime, "carol", Role.OPERATOR)
    body = await login(client, "carol", PASSWORD)
    await runtime.auth.update_user("carol", actor=SYSTEM, disabled=True)
    response = await client.get("/v1/auth/me", headers=bearer(body["access_token"]))
    assert response.status_code == 401


async def test_refresh_rotates_and_old_token_stops_working(client: httpx.AsyncClient) -> None:
    first = await login(client, "admin", "admin-password-for-tests")
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get("/v1/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401


async def test_replayed_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient,
) -> None:
    first = await login(client, "admin", "admin-password-for-tests")
    second = (
        await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    after_theft = await client.post(
        "/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert after_theft.status_code == 401


async def test_expired_refresh_token_gets_401(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = await login(client, "admin", "admin-password-for-tests")
    clock.advance(30 * 24 * 3600 + 1)
    response = await client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "refresh token expired"


async def test_unknown_refresh_token_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    body = await login(client, "admin", "admin-password-for-tests")
    response = await client.post("/v1/auth/logout", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 204
    again = await client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 401


async def test_disabling_a_user_revokes_refresh_tokens(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _user(runtime, "dave", Role.VIEWER)
    body = await login(client, "dave", PASSWORD)
    await runtime.auth.update_user("dave", actor=SYSTEM, disabled=True)
    await runtime.auth.update_user("dave", actor=SYSTEM, disabled=False)
    response = await client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401


async def test_role_too_low_gets_403(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _user(runtime, "olga", Role.OPERATOR)
    body = await login(client, "olga", PASSWORD)
    response = await client.get("/v1/admin/users", headers=bearer(body["access_token"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the admin role"


async def test_demotion_takes_effect_before_the_token_expires(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _user(runtime, "eve", Role.ADMIN)
    body = await login(client, "eve", PASSWORD)
    assert (
        await client.get("/v1/admin/users", headers=bearer(body["access_token"]))
    ).status_code == 200
    await runtime.auth.update_user("eve", actor=SYSTEM, role=Role.VIEWER)
    response = await client.get("/v1/admin/users", headers=bearer(body["access_token"]))
    assert response.status_code == 403


async def test_change_own_password(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _user(runtime, "frank", Role.VIEWER)
    body = await login(client, "frank", PASSWORD)
    response = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a much better password"},
        headers=bearer(body["access_token"]),
    )
    assert response.status_code == 204
    await login(client, "frank", "a much better password")
    old = await client.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert old.status_code == 401


async def test_change_password_rejects_weak_new_password(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _user(runtime, "gina", Role.VIEWER)
    body = await login(client, "gina", PASSWORD)
    response = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(body["access_token"]),
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.new_password"


async def test_change_password_needs_the_current_one(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _user(runtime, "hank", Role.VIEWER)
    body = await login(client, "hank", PASSWORD)
    response = await client.post(
        "/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "a much better password"},
        headers=bearer(body["access_token"]),
    )
    assert response.status_code == 401
