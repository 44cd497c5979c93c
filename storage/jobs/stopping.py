"""SIGTERM and SIGINT for ``akis worker``: arq's own stop, made sure of.

arq's handler logs, cancels the running jobs and cancels its main task once. A worker here was
seen with that one cancel lost: its main task stayed "cancelling" but went on waiting in its
poll loop's sleep, and the process never stopped (1 in about 25 starts of
``bench/bench_durable.py --tiny`` on a loaded machine, once in CI; the cause was not found in
arq, redis-py or asyncio 3.11). A second cancel always ended it. So the cancel is repeated every
``retry_s`` until the main task has ended; a supervisor's SIGKILL would otherwise cut the jobs
and runs short instead of the worker's own stop (which drains them).
"""
from __future__ import annotations

import logging
import signal
from typing import Any

log = logging.getLogger(__name__)


def stop_on_signals(worker: Any, retry_s: float = 1.0) -> None:
    """Replace arq's SIGINT/SIGTERM handlers on ``worker.loop`` with arq's stop plus the retry."""

    def insist() -> None:
        task = worker.main_task
        if task is None or task.done():
            return
        log.warning("akis worker: arq's main loop did not stop when cancelled; cancelling it again")
        task.cancel()
        worker.loop.call_later(retry_s, insist)

    def stop(signum: signal.Signals) -> None:
        worker.handle_sig(signum)
        worker.loop.call_later(retry_s, insist)

    for signum in (signal.SIGINT, signal.SIGTERM):
        worker.loop.add_signal_handler(signum, stop, signum)
