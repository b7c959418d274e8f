"""``tradewarden user ...`` and ``tradewarden apikey ...``: account administration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tradewarden.auth import IssuedApiKey, Role, generate_password
from tradewarden.cli._context import (
    ConfigOption,
    cli_principal,
    console,
    fail,
    load,
    run_with_runtime,
)
from tradewarden.runtime import Runtime
from tradewarden.store import ApiKey, AuditRecord, User

__all__ = ["apikey_app", "user_app"]

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
apikey_app = typer.Typer(help="Manage API keys for bots and scripts.", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option(help="viewer, operator or admin.")]
ReasonOption = Annotated[str | None, typer.Option(help="Why: written to the audit log.")]


def _role(name: str) -> Role:
    try:
        return Role.parse(name)
    except ValueError as exc:
        raise fail(f"--role: {exc}") from None


def _password(explicit_file: Path | None, *, generate: bool) -> tuple[str, bool]:
    """Return (password, generated): from --password-file, $TRADEWARDEN_PASSWORD, a prompt."""
    if explicit_file is not None:
        try:
            return explicit_file.read_text(encoding="utf-8").strip(), False
        except OSError as exc:
            raise fail(f"--password-file: cannot read {explicit_file}: {exc.strerror}") from None
    from_env = os.environ.get("TRADEWARDEN_PASSWORD")
    if from_env:
        return from_env, False
    if generate:
        return generate_password(), True
    return typer.prompt("password", hide_input=True, confirmation_prompt=True), False


def _audit(reason: str | None) -> AuditRecord:
    return AuditRecord(actor="", actor_type="cli", action="", outcome="success", reason=reason)


@user_app.command("create")
def user_create(
    username: str,
    role: RoleOption = "viewer",
    password_file: Annotated[
        Path | None, typer.Option(help="Read the password from a file.")
    ] = None,
    generate: Annotated[bool, typer.Option(help="Generate a password and print it once.")] = False,
    reason: ReasonOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a user (password from --password-file, $TRADEWARDEN_PASSWORD, or a prompt)."""
    loaded = load(config)
    chosen = _role(role)
    password, generated = _password(password_file, generate=generate)

    async def _create(runtime: Runtime) -> User:
        return await runtime.auth.create_user(
            username,
            password,
            chosen,
            actor=cli_principal(),
            audit=_audit(reason),
            must_change_password=generated,
        )

    user = run_with_runtime(loaded, _create)
    console.print(f"created user {user.username!r} with role {user.role}")
    if generated:
        console.print(f"one-time password (shown only now): {password}")


@user_app.command("list")
def user_list(config: ConfigOption = None) -> None:
    """List users."""
    loaded = load(config)

    async def _list(runtime: Runtime) -> list[User]:
        return await runtime.auth.list_users()

    table = Table("username", "role", "disabled", "created", "last login")
    for user in run_with_runtime(loaded, _list):
        table.add_row(
            user.username,
            user.role,
            "yes" if user.disabled else "no",
            user.created_at.isoformat(timespec="seconds"),
            user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "",
        )
    console.print(table)


def _update(config: Path | None, username: str, reason: str | None, **changes: object) -> User:
    loaded = load(config)

    async def _apply(runtime: Runtime) -> User:
        return await runtime.auth.update_user(
            username,
            actor=cli_principal(),
            audit=_audit(reason),
            **changes,  # type: ignore[arg-type]
        )

    return run_with_runtime(loaded, _apply)


@user_app.command("disable")
def user_disable(username: str, reason: ReasonOption = None, config: ConfigOption = None) -> None:
    """Disable a user: logins fail and every session ends at once."""
    user = _update(config, username, reason, disabled=True)
    console.print(f"disabled user {user.username!r}")


@user_app.command("enable")
def user_enable(username: str, reason: ReasonOption = None, config: ConfigOption = None) -> None:
    """Enable a disabled user."""
    user = _update(config, username, reason, disabled=False)
    console.print(f"enabled user {user.username!r}")


@user_app.command("set-role")
def user_set_role(
    username: str,
    role: Annotated[str, typer.Argument(help="viewer, operator or admin.")],
    reason: ReasonOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a user's role (takes effect on their next request)."""
    user = _update(config, username, reason, role=_role(role))
    console.print(f"user {user.username!r} now has role {user.role}")


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_file: Annotated[
        Path | None, typer.Option(help="Read the password from a file.")
    ] = None,
    reason: ReasonOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a user's password (ends their sessions)."""
    password, _ = _password(password_file, generate=False)
    user = _update(config, username, reason, password=password)
    console.print(f"password of {user.username!r} changed")


@apikey_app.command("create")
def apikey_create(
    name: str, role: RoleOption = "viewer", reason: ReasonOption = None, config: ConfigOption = None
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    loaded = load(config)
    chosen = _role(role)

    async def _create(runtime: Runtime) -> IssuedApiKey:
        return await runtime.auth.create_api_key(
            name, chosen, actor=cli_principal(), audit=_audit(reason)
        )

    issued = run_with_runtime(loaded, _create)
    console.print(f"created API key {issued.id} {issued.name!r} with role {issued.role.label}")
    console.print("key (shown only now):")
    # The bare key on its own line, so scripts can capture it with `tail -1`.
    console.print(issued.key, soft_wrap=True)


@apikey_app.command("list")
def apikey_list(
    include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
    config: ConfigOption = None,
) -> None:
    """List API keys (never their secrets)."""
    loaded = load(config)

    async def _list(runtime: Runtime) -> list[ApiKey]:
        return await runtime.auth.list_api_keys(include_revoked=include_revoked)

    table = Table("id", "name", "prefix", "role", "created by", "last used", "revoked")
    for key in run_with_runtime(loaded, _list):
        table.add_row(
            str(key.id),
            key.name,
            f"tw_{key.prefix}_…",
            key.role,
            key.created_by,
            key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never",
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: int, reason: ReasonOption = None, config: ConfigOption = None) -> None:
    """Revoke an API key; it stops working at once."""
    loaded = load(config)

    async def _revoke(runtime: Runtime) -> ApiKey:
        return await runtime.auth.revoke_api_key(
            key_id, actor=cli_principal(), audit=_audit(reason)
        )

    key = run_with_runtime(loaded, _revoke)
    console.print(f"revoked API key {key.id} {key.name!r}")
