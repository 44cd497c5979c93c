"""What a run gives back: its status, output, answer and per-node timings."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..errors import AkisError, NodeError
from .clock import NodeTiming, in_start_order


@dataclass(slots=True)
class RunResult:
    run_id: str
    status: str  # succeeded | failed | cancelled
    output: dict[str, Any]
    node_ids: list[str] = field(repr=False)  # the plan's ids, by node index
    node_timings: list[NodeTiming | None] = field(repr=False)  # by node index, None: never started
    total_ms: float
    first_chunk_ms: float | None = None
    last_chunk_ms: float | None = None
    error: str | None = None
    failed_node: str | None = None
    answer: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    background: list[asyncio.Future[Any]] = field(default_factory=list)
    trace_id: str = ""  # 32 lowercase hex digits while tracing is on

    @property
    def nodes(self) -> dict[str, NodeTiming]:
        """Each node's timing, in start order (made when asked for)."""
        return in_start_order(self.node_ids, self.node_timings)

    async def wait_background(self) -> None:
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)


def as_result(value: Any, node: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeError(f"returned {type(value).__name__}, expected a dict")
    return value


def describe_error(exc: BaseException, node: Any) -> str:
    if isinstance(exc, AkisError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
