"""The run queue in Redis: one list of run ids per tenant and a ring of the tenants that have
queued runs. A claim takes the first tenant of the ring, pops one of its runs and puts the
tenant back at the end if it has more: tenants are served round-robin, so one tenant's burst
of 500 runs delays another tenant's single run by at most one run per tenant ahead of it.

Both scripts are atomic. ``enqueue`` refuses over the queue limits (overall, per tenant), which
the API turns into 429 with ``Retry-After``. Each enqueue also pushes a token on a wake list
that idle workers block on (``BLPOP``), so a queued run is claimed within one round trip.
Cancelling is a flag key (read when a run is claimed) plus a pub/sub message to the worker
holding it.

A claim also notes the run in a sorted set by the time it was popped. A worker that dies (or
loses its Redis reply) between the pop and taking the run's row would otherwise leave the run
``queued`` for ever; the workers' reaper finds such claims older than the lease whose row is
still queued and puts them back at the head of their tenant's queue (``requeue``). A web
process that dies between storing a run's row and queueing it leaves a row that no claim will
ever reach: the reaper queues a long-waiting row that is neither on its tenant's list nor
claimed (``restore``). Taking a run's row is conditional, so a run queued twice still executes
once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.redis_clients import RedisTimeouts, redis_client

_ENQUEUE = """
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
if total >= tonumber(ARGV[3]) then return -1 end
local mine = redis.call('LLEN', KEYS[1])
if mine >= tonumber(ARGV[4]) then return -2 end
redis.call('RPUSH', KEYS[1], ARGV[1])
if mine == 0 then redis.call('RPUSH', KEYS[2], ARGV[2]) end
redis.call('INCR', KEYS[3])
if ARGV[5] ~= '' then redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[6]) end
redis.call('RPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], -1000, -1)
return mine + 1
"""

_CLAIM = """
local tenant = redis.call('LPOP', KEYS[1])
if not tenant then return nil end
local key = ARGV[1] .. tenant
local run = redis.call('LPOP', key)
if redis.call('LLEN', key) > 0 then redis.call('RPUSH', KEYS[1], tenant) end
if not run then return nil end
if tonumber(redis.call('DECR', KEYS[2])) < 0 then redis.call('SET', KEYS[2], 0) end
local now = redis.call('TIME')
redis.call('ZADD', KEYS[3], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000), tenant .. ' ' .. run)
local ticket = redis.call('GET', ARGV[3] .. run)
if ticket then redis.call('DEL', ARGV[3] .. run) else ticket = '' end
return {tenant, run, redis.call('EXISTS', ARGV[2] .. run), ticket}
"""

_STALE = """
local now = redis.call('TIME')
local before = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', before, 'LIMIT', 0, 100)
"""

# KEYS: tenant list, ring, total, wake list, claims; ARGV: run, tenant, claim member. The run goes
# back to the head of its tenant's queue: as a lost claim (_REQUEUE: only while still claimed) or
# as a run stored but never queued (_RESTORE: only when neither waiting nor claimed).
_PUSH_TO_HEAD = """
local mine = redis.call('LLEN', KEYS[1])
redis.call('LPUSH', KEYS[1], ARGV[1])
if mine == 0 then redis.call('RPUSH', KEYS[2], ARGV[2]) end
redis.call('INCR', KEYS[3])
redis.call('RPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], -1000, -1)
return 1
"""
_REQUEUE = "if redis.call('ZREM', KEYS[5], ARGV[3]) == 0 then return 0 end" + _PUSH_TO_HEAD
_RESTORE = ("if redis.call('LPOS', KEYS[1], ARGV[1]) or redis.call('ZSCORE', KEYS[5], ARGV[3]) then return 0 end"
            + _PUSH_TO_HEAD)


TICKET_TTL_MS = 600_000  # a run's ticket (ticket.py) lasts this long; one queued longer is read from its row


class QueueFull(Exception):
    """Over a queue limit: ``retry_after_s`` is when trying again is sensible."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Claimed:
    tenant_id: str
    run_id: str
    cancelled: bool  # cancelled while it waited
    ticket: bytes | str | None = None  # what the worker starts it from (a first attempt: ``ticket.py``)


class RunQueue:
    """The queue's keys under ``prefix`` (tests use their own); one client, bounded calls."""

    def __init__(self, url: str, *, prefix: str = "akis:", timeouts: RedisTimeouts | None = None,
                 client: Any = None) -> None:
        self.url = url
        self.prefix = f"{prefix}runq:"
        self.timeouts = timeouts or RedisTimeouts(0.5, 5.0)
        self._client = client
        self._enqueue_sha: str | None = None
        self._claim_sha: str | None = None
        self._stale_sha: str | None = None
        self._requeue_sha: str | None = None
        self._restore_sha: str | None = None
        self.round_trips = 0  # Redis calls made (the benchmark counts them per run)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = redis_client(self.url, self.timeouts)
        return self._client

    # -- keys ---------------------------------------------------------------------------------
    def tenant_key(self, tenant_id: str) -> str:
        return f"{self.prefix}t:{tenant_id}"

    @property
    def ring_key(self) -> str:
        return f"{self.prefix}ring"

    @property
    def total_key(self) -> str:
        return f"{self.prefix}n"

    @property
    def claims_key(self) -> str:
        return f"{self.prefix}claims"

    @property
    def wake_key(self) -> str:
        return f"{self.prefix}wake"

    def ticket_key(self, run_id: str) -> str:
        return f"{self.prefix}ticket:{run_id}"

    @property
    def cancel_channel(self) -> str:
        return f"{self.prefix}cancel"

    def cancelled_key(self, run_id: str) -> str:
        return f"{self.prefix}cancelled:{run_id}"

    # -- calls --------------------------------------------------------------------------------
    async def _script(self, attr: str, source: str, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import NoScriptError

        for attempt in range(2):
            sha = getattr(self, attr)
            if sha is None:
                sha = await self.client.script_load(source)
                self.round_trips += 1
                setattr(self, attr, sha)
            try:
                self.round_trips += 1
                return await self.client.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:  # Redis restarted or SCRIPT FLUSH: load it again, once
                setattr(self, attr, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def enqueue(self, tenant_id: str, run_id: str, *, limit: int, tenant_limit: int, ticket: str = "") -> int:
        """Queue the run (with its ``ticket``: ``ticket.py``); its position in the tenant's queue.
        :class:`QueueFull` over a limit."""
        keys = [self.tenant_key(tenant_id), self.ring_key, self.total_key, self.wake_key, self.ticket_key(run_id)]
        answer = int(await self._script("_enqueue_sha", _ENQUEUE, keys,
                                        [run_id, tenant_id, limit, tenant_limit, ticket, TICKET_TTL_MS]))
        if answer == -1:
            raise QueueFull(f"the run queue is full ({limit} runs waiting); try again shortly", 5)
        if answer == -2:
            raise QueueFull(f"this tenant already has {tenant_limit} runs waiting; try again when some have run",
                            max(1, min(60, tenant_limit // 100)))
        return answer

    async def claim(self) -> Claimed | None:
        """The next run, tenants in turn; None when nothing is queued."""
        answer = await self._script("_claim_sha", _CLAIM, [self.ring_key, self.total_key, self.claims_key],
                                    [f"{self.prefix}t:", f"{self.prefix}cancelled:", f"{self.prefix}ticket:"])
        if not answer:
            return None
        tenant, run = (part.decode() if isinstance(part, bytes) else str(part) for part in answer[:2])
        return Claimed(tenant, run, bool(answer[2]), answer[3] or None)

    async def stale_claims(self, older_than_s: float) -> list[tuple[str, str]]:
        """(tenant, run) of claims made more than ``older_than_s`` ago and not yet settled."""
        members = await self._script("_stale_sha", _STALE, [self.claims_key], [int(older_than_s * 1000)])
        pairs = (m.decode() if isinstance(m, bytes) else str(m) for m in members or [])
        return [(tenant, run) for tenant, _, run in (member.partition(" ") for member in pairs)]

    async def requeue(self, tenant_id: str, run_id: str) -> bool:
        """Put a lost claim's run back at the head of its tenant's queue; False when another
        worker's reaper already did."""
        keys = [self.tenant_key(tenant_id), self.ring_key, self.total_key, self.wake_key, self.claims_key]
        return bool(await self._script("_requeue_sha", _REQUEUE, keys, [run_id, tenant_id, f"{tenant_id} {run_id}"]))

    async def restore(self, tenant_id: str, run_id: str) -> bool:
        """Queue a stored run that is neither waiting nor claimed (its web process died before
        queueing it), at the head of its tenant's queue; False when it is there after all."""
        keys = [self.tenant_key(tenant_id), self.ring_key, self.total_key, self.wake_key, self.claims_key]
        return bool(await self._script("_restore_sha", _RESTORE, keys, [run_id, tenant_id, f"{tenant_id} {run_id}"]))

    async def settle(self, tenant_id: str, run_id: str) -> None:
        """Forget a claim whose run's row was taken (or ended): nothing to recover."""
        self.round_trips += 1
        await self.client.zrem(self.claims_key, f"{tenant_id} {run_id}")

    async def wait(self, timeout_s: float) -> None:
        """Block until a run may have been queued (or ``timeout_s``); needs a client whose
        socket timeout is longer than ``timeout_s``."""
        self.round_trips += 1
        await self.client.blpop([self.wake_key], timeout=timeout_s)

    async def depth(self, tenant_id: str | None = None) -> int:
        """Runs waiting, in all or for one tenant."""
        self.round_trips += 1
        if tenant_id is not None:
            return int(await self.client.llen(self.tenant_key(tenant_id)))
        return int(await self.client.get(self.total_key) or 0)

    async def cancel(self, run_id: str, keep_s: int = 3600) -> None:
        """Ask whichever worker holds (or will claim) the run to cancel it."""
        self.round_trips += 2
        await self.client.set(self.cancelled_key(run_id), "1", ex=keep_s)
        await self.client.publish(self.cancel_channel, run_id)

    async def cancel_requested(self, run_id: str) -> bool:
        self.round_trips += 1
        return bool(await self.client.exists(self.cancelled_key(run_id)))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
