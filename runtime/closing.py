"""Closing a process's clients at shutdown: each one tried, a failing one logged and passed."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


async def close_all(closers: Iterable[Callable[[], Awaitable[Any]] | None]) -> None:
    """Await each closer in turn (None: nothing to close); one failing must not keep the others open."""
    for closer in closers:
        if closer is None:
            continue
        try:
            await closer()
        except Exception as exc:  # noqa: BLE001 - one failing close must not keep the others open
            log.warning("close failed: %s", exc)
