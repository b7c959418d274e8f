"""A private, throwaway redis-server for tests that stop and restart Redis.

A shared Redis must never be stopped by a test. Tests that need Redis to go away and come
back run their own server on a free 127.0.0.1 port, with no persistence::

    with RedisServer(tmp_path) as server:  # start, wait for PING
        ...  # connect to server.url
        server.stop()
        ...  # connections now fail
        server.start()  # same port, empty data

``stop()`` and ``start()`` block for the few milliseconds the process needs; they are safe
to call from async tests.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from support.net import free_port

__all__ = ["REDIS_SERVER_BINARY", "RedisServer", "RedisServerError", "free_port"]

REDIS_SERVER_BINARY = Path("/usr/bin/redis-server")

_HOST = "127.0.0.1"
_LOG_TAIL_LINES = 40


class RedisServerError(RuntimeError):
    """The private server could not be started or stopped."""


class RedisServer:
    """One redis-server process on a fixed port, in its own directory, restartable.

    The port is chosen once, so a restarted server is reachable at the same ``url``.
    ``password`` turns on ``--requirepass``.
    """

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        port: int | None = None,
        password: str | None = None,
        binary: Path = REDIS_SERVER_BINARY,
    ) -> None:
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if base_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="tw-redis-")
            base_dir = Path(self._own_dir.name)
        self.base_dir = Path(base_dir).resolve()
        self.port = port if port is not None else free_port()
        self.password = password
        self.binary = binary
        self.log_file = self.base_dir / f"redis-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def url(self, *, password: str | None = None, db: int = 0) -> str:
        """Return a redis:// URL; ``password`` defaults to the server's own."""
        secret = password if password is not None else self.password
        auth = f":{secret}@" if secret else ""
        return f"redis://{auth}{_HOST}:{self.port}/{db}"

    @property
    def running(self) -> bool:
        """Return whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and return once it answers PING on ``port``."""
        if self.running:
            return
        if not self.binary.is_file():
            raise RedisServerError(
                f"{self.binary} not found: install redis-server (apt-get install redis-server)"
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            _HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.base_dir),
        ]
        if self.password:
            argv += ["--requirepass", self.password]
        self._close_log()
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
        )
        try:
            self._wait_until_answering(timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server and wait until it has exited; do nothing if not running."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()

    def close(self) -> None:
        """Stop the server and remove a directory this object created."""
        self.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server log, or a note if there is none."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log at {self.log_file}: {exc.strerror})"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        """Start the server."""
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server, whatever happened inside the block."""
        self.close()

    def _wait_until_answering(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process is None or self._process.poll() is not None:
                raise RedisServerError(
                    f"redis-server on {_HOST}:{self.port} exited during start-up\n"
                    f"--- server log ({self.log_file}) ---\n{self.log_tail()}"
                )
            if self._answers_ping():
                return
            if time.monotonic() >= deadline:
                raise RedisServerError(
                    f"redis-server on {_HOST}:{self.port} did not answer PING within "
                    f"{timeout_s:g} s\n--- server log ({self.log_file}) ---\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def _answers_ping(self) -> bool:
        """Send PING; any RESP reply (+PONG, or -NOAUTH with requirepass) means it is up."""
        try:
            with socket.create_connection((_HOST, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
