"""``http``: a GET (or HEAD) of an endpoint; its status and body (JSON or text, cut)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from tradewarden.runbooks._model import HttpStep
from tradewarden.runbooks._steps._base import Outcome, StepContext, StepSkipped
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
    text = redact_text(raw.decode("utf-8", errors="replace"))
    if "json" in content_type and not truncated:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


# The URL's authority (scheme://host:port) as written, before rendering.
_AUTHORITY_RE = re.compile(r"^[a-z]+://[^/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _address(url: str) -> tuple[str, str]:
    """Return the URL's host and ``host:port`` (the scheme's port when none is given)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    shown = f"[{host}]" if ":" in host else host
    return host, f"{shown}:{port}"


def _known(ctx: StepContext) -> set[str]:
    known = set(ctx.targets)
    for spec in ctx.monitors.values():
        monitor_url = getattr(spec, "url", None)
        if isinstance(monitor_url, str):
            known.add(_address(monitor_url)[1])
    return {k.lower() for k in known}


def _check_host(step: HttpStep, url: str, ctx: StepContext) -> None:
    """An alert's labels may pick the path, never an unknown host.

    Whoever can post an alert chooses its labels, and the answer lands on the incident's
    timeline: a host rendered from a label must be a scrape target, an http monitor's host
    or listed in ``runbooks.http_hosts``.
    """
    written = _AUTHORITY_RE.match(step.url)
    if written is None or ("{{" not in written[0] and "{%" not in written[0]):
        return
    host, address = _address(url)
    allowed = set(ctx.config.http_hosts)
    if host in allowed or address in allowed or address in _known(ctx):
        return
    raise StepSkipped(
        f"host {address} comes from the alert's labels and is not a scrape target, an http"
        " monitor's host or in runbooks.http_hosts"
    )


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
    _check_host(step, url, ctx)
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
