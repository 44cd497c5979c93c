"""Every Redis client the app makes is made here, with a connect and a socket timeout.

Without a socket timeout a Redis that stops answering (paused, a half-open connection, a
network partition) holds each call forever, and whatever awaits the call with it. Two sets of
timeouts, both from :class:`~runtime.settings.AkisSettings`:

- the request path (channels, cache tiers, metrics, ``/healthz``): ``AKIS_REDIS_CONNECT_TIMEOUT_S``
  (0.5 s) and ``AKIS_REDIS_SOCKET_TIMEOUT_S`` (1 s); a blocking read (``XREAD BLOCK``) must ask
  for less than the socket timeout, and the channel hub keeps its block to half of it;
- the job queue (arq, the app's enqueues and ``akis worker``): the same connect timeout and
  ``AKIS_REDIS_JOBS_SOCKET_TIMEOUT_S`` (5 s). arq polls and makes no blocking reads. arq's own
  ``create_pool`` sets no socket timeout, so its clients are built here (:func:`arq_client`).

``redis.asyncio`` and arq are imported only when a client is made: the default install runs
without Redis. Options in the URL (``?socket_timeout=3``) override these, as redis-py does.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from .settings import AkisSettings


@dataclass(frozen=True)
class RedisTimeouts:
    connect_s: float
    socket_s: float

    @property
    def call_s(self) -> float:
        """The longest one call can take when the server does not answer: connect, then reply."""
        return self.connect_s + self.socket_s


def _default(name: str) -> Any:
    return AkisSettings.model_fields[name].default


def request_timeouts(settings: AkisSettings | None = None) -> RedisTimeouts:
    """Channels, cache, metrics, health: ``settings`` or, without it, the settings' defaults."""
    if settings is None:
        return RedisTimeouts(_default("redis_connect_timeout_s"), _default("redis_socket_timeout_s"))
    return RedisTimeouts(settings.redis_connect_timeout_s, settings.redis_socket_timeout_s)


def job_timeouts(settings: AkisSettings | None = None) -> RedisTimeouts:
    """The arq job queue: the same connect timeout, a longer socket timeout."""
    if settings is None:
        return RedisTimeouts(_default("redis_connect_timeout_s"), _default("redis_jobs_socket_timeout_s"))
    return RedisTimeouts(settings.redis_connect_timeout_s, settings.redis_jobs_socket_timeout_s)


def safe_url(url: str) -> str:
    """The URL without a password, for log lines and errors."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


def redis_client(url: str, timeouts: RedisTimeouts | None = None, **options: Any) -> Any:
    """A ``redis.asyncio.Redis`` over its own pool, with both timeouts (``options`` go to the pool)."""
    import redis.asyncio as aioredis  # lazy: the default install runs without Redis

    timeouts = timeouts or request_timeouts()
    pool = aioredis.ConnectionPool.from_url(
        url, socket_connect_timeout=timeouts.connect_s, socket_timeout=timeouts.socket_s, **options
    )
    return aioredis.Redis.from_pool(pool)  # the client owns its pool: aclose() closes both


def arq_client(url: str, timeouts: RedisTimeouts | None = None, **options: Any) -> Any:
    """An arq client (``ArqRedis``) with both timeouts; ``options`` are ``ArqRedis``'s
    (``default_queue_name``, ``job_serializer``, ...). Built here rather than by
    ``arq.create_pool``, which sets no socket timeout (its first ``PING`` could wait forever)."""
    import redis.asyncio as aioredis  # lazy, as above
    from arq.connections import ArqRedis

    timeouts = timeouts or job_timeouts()
    pool = aioredis.ConnectionPool.from_url(url, socket_connect_timeout=timeouts.connect_s,
                                            socket_timeout=timeouts.socket_s)
    client = ArqRedis(pool, **options)
    client.auto_close_connection_pool = True  # it owns its pool: aclose() closes both
    return client


async def arq_pool(url: str, timeouts: RedisTimeouts | None = None, **options: Any) -> Any:
    """:func:`arq_client`, checked with one ``PING`` (bounded by the timeouts; raises if down)."""
    client = arq_client(url, timeouts, **options)
    try:
        await client.ping()
    except BaseException:
        await client.aclose(close_connection_pool=True)
        raise
    return client


def wait_for_redis(url: str, timeouts: RedisTimeouts | None = None, *, attempts: int = 5,
                   delay_s: float = 1.0) -> None:
    """Block until Redis answers ``PING`` (a process starting before its Redis), at most
    ``attempts`` times ``delay_s`` apart; the last error is raised."""
    import redis  # lazy, like redis.asyncio above

    timeouts = timeouts or job_timeouts()
    client = redis.Redis.from_url(url, socket_connect_timeout=timeouts.connect_s, socket_timeout=timeouts.socket_s)
    try:
        for attempt in range(attempts):
            try:
                client.ping()
                return
            except (redis.RedisError, OSError) as exc:
                if attempt + 1 == attempts:
                    raise
                logging.getLogger("akis").warning("Redis at %s is not answering (%s); trying again in %.0f s",
                                                  safe_url(url), exc, delay_s)
                time.sleep(delay_s)
    finally:
        client.close()


def client_timeouts(client: Any) -> tuple[float | None, float | None]:
    """``(connect, socket)`` timeouts of a redis-py client's pool (what the tests check)."""
    kwargs = client.connection_pool.connection_kwargs
    return kwargs.get("socket_connect_timeout"), kwargs.get("socket_timeout")
