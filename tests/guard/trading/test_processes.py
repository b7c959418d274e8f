"""The kill switch across real processes on the file back end: restarts and convergence."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from support.eventually import eventually
from tradewarden.guard.state import SQLiteBackend, StateBackend, TradingState
from tradewarden.guard.trading import KillSwitch

BOT = Path(__file__).with_name("_bot.py")


def run_bot(action: str, spec: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BOT), action, spec],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_a_halt_survives_the_process_that_stored_it(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'state.db'}"
    assert run_bot("state", spec) == "ACTIVE readable"
    run_bot("halt", spec)
    assert run_bot("state", spec) == "HALTED readable"
    assert run_bot("state", spec) == "HALTED readable"  # latched: nothing but resume clears it


def test_a_bot_starting_on_a_corrupt_state_file_is_halted(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"\x00garbage\xff" * 512)
    assert run_bot("state", f"sqlite:{path}") == "HALTED unreadable"


def test_a_bot_whose_state_file_cannot_be_opened_is_halted(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.mkdir()  # a directory where the file should be: unopenable, even for root
    assert run_bot("state", f"sqlite:{path}") == "HALTED unreadable"


def start_watching_bots(outs: list[Path], spec: str) -> list[subprocess.Popen[str]]:
    """Start one watching bot per output file; each runs until its stdin closes."""
    return [
        subprocess.Popen(
            [sys.executable, str(BOT), f"watch:{out}", spec], stdin=subprocess.PIPE, text=True
        )
        for out in outs
    ]


async def bots_follow_a_halt(
    outs_dir: Path, spec: str, open_backend: Callable[[], StateBackend]
) -> KillSwitch:
    """Start four watching bots on ``spec``, halt and resume them, and return the operator.

    ``open_backend`` is called once every bot has read the first state.
    """
    outs = [outs_dir / f"bot-{i}.txt" for i in range(4)]
    bots = start_watching_bots(outs, spec)

    def all_read(expected: str) -> bool:
        return all(out.is_file() and out.read_text() == expected for out in outs)

    try:
        await eventually(lambda: all_read("ACTIVE 0"), timeout_s=30)
        backend = open_backend()
        try:
            operator = KillSwitch(backend, watch=False)
            operator.halt("operator:alice", "convergence test")
            await eventually(lambda: all_read("HALTED 1"))
            operator.resume("operator:alice", "done")
            await eventually(lambda: all_read("ACTIVE 2"))
        finally:
            backend.close()
    finally:
        for bot in bots:
            assert bot.stdin is not None
            bot.stdin.close()
        for bot in bots:
            assert bot.wait(timeout=30) == 0
    return operator


async def test_bot_processes_watching_one_file_all_follow_a_halt(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    operator = await bots_follow_a_halt(tmp_path, f"sqlite:{path}", lambda: SQLiteBackend(path))
    assert operator.state is TradingState.ACTIVE
