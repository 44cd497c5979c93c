"""Eager start: run a coroutine by hand until it first suspends, so a node that finishes
without waiting (user_input, output, condition, template) costs no task at all.

Python 3.12 has ``asyncio.eager_task_factory`` for this; on 3.11 it is done here. Used by the
run for inline nodes and by the in-process background runner.
"""
# bench/bench_throughput.py: -10% without this (a task per background node -3%, per save -5%, per inline node -2.5%)
from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar, overload

T = TypeVar("T")


def step_eagerly(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run ``coro`` up to its first suspension. ``None`` when it finished; otherwise a task that
    carries on from there (or a future holding what escaped it, as a task would keep it)."""
    return _step(loop, coro, keep_result=False)


def run_eagerly(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T],
                name: str | None = None) -> asyncio.Future[T]:
    """Like a task for ``coro``, but stepped here first: a coroutine that finishes without
    suspending gives an already completed future (no task, no turn of the loop)."""
    return _step(loop, coro, keep_result=True, name=name)


@overload
def _step(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], *, keep_result: Literal[True],
          name: str | None = None) -> asyncio.Future[Any]: ...


@overload
def _step(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], *, keep_result: Literal[False],
          name: str | None = None) -> asyncio.Future[Any] | None: ...


def _step(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], *, keep_result: bool,
          name: str | None = None) -> asyncio.Future[Any] | None:
    try:
        waiting = coro.send(None)
    except StopIteration as stop:
        if not keep_result:
            return None
        finished: asyncio.Future[Any] = loop.create_future()
        finished.set_result(stop.value)
        return finished
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - kept in the future, as a task would keep it
        failed: asyncio.Future[Any] = loop.create_future()
        if isinstance(exc, asyncio.CancelledError):
            failed.cancel()
        else:
            failed.set_exception(exc)
        return failed
    return loop.create_task(_Resumed(coro, waiting), name=name)


class _Resumed(collections.abc.Coroutine):
    """A coroutine already stepped once by hand (it yielded ``waiting``), for a task to go on
    driving: the task's first step gets ``waiting``, then every send and throw is passed on."""

    __slots__ = ("_coro", "_first", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self._coro, self._waiting, self._first = coro, waiting, True

    def send(self, value: Any) -> Any:
        if self._first:
            self._first = False
            return self._waiting
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._first = False
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:
        return self

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return self.send(None)
