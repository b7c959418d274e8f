"""Another bot process: one breaker attached to Redis, driven line by line on stdin.

    python _peer.py URL NAME CHANNEL POLL_S

Commands: ``fail``, ``ok``, ``force_open``, ``reset``, ``state``, ``quit``; each answers one
line on stdout: the breaker's state after the command.
"""

from __future__ import annotations

import contextlib
import sys

from tradewarden.guard.breaker import CircuitBreaker, CircuitOpenError, RedisBreakerSync


class PeerError(Exception):
    """The failure this process's calls raise."""


def main() -> None:
    url, name, channel, poll_s = sys.argv[1:5]
    breaker = CircuitBreaker(name)
    with RedisBreakerSync(url, channel=channel, poll_interval_s=float(poll_s)) as sync:
        sync.attach(breaker)
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command in ("fail", "ok"):
                with contextlib.suppress(PeerError, CircuitOpenError):
                    breaker.call(_outcome, command)
            elif command in ("force_open", "reset"):
                getattr(breaker, command)()
            print(breaker.state.value, flush=True)


def _outcome(command: str) -> None:
    if command == "fail":
        raise PeerError


if __name__ == "__main__":
    main()
