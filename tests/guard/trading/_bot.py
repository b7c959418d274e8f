"""A stand-in bot process for the multi-process tests: ``python _bot.py ACTION BACKEND``.

BACKEND is ``sqlite:<path>`` or ``redis:<url>|<prefix>``. ACTION is ``halt`` (store a halt,
exit), ``state`` (print the state it starts in and whether the store was readable), or
``watch:<file>`` (keep ``<file>`` holding "STATE VERSION" until stdin closes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tradewarden.guard.state import (
    RedisBackend,
    SQLiteBackend,
    StateBackend,
    StateChange,
    TradingState,
)
from tradewarden.guard.trading import KillSwitch


def backend_from(spec: str) -> StateBackend:
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteBackend(rest, poll_interval_s=0.05)
    if kind == "redis":
        url, _, prefix = rest.partition("|")
        return RedisBackend(url, prefix=prefix)
    raise SystemExit(f"unknown back end {spec!r}")


def main(action: str, spec: str) -> None:
    backend = backend_from(spec)
    if action == "halt":
        KillSwitch(backend, watch=False).halt("operator:child", "restart test", "from a child")
    elif action == "state":
        switch = KillSwitch(backend, watch=False)
        print(switch.state.name, "unreadable" if switch.unreadable else "readable")
    else:
        out = Path(action.removeprefix("watch:"))

        def record(state: TradingState, change: StateChange) -> None:
            temp = out.with_suffix(f".{os.getpid()}.tmp")
            temp.write_text(f"{state.name} {change.version}")
            temp.replace(out)

        switch = KillSwitch(backend)
        switch.add_listener(record)
        record(switch.state, switch.current)
        sys.stdin.read()  # until the test closes our stdin
        switch.close()
    backend.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
