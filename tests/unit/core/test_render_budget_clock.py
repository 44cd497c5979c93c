"""The render budget counts the thread's CPU time without its garbage collections: time the OS
gives other processes (a loaded machine) and a full collection (75 ms in a large process) failed
trivial templates in CI; a busy render still counts."""
from __future__ import annotations

import gc
import time

import pytest

from runtime.engine.sandbox.budget import Budget
from runtime.engine.sandbox.limits import TemplateTimeout


def test_time_not_spent_by_this_thread_does_not_count() -> None:
    budget = Budget(seconds=0.01)
    time.sleep(0.05)  # five times the budget of wall time, almost no CPU
    budget.tick()


def test_cpu_spent_by_the_render_counts() -> None:
    budget = Budget(seconds=0.01)
    started = time.thread_time()
    while time.thread_time() - started < 0.03:
        pass
    with pytest.raises(TemplateTimeout, match=r"longer than 0\.01 s"):
        budget.tick()


def test_a_garbage_collection_during_a_render_does_not_count() -> None:
    garbage = [[i] for i in range(300_000)]  # a heap whose full collection takes a while
    budget = Budget(seconds=0.002)
    started = time.thread_time()
    gc.collect()
    collection_s = time.thread_time() - started
    assert collection_s > 0.002, "the collection must outlast the budget for this test to mean anything"
    budget.tick()  # the collector's time is not the template's
    del garbage
