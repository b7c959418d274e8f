"""``http``: a GET (or HEAD) of an endpoint; its status and body (JSON or text, cut)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from tradewarden.runbooks._model import HttpStep
from tradewarden.runbooks._steps._base import Outcome, StepContext
from tradewarden.runbooks._templates import render
from tradewarden.telemetry import redact_text, redact_url

__all__ = ["MAX_BODY_BYTES", "run"]

# The body read at most; a health page or a stats JSON fits many times over.
MAX_BODY_BYTES = 64 * 1024


def _headers(step: HttpStep) -> dict[str, str]:
    headers = {"User-Agent": "tradewarden-runbook"}
    for name, env in step.headers_env.items():
        value = os.environ.get(env, "")
        if not value:
            raise ValueError(f"headers_env: environment variable {env} ({name}) is not set")
        headers[name] = value
    return headers


def _body(raw: bytes, content_type: str, truncated: bool) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type and not truncated:
        try:
            return json.loads(text)
        except ValueError:
            pass
    # Not passed through redact_text: its patterns take quadratic time on long unbroken
    # runs (8 s for 16 KiB of one word); the URL and every error are redacted.
    return text


async def _fetch(
    client: httpx.AsyncClient, step: HttpStep, url: str, timeout_s: float
) -> tuple[httpx.Response, bytes, bool]:
    request = client.build_request(step.method, url, headers=_headers(step), timeout=timeout_s)
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        raw = bytearray()
        async for chunk in response.aiter_bytes():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                return response, bytes(raw[:MAX_BODY_BYTES]), True
        return response, bytes(raw), False
    finally:
        await response.aclose()


async def run(
    step: HttpStep, ctx: StepContext, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> Outcome:
    """Read the endpoint; a status of 400 or more is ``failed`` (the body is kept)."""
    url = render(step.url, labels, annotations)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url {redact_url(url)} is not an http:// or https:// URL")
    shown = redact_url(url)
    try:
        if ctx.http is not None:
            response, raw, truncated = await _fetch(ctx.http, step, url, ctx.timeout_s)
        else:
            async with httpx.AsyncClient() as client:
                response, raw, truncated = await _fetch(client, step, url, ctx.timeout_s)
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"{step.method} {shown}: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        return Outcome("failed", {"url": shown}, redact_text(f"{step.method} {shown}: {exc}"))
    content_type = response.headers.get("content-type", "")
    output = {
        "url": shown,
        "method": step.method,
        "status": response.status_code,
        "content_type": content_type,
        "body": _body(raw, content_type, truncated) if step.method == "GET" else None,
        "body_truncated": truncated,
    }
    if response.status_code >= 400:
        return Outcome("failed", output, f"HTTP {response.status_code}")
    return Outcome("ok", output)
