"""A private, throwaway PostgreSQL server for tests that stop and restart the database.

The shared cluster on 127.0.0.1:5432 must never be stopped by a test: other tests (and other
engineers) use it. Tests that need PostgreSQL to go away and come back, such as a readiness
check turning 503 and then 200 again, run their own server instead::

    base_dir = make_base_dir()
    with PostgresServer(base_dir) as server:  # initdb + start
        ...  # connect to server.dsn or server.url("postgres")
        server.stop()
        ...  # connections now fail
        server.start()  # same port, same data
    shutil.rmtree(base_dir)

initdb, pg_ctl and postgres refuse to run as root. When the test process is root, every
server-side command runs through ``runuser -u postgres --``, and ``base_dir`` is handed to the
postgres user. That user must be able to reach ``base_dir``: pytest's ``tmp_path`` lives under
``/tmp/pytest-of-root/`` (mode 700), so use ``make_base_dir()``, which creates a 0o755
directory directly under the system temp dir.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from support.net import free_port

__all__ = ["PostgresServer", "PostgresServerError", "find_bindir", "free_port", "make_base_dir"]

StopMode = Literal["smart", "fast", "immediate"]

_SERVER_USER = "postgres"
_HOST = "127.0.0.1"
_LOG_TAIL_LINES = 40
# pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
_PG_CTL_NOT_RUNNING = {3, 4}


class PostgresServerError(RuntimeError):
    """The private server could not be initialised, started or stopped."""


def find_bindir() -> Path:
    """Return the directory holding initdb, pg_ctl and postgres.

    ``pg_config --bindir`` wins when it names a directory with initdb in it; on Debian it may
    belong to a client-only package, so fall back to the newest /usr/lib/postgresql/*/bin.
    """
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            bindir = Path(result.stdout.strip())
            if (bindir / "initdb").is_file():
                return bindir

    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if re.fullmatch(r"\d+(\.\d+)?", path.parent.parent.name)
    ]
    if not candidates:
        raise PostgresServerError(
            "PostgreSQL server binaries not found: pg_config --bindir has no initdb and "
            "/usr/lib/postgresql/*/bin is empty"
        )
    return max(candidates, key=lambda bindir: float(bindir.parent.name))


def make_base_dir(prefix: str = "tw-pg-") -> Path:
    """Create a base directory the postgres user can reach, even when we run as root."""
    base_dir = Path(tempfile.mkdtemp(prefix=prefix))
    base_dir.chmod(0o755)
    return base_dir


class PostgresServer:
    """One PostgreSQL server with its own data directory, socket directory and port.

    Layout under ``base_dir``: ``data/`` (the cluster), ``socket/`` (its Unix socket) and
    ``postgres.log`` (the server log). The port is chosen once, so a restarted server is
    reachable at the same ``dsn``.
    """

    def __init__(self, base_dir: Path, port: int | None = None) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.port = port if port is not None else free_port()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_file = self.base_dir / "postgres.log"
        self.bindir = find_bindir()
        self._as_root = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        """Return the libpq/asyncpg DSN of the ``postgres`` database."""
        return f"postgresql://postgres@{_HOST}:{self.port}/postgres"

    def url(self, dbname: str = "postgres") -> str:
        """Return a SQLAlchemy URL for ``dbname`` using the asyncpg driver."""
        return f"postgresql+asyncpg://postgres@{_HOST}:{self.port}/{dbname}"

    @property
    def initialised(self) -> bool:
        """Return whether ``init()`` has created the cluster."""
        return (self.data_dir / "PG_VERSION").is_file()

    @property
    def running(self) -> bool:
        """Return whether a postmaster runs on the data directory."""
        if not self.initialised:
            return False
        result = self._run_server_command([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)])
        if result.returncode == 0:
            return True
        if result.returncode in _PG_CTL_NOT_RUNNING:
            return False
        raise self._error("pg_ctl status failed", result)

    def init(self) -> None:
        """Create the cluster in ``base_dir/data``: trust auth, user postgres, C locale, UTF8."""
        if self.initialised:
            raise PostgresServerError(f"{self.data_dir} already holds a cluster")
        self._prepare_base_dir()
        result = self._run_server_command(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--locale=C",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            timeout_s=120,
        )
        if result.returncode != 0:
            raise self._error("initdb failed", result)

    def start(self, timeout_s: float = 60) -> None:
        """Start the server and return once it accepts connections on ``port``."""
        if not self.initialised:
            raise PostgresServerError(f"{self.data_dir} holds no cluster: call init() first")
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {shlex.quote(str(self.socket_dir))}",
                f"-c listen_addresses={_HOST}",
                # Throwaway data: durability only costs time.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        result = self._run_server_command(
            [
                self._bin("pg_ctl"),
                "start",
                "-w",
                "-t",
                str(max(1, round(timeout_s))),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
            ],
            timeout_s=timeout_s + 10,
        )
        if result.returncode != 0:
            raise self._error(f"pg_ctl start failed on port {self.port}", result)
        self._wait_until_ready(timeout_s)

    def stop(self, mode: StopMode = "fast", timeout_s: float = 60) -> None:
        """Stop the server and wait until it has exited; do nothing if it is not running."""
        if not self.running:
            return
        result = self._run_server_command(
            [
                self._bin("pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(max(1, round(timeout_s))),
            ],
            timeout_s=timeout_s + 10,
        )
        if result.returncode != 0:
            raise self._error(f"pg_ctl stop -m {mode} failed", result)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server log, or a note if there is none."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log at {self.log_file}: {exc.strerror})"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        """Initialise the cluster if needed and start the server."""
        if not self.initialised:
            self.init()
        try:
            self.start()
        except BaseException:
            self._stop_hard()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server, whatever happened inside the block."""
        self._stop_hard()

    def _stop_hard(self) -> None:
        try:
            self.stop("fast")
        except PostgresServerError:
            # A server that ignores a fast shutdown must still not outlive the test run.
            self.stop("immediate")

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _prepare_base_dir(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if not self._as_root:
            return
        user = _server_user()
        self._check_reachable(user)
        for path in (self.base_dir, self.socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
            path.chmod(0o755)

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        groups = {user.pw_gid} | {
            entry.gr_gid for entry in grp.getgrall() if user.pw_name in entry.gr_mem
        }
        for directory in self.base_dir.parents:
            info = directory.stat()
            if info.st_uid == user.pw_uid:
                allowed = info.st_mode & stat.S_IXUSR
            elif info.st_gid in groups:
                allowed = info.st_mode & stat.S_IXGRP
            else:
                allowed = info.st_mode & stat.S_IXOTH
            if not allowed:
                raise PostgresServerError(
                    f"the {user.pw_name} user cannot reach {self.base_dir}: {directory} has "
                    f"mode {stat.filemode(info.st_mode)}; use make_base_dir() instead of "
                    "pytest's tmp_path"
                )

    def _run_server_command(
        self, argv: Sequence[str], *, timeout_s: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a server-side command, as the postgres user when we are root."""
        command = ["runuser", "-u", _SERVER_USER, "--", *argv] if self._as_root else list(argv)
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout_s,
                # The postgres user may not be allowed into our working directory.
                cwd=self.base_dir,
                env=_server_env(),
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresServerError(
                f"{shlex.join(command)} did not complete: {exc}\n"
                f"--- server log ({self.log_file}) ---\n{self.log_tail()}"
            ) from exc

    def _wait_until_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        command = [
            self._bin("pg_isready"),
            "-q",
            "-h",
            _HOST,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]
        while True:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=10
            )
            if result.returncode == 0:
                return
            if time.monotonic() >= deadline:
                raise self._error(
                    f"server on {_HOST}:{self.port} did not accept connections within "
                    f"{timeout_s:g} s",
                    result,
                )
            time.sleep(0.05)

    def _error(self, message: str, result: subprocess.CompletedProcess[str]) -> PostgresServerError:
        output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part)
        return PostgresServerError(
            f"{message} (exit {result.returncode}): {shlex.join(map(str, result.args))}\n"
            f"{output}\n--- server log ({self.log_file}) ---\n{self.log_tail()}"
        )


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_SERVER_USER)
    except KeyError:
        raise PostgresServerError(
            f"running as root, but there is no {_SERVER_USER!r} user to run PostgreSQL as"
        ) from None


def _server_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, PGHOST, ...) from the caller would redirect the tools.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env
