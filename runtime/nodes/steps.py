"""Steps: the parts of one node's work shown under it (an agent's model turns and tool calls,
a sub-flow's inner nodes, an iteration's items).

A streaming node yields a :class:`Step` among its chunks once the part is over; the engine
turns it into a ``node.step`` event (nested under the node in the run pane's timeline) and a
metrics row (``node_id`` ``<node>/<step>``, its tokens), without a scheduler change.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

STEP_KINDS = ("model", "tool", "node", "item")


@dataclass(slots=True)
class Step:
    """``started``/``ended`` are ``time.perf_counter()`` readings; ``path`` nests deeper steps
    (an inner sub-flow's node) as ``outer/inner``; ``detail`` is shown with the step."""

    id: str
    kind: str
    started: float
    ended: float = field(default_factory=time.perf_counter)
    status: str = "succeeded"
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    label: str = ""  # what the timeline shows; the id when empty
    record: bool = True  # False: already in the metrics (an inner run records its own nodes)
    detail: dict[str, Any] = field(default_factory=dict)
