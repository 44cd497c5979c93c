"""The sign-in throttle: growing delays per account and address, and known browsers.

Failed sign-ins are counted under several keys; each key lets ``free`` failures through, then
makes the next attempt wait ``base_s * 2 ** (failures - free)`` seconds (capped) after the
last failure. A waiting attempt is refused before its password is checked (429 with
``Retry-After``) and is not counted; an attempt that goes ahead claims the slot, so parallel
guesses cannot slip through together. Counters are forgotten ``forget_s`` after the last failure.

- ``pair``: one account from one address. The delay a person who mistyped meets.
- ``address``: every account from one address (spraying many user names).
- ``account``: one account from any browser it does not know (guessing from many addresses).
- ``device``: one account from a *known browser*: one that signed in to that account before
  and holds the signed ``akis_device`` cookie that says so. It is counted only under this key,
  so a throttled address or account does not lock out the right password from the owner's
  own browser (the OWASP "device cookie" scheme), while a stolen cookie buys five guesses.

With ``AKIS_REDIS_URL`` the counters live in Redis (atomic Lua scripts, Redis's clock, short
socket timeouts), so every instance sees the same counts; when Redis does not answer, the
instance falls back to its own counters and logs a warning.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from runtime.redis_clients import redis_client, request_timeouts
from runtime.settings import AkisSettings

log = logging.getLogger("akis.auth")


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int = 5
    base_s: float = 2.0
    cap_s: float = 900.0

    def delay(self, failures: int) -> float:
        """How long after the last failure the next attempt waits."""
        if failures < self.free:
            return 0.0
        return min(self.base_s * 2.0 ** min(failures - self.free, 40), self.cap_s)


PAIR = Backoff(free=5, base_s=2.0, cap_s=900.0)
ADDRESS = Backoff(free=20, base_s=2.0, cap_s=900.0)
ACCOUNT = Backoff(free=20, base_s=2.0, cap_s=900.0)
DEVICE = Backoff(free=5, base_s=2.0, cap_s=900.0)
FORGET_S = 3600.0


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt's keys: who for, from where, and the known-browser id if any."""

    tenant_id: str
    username: str
    address: str
    device: str | None = None  # the known browser's id, when its cookie names this account

    @property
    def account(self) -> str:
        return digest(self.tenant_id, self.username)

    def keys(self) -> list[tuple[str, Backoff]]:
        if self.device:
            return [(f"device:{digest(self.device, self.account)}", DEVICE)]
        return [(f"pair:{digest(self.account, self.address)}", PAIR), (f"address:{digest(self.address)}", ADDRESS),
                (f"account:{self.account}", ACCOUNT)]

    def cleared_on_success(self) -> list[str]:
        """What a right password resets: never the address (one's own account would reset it)."""
        return [key for key, _ in self.keys() if not key.startswith("address:")]


class MemoryCounters:
    """This instance's counters: key -> (failures, last failure or claim, seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self._counts: TTLCache[str, tuple[int, float]] = TTLCache(maxsize=max_keys, ttl=FORGET_S, timer=clock)

    async def acquire(self, keys: list[tuple[str, Backoff]]) -> float:
        now = self.clock()
        wait = 0.0
        for key, policy in keys:
            failures, last = self._counts.get(key, (0, 0.0))
            if failures >= policy.free:
                wait = max(wait, last + policy.delay(failures) - now)
        if wait > 0:
            return wait
        for key, policy in keys:
            failures, _ = self._counts.get(key, (0, 0.0))
            if failures >= policy.free:
                self._counts[key] = (failures, now)
        return 0.0

    async def failed(self, keys: list[tuple[str, Backoff]]) -> None:
        now = self.clock()
        for key, _ in keys:
            failures, _ = self._counts.get(key, (0, 0.0))
            self._counts[key] = (failures + 1, now)

    async def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._counts.pop(key, None)

    async def failures(self, key: str) -> int:
        return self._counts.get(key, (0, 0.0))[0]


# KEYS: the counters; ARGV: free, base ms, cap ms for each key in turn. Redis's clock, so every
# instance measures delays alike. Returns the milliseconds to wait (0: go ahead, slot claimed).
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local wait = 0
local due = {}
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[i * 3 - 2])
  local base = tonumber(ARGV[i * 3 - 1])
  local cap = tonumber(ARGV[i * 3])
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n >= free then
    local delay = math.min(base * 2 ^ math.min(n - free, 40), cap)
    local last = tonumber(redis.call('HGET', key, 't') or '0')
    local w = last + delay - now
    if w > wait then wait = w end
    table.insert(due, key)
  end
end
if wait > 0 then return math.ceil(wait) end
for _, key in ipairs(due) do redis.call('HSET', key, 't', now) end
return 0
"""

_FAILED = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 't', now)
  redis.call('PEXPIRE', key, ARGV[1])
end
return 0
"""


class RedisCounters:
    """The same counters in Redis, shared by every instance using ``prefix``."""

    def __init__(self, url: str, prefix: str, settings: AkisSettings | None = None) -> None:
        self.prefix = prefix
        self.client = redis_client(url, request_timeouts(settings))  # the app's connect and socket timeouts
        self._acquire = self.client.register_script(_ACQUIRE)
        self._failed = self.client.register_script(_FAILED)

    def _names(self, keys: list[str]) -> list[str]:
        return [self.prefix + key for key in keys]

    async def acquire(self, keys: list[tuple[str, Backoff]]) -> float:
        args: list[Any] = []
        for _, policy in keys:
            args += [policy.free, int(policy.base_s * 1000), int(policy.cap_s * 1000)]
        waited = await self._acquire(keys=self._names([k for k, _ in keys]), args=args)
        return int(waited) / 1000.0

    async def failed(self, keys: list[tuple[str, Backoff]]) -> None:
        await self._failed(keys=self._names([k for k, _ in keys]), args=[int(FORGET_S * 1000)])

    async def succeeded(self, keys: list[str]) -> None:
        if keys:
            await self.client.delete(*self._names(keys))

    async def failures(self, key: str) -> int:
        value = await self.client.hget(self.prefix + key, "n")
        return int(value or 0)

    async def aclose(self) -> None:
        await self.client.aclose()


class LoginThrottle:
    """``await wait_s(attempt)`` before checking a password (0: go ahead), then
    ``await failed(attempt)`` or ``await succeeded(attempt)``."""

    def __init__(self, redis_url: str = "", prefix: str = "akis:login:",
                 clock: Callable[[], float] = time.monotonic, settings: AkisSettings | None = None) -> None:
        self.memory = MemoryCounters(clock)
        self.shared = RedisCounters(redis_url, prefix, settings) if redis_url else None
        self._warned = 0.0

    @classmethod
    def from_settings(cls, settings: AkisSettings) -> LoginThrottle:
        """In Redis when ``AKIS_REDIS_URL`` is set, under ``AKIS_CACHE_PREFIX`` + ``akis:login:``."""
        return cls(settings.redis_url or "", f"{settings.cache_prefix or ''}akis:login:", settings=settings)

    async def _call(self, name: str, *args: Any) -> Any:
        if self.shared is not None:
            try:
                return await getattr(self.shared, name)(*args)
            except Exception as exc:  # noqa: BLE001 - Redis away: this instance still throttles on its own
                if time.monotonic() - self._warned > 60:
                    self._warned = time.monotonic()
                    log.warning("login throttle: Redis did not answer (%s); counting on this instance only",
                                type(exc).__name__)
        return await getattr(self.memory, name)(*args)

    async def wait_s(self, attempt: Attempt) -> float:
        """Seconds until this attempt may go ahead; 0 means it goes ahead now."""
        return float(await self._call("acquire", attempt.keys()))

    async def failed(self, attempt: Attempt) -> None:
        await self._call("failed", attempt.keys())

    async def succeeded(self, attempt: Attempt) -> None:
        await self._call("succeeded", attempt.cleared_on_success())

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
