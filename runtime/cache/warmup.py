"""Cache warm-up: run a flow's ``settings.warmup_inputs`` through its cacheable nodes only.

The engine's ``run(flow, inputs, warmup=True)`` skips AI and background nodes, so warming
never calls a model and never saves a message. ``WarmupScheduler`` repeats it, every 4 minutes
by default: under the default 300 s TTL, so a warmed entry is renewed before it lapses (an
interval of 0 turns it off; docs/cache.md).

Several web instances share one cache, so one warm-up per round is enough: with Redis each
round is claimed first (:class:`RedisRoundLock`, ``SET NX`` with an expiry just under the
interval), and only the instance holding the claim warms; the others count the round as
skipped. When Redis does not answer the instance warms anyway (twice is better than never).
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..redis_clients import RedisTimeouts, redis_client, request_timeouts
from ..settings import AkisSettings

log = logging.getLogger("runtime.cache")

ROUND_SHARE = 0.9  # a round's claim lasts this share of the interval, so the next round is free again

EngineFactory = Callable[[Any], Any]  # cache -> object with async run(flow, inputs, warmup=True)
Progress = Callable[[int, int, str], None]  # (done, total, label)
FlowsProvider = Callable[[], Iterable[Any] | Awaitable[Iterable[Any]]]


@dataclass
class WarmupReport:
    flows: int = 0
    runs: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def default_engine_factory(cache: Any) -> Any:
    """The engine wired from settings (registry with plugins, services), with this cache."""
    from ..wiring import build_engine  # here: wiring imports this package (its cache factory)

    return build_engine(cache=cache, publisher=None)


def warmup_jobs(flows: Iterable[Any], default_tenant: str | None = None) -> list[tuple[Any, dict[str, Any]]]:
    """Every (flow, inputs) pair to run, with the tenant filled in when the input lacks one."""
    jobs = []
    for flow in flows:
        for inputs in flow.settings.warmup_inputs:
            inputs = dict(inputs)
            if "tenant_id" not in inputs and default_tenant is not None:
                inputs["tenant_id"] = default_tenant
            inputs.setdefault("session_id", "warmup")
            jobs.append((flow, inputs))
    return jobs


async def warm_up(
    flows: Iterable[Any],
    cache: Any,
    *,
    engine_factory: EngineFactory | None = None,
    default_tenant: str | None = None,
    on_progress: Progress | None = None,
) -> WarmupReport:
    """Run every warm-up input one at a time (warming must not load the servers); never raises."""
    flows = list(flows)
    jobs = warmup_jobs(flows, default_tenant)
    report = WarmupReport(flows=sum(1 for f in flows if f.settings.warmup_inputs))
    if not jobs:
        return report
    engine = (engine_factory or default_engine_factory)(cache)
    for done, (flow, inputs) in enumerate(jobs, start=1):
        label = f"{flow.flow_id} #{done}"
        if "tenant_id" not in inputs:
            report.failed += 1
            report.errors.append(f"{label}: warm-up input has no tenant_id (pass a default tenant)")
        else:
            try:
                await engine.run(flow, inputs, warmup=True)
                report.runs += 1
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others; each is reported
                report.failed += 1
                report.errors.append(f"{label}: {type(exc).__name__}: {exc}")
        if on_progress is not None:
            on_progress(done, len(jobs), label)
    return report


class RoundLock(Protocol):
    """One claim per round across instances: ``claim(ttl_s)`` is True for exactly one of them."""

    async def claim(self, ttl_s: float) -> bool: ...


class RedisRoundLock:
    """The round's claim in Redis (``SET key holder NX PX``), shared by every instance using ``key``."""

    def __init__(self, url: str, key: str, holder: str, timeouts: RedisTimeouts | None = None) -> None:
        self.key = key
        self.holder = holder
        self.client = redis_client(url, timeouts)
        self._warned = False

    async def claim(self, ttl_s: float) -> bool:
        try:
            return bool(await self.client.set(self.key, self.holder, nx=True, px=max(1, int(ttl_s * 1000))))
        except Exception as exc:  # noqa: BLE001 - Redis away: warm here rather than nowhere
            if not self._warned:
                self._warned = True
                log.warning("cache warm-up: Redis did not answer (%s); this instance warms on its own",
                            type(exc).__name__)
            return True

    async def holder_now(self) -> str | None:
        value = await self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    async def aclose(self) -> None:
        await self.client.aclose()


def cluster_round_lock(settings: AkisSettings) -> RedisRoundLock | None:
    """The round claim every web instance and worker shares, when a shared cache tier (Redis or
    Memcached) is what they warm; None otherwise (each process then warms its own memory tier)."""
    if not settings.redis_url or not any(t in ("redis", "memcached") for t in settings.tiers):
        return None
    holder = f"{socket.gethostname()}:{os.getpid()}"
    return RedisRoundLock(settings.redis_url, f"{settings.cache_prefix}akis:warmup:round", holder,
                          request_timeouts(settings))


class WarmupScheduler:
    """Warms the cache at start and then every ``interval_s``; ``interval_s <= 0`` is off.
    With a ``lock`` a round runs only on the instance that claims it (``skipped`` counts the others)."""

    def __init__(
        self,
        interval_s: float,
        flows_provider: FlowsProvider,
        cache: Any = None,
        *,
        engine_factory: EngineFactory | None = None,
        default_tenant: str | None = None,
        initial_delay_s: float = 0.0,
        lock: RoundLock | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.flows_provider = flows_provider
        self.cache = cache
        self.engine_factory = engine_factory
        self.default_tenant = default_tenant
        self.initial_delay_s = initial_delay_s
        self.lock = lock
        self.rounds = 0
        self.skipped = 0
        self.last_report: WarmupReport | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> bool:
        """Start in the running loop; returns False when switched off (interval 0)."""
        if self.interval_s <= 0 or self.running:
            return False
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="akis-cache-warmup")
        return True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        closer = getattr(self.lock, "aclose", None)
        if closer is not None:
            await closer()

    def status(self) -> dict[str, Any]:
        """What the ops JSON shows: on or off, rounds warmed here, rounds another instance took."""
        report = self.last_report
        return {"interval_s": self.interval_s, "running": self.running, "shared": self.lock is not None,
                "rounds": self.rounds, "skipped": self.skipped,
                "last": None if report is None else {"flows": report.flows, "runs": report.runs,
                                                      "failed": report.failed}}

    async def run_once(self) -> WarmupReport | None:
        """One round: None when another instance claimed it."""
        if self.lock is not None and not await self.lock.claim(max(self.interval_s, 1.0) * ROUND_SHARE):
            self.skipped += 1
            return None
        flows = self.flows_provider()
        if inspect.isawaitable(flows):
            flows = await flows
        report = await warm_up(
            flows, self.cache, engine_factory=self.engine_factory, default_tenant=self.default_tenant
        )
        self.rounds += 1
        self.last_report = report
        if report.failed:
            log.warning("cache warm-up: %d of %d runs failed: %s", report.failed,
                        report.runs + report.failed, "; ".join(report.errors[:3]))
        return report

    async def _loop(self) -> None:
        if self.initial_delay_s > 0:
            await asyncio.sleep(self.initial_delay_s)
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the provider failed: log and try again next round
                log.exception("cache warm-up round failed")
            await asyncio.sleep(self.interval_s)
