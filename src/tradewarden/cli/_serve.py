"""``tradewarden up``: configure telemetry, start the runtime, serve the API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn

from tradewarden.api import create_app
from tradewarden.cli._context import Loaded, fail
from tradewarden.cli._gc import collect_periodically, defer_full_passes
from tradewarden.errors import ConfigError, TradewardenError
from tradewarden.runtime import Runtime, print_first_admin
from tradewarden.telemetry import (
    configure_logging,
    get_logger,
    instrument_app,
    instrument_engine,
    instrument_httpx,
    instrument_redis,
    resolve_log_format,
    setup_sentry,
    setup_tracing,
    shutdown_sentry,
    shutdown_tracing,
)

__all__ = ["serve"]


def serve(loaded: Loaded, *, host: str | None, port: int | None) -> None:
    """Run the warden until interrupted; a start-up failure is one line and exit 1."""
    settings = loaded.settings
    configure_logging(
        settings.log_level,
        resolve_log_format(settings.log_format, settings.environment, sys.stderr.isatty()),
    )
    log = get_logger("tradewarden")
    setup_sentry(settings)
    provider = setup_tracing(settings)
    listen_host = host or settings.host or loaded.config.server.host
    listen_port = port or settings.port or loaded.config.server.port
    # The address it listens on is the one it names itself by (the self-scrape's
    # instance, ack links), whether it came from the file, the env or the command line.
    server_section = loaded.config.server.model_copy(
        update={"host": listen_host, "port": listen_port}
    )
    config = loaded.config.model_copy(update={"server": server_section})
    runtime = Runtime(settings, config, config_path=loaded.config_path)
    app = create_app(runtime, manage_runtime=False)
    if provider is not None:
        instrument_app(app, provider)
        instrument_engine(runtime.database.engine, provider)
        instrument_redis(provider)
        instrument_httpx(None, provider)
    server = _Server(
        uvicorn.Config(
            app,
            host=listen_host,
            port=listen_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            proxy_headers=False,
        )
    )

    async def _main() -> None:
        try:
            await runtime.start(announce=print_first_admin, run_probes=True)
        except TradewardenError as exc:
            await runtime.close()
            raise fail(f"cannot start: {exc.message}") from None
        except OSError as exc:
            await runtime.close()
            raise fail(f"cannot start: {exc}") from None
        log.info(
            "tradewarden started",
            url=f"http://{listen_host}:{listen_port}",
            database=runtime.database.display_url,
            config=str(loaded.config_path) if loaded.config_path else "defaults",
        )
        _reload_on_sighup(runtime, log)
        defer_full_passes()
        collector = asyncio.create_task(collect_periodically(), name="gc-full-passes")
        try:
            await server.serve()
        finally:
            collector.cancel()
            await runtime.close()
            if provider is not None:
                shutdown_tracing(provider)
            shutdown_sentry()
        if not server.started:
            raise fail(f"could not listen on {listen_host}:{listen_port}")

    _run(_main)


def _reload_on_sighup(runtime: Runtime, log: Any) -> None:
    """Reload the monitors and the alerting sections from the config file on SIGHUP
    (``kill -HUP``)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    async def _reload() -> None:
        try:
            reloaded = await runtime.reload_config()
        except ConfigError as exc:
            log.warning("reload refused: the config file is invalid", error=exc.message)
            return
        summary = reloaded.monitors
        log.info(
            "config reloaded",
            added=list(summary.added),
            removed=list(summary.removed),
            changed=list(summary.changed),
            alerting_changed=list(reloaded.alerting.changed),
            next_start=list(reloaded.next_start),
        )

    def _on_signal() -> None:
        task = loop.create_task(_reload())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, _on_signal)


class _Server(uvicorn.Server):
    """Uvicorn's server, exiting 0 after a graceful SIGTERM/SIGINT shutdown.

    Uvicorn re-raises the captured signal after shutting down, so the process dies "by
    signal" (exit -15); service managers and scripts read that as a crash.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
