"""A process that opens trading-state files when told to: ``python _opener.py``.

It prints ``ready``, then for each line on stdin (a path; the test sends every opener the
same path at once) starts a watching ``KillSwitch`` on that file and prints ``open`` once
the switch's first load and its watch's first delivery are in. When stdin closes it stops
them all and prints how many times a switch was told its state was unavailable, and the
states the switches ended in.
"""

from __future__ import annotations

import sys
import threading

from tradewarden.guard.state import SQLiteBackend, StateChange
from tradewarden.guard.trading import KillSwitch


class RecordingSwitch(KillSwitch):
    """A kill switch that remembers every outage it is told about, and its first delivery."""

    def __init__(self, backend: SQLiteBackend) -> None:
        self.outages: list[Exception] = []
        self.delivered = threading.Event()
        super().__init__(backend)

    def state_changed(self, change: StateChange) -> None:
        super().state_changed(change)
        self.delivered.set()

    def state_unavailable(self, error: Exception) -> None:
        self.outages.append(error)
        super().state_unavailable(error)


def main() -> None:
    opened: list[tuple[SQLiteBackend, RecordingSwitch]] = []
    print("ready", flush=True)
    for line in sys.stdin:
        backend = SQLiteBackend(line.strip(), poll_interval_s=0.01)
        switch = RecordingSwitch(backend)
        opened.append((backend, switch))
        switch.delivered.wait(timeout=60.0)
        print("open", flush=True)
    for backend, switch in opened:
        switch.close()
        backend.close()
    outages = sum(len(switch.outages) for _, switch in opened)
    states = sorted({switch.state.name for _, switch in opened})
    print(outages, *states, flush=True)


if __name__ == "__main__":
    main()
