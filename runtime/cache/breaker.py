"""A circuit breaker per tier: a tier that fails or hangs is skipped for a while, then probed.

Why: a cache must never make a run slower than no cache. After one failure (an error or a
timeout) the tier is bypassed for ``retry_after_s``; then one call is let through as a probe.
Each outage is logged once (not once per call) and counted, so the dashboard can show it.
The channel hub uses the same breaker for Redis (``kind``, ``effect`` and ``logger`` say so).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("runtime.cache")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        retry_after_s: float = 5.0,
        on_outage: Callable[[str], None] | None = None,
        describe: str = "",
        *,
        kind: str = "cache tier",
        effect: str = "bypassing it, runs continue uncached by it",
        logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.effect = effect
        self.log = logger or log
        self.retry_after_s = retry_after_s
        self.on_outage = on_outage
        self.describe = describe or name
        self.outages = 0
        self._open_until: float | None = None  # None: closed (healthy)
        self._since = 0.0
        self.is_open = False  # plain attributes: read on every call
        self.probing = False

    def allow(self) -> bool:
        """May a call go to the tier now? While open, only one probe after ``retry_after_s``."""
        if self._open_until is None:
            return True
        if self.probing or time.monotonic() < self._open_until:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        if self._open_until is not None:
            self.log.info("%s %s is back after %.1f s", self.kind, self.describe, time.monotonic() - self._since)
            self._open_until = None
            self.is_open = False
        self.probing = False

    def release(self) -> None:
        """A call was abandoned by its caller: it proves nothing, so only end a probe."""
        self.probing = False

    def failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        self.probing = False
        if self._open_until is None:
            self.outages += 1
            self._since = now
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.log.warning(
                "%s %s is unavailable (%s): %s; retrying every %.1f s",
                self.kind,
                self.describe,
                reason,
                self.effect,
                self.retry_after_s,
            )
            if self.on_outage is not None:
                self.on_outage(self.name)
        self._open_until = now + self.retry_after_s
        self.is_open = True
