"""The budget of one render (time, loop turns, calls, what it wrote and made in all), and which
budget is active on this thread. The size checks that charge it are in :mod:`.sizes`."""
from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

from .limits import DEFAULT_LIMITS, TemplateLimitError, TemplateLimits, TemplateTimeout, figure, refuse


class _Collections(threading.local):
    spent: float = 0.0  # CPU seconds this thread spent in the garbage collector
    started: float = 0.0


_collections = _Collections()


def _on_collection(phase: str, info: dict[str, int]) -> None:
    """gc callback, run in the thread that triggered the collection."""
    if phase == "start":
        _collections.started = time.thread_time()
    else:
        _collections.spent += time.thread_time() - _collections.started


gc.callbacks.append(_on_collection)


def render_clock() -> float:
    """The thread's CPU time without its garbage collections. A full collection of a large
    process costs tens of milliseconds (75 ms in the ``akis eval`` process) and may start in any
    render, so counted it failed trivial templates' 50 ms budget (seen in CI)."""
    return time.thread_time() - _collections.spent


class Budget:
    """What one render has used so far; every hook of the sandbox charges it."""

    __slots__ = (
        "allocated",
        "calls",
        "clock",
        "deadline",
        "depth",
        "iterations",
        "limits",
        "macros",
        "max_allocated",
        "memo",
        "seconds",
        "steps",
        "why",
    )

    def __init__(self, limits: TemplateLimits = DEFAULT_LIMITS, seconds: float | None = None,
                 why: str = "the template time limit", clock: Callable[[], float] = render_clock) -> None:
        self.limits = limits
        self.seconds = limits.render_s if seconds is None else seconds
        self.why = why
        # the thread's CPU time, for runs and validation alike: what a render costs the event loop,
        # without the time the OS gave other processes (with wall time, a trivial template failed
        # its 50 ms budget on a loaded machine) nor the garbage collector's (see render_clock)
        self.clock = clock
        self.deadline = clock() + self.seconds
        self.iterations = 0
        self.calls = 0
        self.macros = 0
        self.depth = 0
        self.allocated = 0
        self.max_allocated = limits.allocated
        self.steps = 0  # outputs: the clock is read every 16th
        # id -> (value, items, chars, depth): values already weighed (kept alive, so ids stay theirs)
        self.memo: dict[int, tuple[Any, int, int, int]] = {}

    def tick(self) -> None:
        if self.clock() > self.deadline:
            raise self.late()

    def late(self) -> TemplateTimeout:
        return TemplateTimeout(f"rendering took longer than {self.seconds:g} s ({self.why})")

    def turns(self) -> None:
        """Every 16th loop turn (see :func:`.loops.turns`): the count and the clock."""
        if self.iterations > self.limits.loop_iterations:
            raise refuse("the loops ran too many turns", self.limits.loop_iterations)
        if self.clock() > self.deadline:
            raise self.late()

    def too_much(self) -> TemplateLimitError:
        return refuse("the template made too much data in all", self.max_allocated, " characters and items")

    def allocate(self, size: int) -> None:
        self.allocated += size
        if self.allocated > self.max_allocated:
            raise self.too_much()

    def write(self, size: int) -> None:
        """Text written to the output (one ``{{ }}``)."""
        if size > self.limits.output_chars:
            raise refuse(f"the template writes {figure(size)} characters", self.limits.output_chars)
        self.allocated += size
        if self.allocated > self.max_allocated:
            raise self.too_much()
        self.steps += 1
        if self.steps & 15 == 0 and self.clock() > self.deadline:
            raise self.late()


class _Local(threading.local):
    budget: Budget | None = None  # the render going on in this thread


# read directly (not through current()) by the hooks every output and call goes through
local = _Local()


def active() -> Budget | None:
    return local.budget


def activate(budget: Budget | None) -> Budget | None:
    """Make ``budget`` the one the sandbox charges on this thread; returns the previous one."""
    previous = local.budget
    local.budget = budget
    return previous


def current() -> Budget:
    # none: a lazy value (a generator) used after its render, bounded on its own
    return local.budget or Budget()
