"""What every command needs: settings, the config file, a runtime, and clean failures."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from tradewarden.auth import Principal, Role
from tradewarden.config import ServiceConfig, Settings, load_config_file, load_settings
from tradewarden.errors import ConfigError, TradewardenError
from tradewarden.runtime import Runtime

__all__ = [
    "ApiKeyOption",
    "ConfigOption",
    "Loaded",
    "UrlOption",
    "call_warden",
    "cli_principal",
    "console",
    "err_console",
    "fail",
    "load",
    "run_with_runtime",
]

T = TypeVar("T")
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $TRADEWARDEN_CONFIG, ./tradewarden.yaml)."
    ),
]
DEFAULT_CONFIG = Path("tradewarden.yaml")
UrlOption = Annotated[str | None, typer.Option(help="Warden base URL (default: from the config).")]
ApiKeyOption = Annotated[
    str | None, typer.Option(envvar="TRADEWARDEN_API_KEY", help="API key (operator role).")
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class Loaded:
    """Settings and config file, validated."""

    settings: Settings
    config: ServiceConfig
    config_path: Path | None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def resolve_config_path(explicit: Path | None, settings: Settings) -> Path | None:
    """Return --config, else TRADEWARDEN_CONFIG, else ./tradewarden.yaml when present."""
    if explicit is not None:
        return explicit
    if settings.config_file is not None:
        return settings.config_file
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load(config: Path | None) -> Loaded:
    """Validate the environment and the config file; exit 2 with the problem on error."""
    try:
        settings = load_settings()
        path = resolve_config_path(config, settings)
        return Loaded(settings, load_config_file(path), path)
    except ConfigError as exc:
        raise fail(exc.message, ConfigError.exit_code) from None


def cli_principal() -> Principal:
    """Return the principal that CLI actions are audited as (``cli:<os user>``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(kind="cli", id=0, name=user, role=Role.ADMIN)


def run_with_runtime(loaded: Loaded, action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Start a runtime (migrated, no first-admin bootstrap, no Redis), run ``action``, close."""

    async def _main() -> T:
        runtime = Runtime(loaded.settings, loaded.config)
        try:
            await runtime.start(bootstrap_admin=False, connect_redis=False)
            return await action(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(_main())
    except TradewardenError as exc:
        raise fail(exc.message) from None
    except ValueError as exc:
        raise fail(str(exc)) from None


def call_warden(
    method: str,
    path: str,
    loaded: Loaded,
    url: str | None,
    api_key: str | None,
    *,
    body: Any = None,
    params: dict[str, str] | None = None,
    answer_503: bool = False,
) -> Any:
    """Call a running warden's API and return its JSON (None for a 204); exit with one
    line on any failure. With ``answer_503`` a 503's body is returned instead (``/status``
    answers 503 with the report of what is down)."""
    key = api_key or _key_from_file()
    base = url or f"http://{loaded.config.server.host}:{loaded.config.server.port}"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.request(
            method,
            f"{base.rstrip('/')}{path}",
            headers=headers,
            json=body,
            params=params,
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the warden at {base}: {exc}") from None
    if response.status_code in {401, 403}:
        raise fail(f"the warden refused the request ({response.status_code}): set --api-key")
    if response.status_code == 204:
        return None
    try:
        payload = response.json()
    except ValueError:
        raise fail(f"the warden answered {response.status_code} without JSON") from None
    if response.status_code >= 400 and not (answer_503 and response.status_code == 503):
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        message = error.get("message", response.text)
        fields = "; ".join(
            f"{item['field']}: {item['message']}" for item in error.get("fields", [])
        )
        raise fail(f"the warden answered {response.status_code}: {fields or message}")
    return payload


def ask_warden(
    method: str,
    path: str,
    config: Path | None,
    url: str | None,
    api_key: str | None,
    *,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> Any:
    """``call_warden`` with the config file read here (the commands' usual shape)."""
    return call_warden(method, path, load(config), url, api_key, body=body, params=params)


def _key_from_file() -> str | None:
    path = os.environ.get("TRADEWARDEN_API_KEY_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise fail(f"TRADEWARDEN_API_KEY_FILE: cannot read {path}: {exc.strerror}") from None
