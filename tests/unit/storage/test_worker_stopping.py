"""``akis worker`` stops on SIGTERM even when arq's one cancel of its main loop is lost."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from storage.jobs.stopping import stop_on_signals


class FakeArqWorker:
    """What stop_on_signals uses of arq's Worker: its loop, its main task and its handler."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.main_task: asyncio.Task[None] | None = None
        self.stops: list[int] = []

    def handle_sig(self, signum: int) -> None:  # arq's: log, then cancel the main task once
        self.stops.append(signum)
        assert self.main_task is not None
        self.main_task.cancel()


def run_until_stopped(worker: FakeArqWorker, main: asyncio.Task[None]) -> None:
    worker.main_task = main
    worker.loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)  # a real signal, as a supervisor sends
    worker.loop.call_later(10, worker.loop.stop)  # a hung test fails ("stopped before Future completed")
    with pytest.raises(asyncio.CancelledError):
        worker.loop.run_until_complete(main)


def test_a_lost_cancel_is_repeated_until_the_main_loop_has_ended() -> None:
    loop = asyncio.new_event_loop()
    worker = FakeArqWorker(loop)
    swallowed: list[str] = []

    async def main() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append("first cancel")  # lost, as seen in arq's poll loop
        await loop.create_future()  # waits on what nobody resolves: only another cancel ends it

    try:
        stop_on_signals(worker, retry_s=0.05)
        run_until_stopped(worker, loop.create_task(main()))
    finally:
        loop.close()  # removes the signal handlers: SIGTERM's default is back
    assert worker.stops == [signal.SIGTERM] and swallowed == ["first cancel"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_main_loop_that_stops_at_once_is_cancelled_once() -> None:
    loop = asyncio.new_event_loop()
    worker = FakeArqWorker(loop)
    cancels: list[int] = []

    async def main() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancels.append(1)
            raise

    try:
        stop_on_signals(worker, retry_s=0.05)
        run_until_stopped(worker, loop.create_task(main()))
        loop.run_until_complete(asyncio.sleep(0.2))  # the retry finds it done: no second cancel
    finally:
        loop.close()
    assert worker.stops == [signal.SIGTERM] and cancels == [1]
