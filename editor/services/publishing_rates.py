"""The widget's rate: at most ``limit`` runs in any minute for one key and visitor address.

A sliding window (a log of call times). With ``AKIS_REDIS_URL`` the log is a Redis sorted set
per key and address (one Lua script, Redis's clock), so every instance counts the same visitor
together; when Redis does not answer, the instance counts on its own and says so in the log
once a minute (the login throttle does the same, ``editor/auth/throttle.py``).
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache

from runtime.redis_clients import redis_client, request_timeouts
from runtime.settings import AkisSettings

log = logging.getLogger("akis.publishing")
WINDOW_S = 60.0


class RateWindow:
    """This process's windows: at most ``limit`` calls in any ``WINDOW_S`` for each key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self._calls: TTLCache[str, deque[float]] = TTLCache(maxsize=max_keys, ttl=WINDOW_S, timer=clock)

    async def take(self, key: str, limit: int) -> float:
        return self.take_now(key, limit)

    def take_now(self, key: str, limit: int) -> float:
        """0 when the call may go ahead (it is counted), else the seconds until one may."""
        now = self.clock()
        calls = self._calls.get(key) or deque()
        while calls and calls[0] <= now - WINDOW_S:
            calls.popleft()
        if len(calls) >= limit:
            self._calls[key] = calls
            return calls[0] + WINDOW_S - now
        calls.append(now)
        self._calls[key] = calls  # re-set: its time to live restarts with the newest call
        return 0.0


# KEYS[1]: the log; ARGV: limit, window ms, a unique member. Returns the ms to wait (0: counted).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class SharedRates:
    """The windows in Redis under ``prefix`` (every instance), this process's when Redis is away."""

    def __init__(self, url: str, prefix: str, settings: AkisSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.prefix = prefix
        self.client: Any = redis_client(url, request_timeouts(settings))
        self._take = self.client.register_script(_TAKE)
        self.local = RateWindow(clock)
        self._warned = 0.0
        self._seq = 0

    async def take(self, key: str, limit: int) -> float:
        self._seq += 1
        name = self.prefix + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        try:
            waited = await self._take(keys=[name], args=[limit, int(WINDOW_S * 1000), f"{time.time_ns()}-{self._seq}"])
        except Exception as exc:  # noqa: BLE001 - Redis away: this instance still limits on its own
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("widget rate: Redis did not answer (%s); counting on this instance only",
                            type(exc).__name__)
            return self.local.take_now(key, limit)
        return int(waited) / 1000.0

    async def aclose(self) -> None:
        await self.client.aclose()


Rates = RateWindow | SharedRates


def rates_from_settings(settings: AkisSettings) -> Rates:
    """In Redis when ``AKIS_REDIS_URL`` is set, under ``AKIS_CACHE_PREFIX`` + ``akis:widget-rate:``."""
    if settings.redis_url:
        return SharedRates(settings.redis_url, f"{settings.cache_prefix or ''}akis:widget-rate:", settings)
    return RateWindow()
