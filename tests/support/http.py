"""HTTP helpers for API tests."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["bearer", "login"]


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, Any]:
    """Log in and return the token response body (asserting success)."""
    response = await client.post(
        "/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
