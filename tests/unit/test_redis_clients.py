"""Every Redis client the app makes has a connect and a socket timeout.

Each way the app makes one (channels, cache tier with its stats and locks, the job queue on
both sides, ``/healthz``, the worker's start-up wait, the login throttle) is exercised against
a loopback port nothing listens on, while every redis-py connection pool created meanwhile is
recorded: each must carry both timeouts. No Redis is needed.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from runtime.redis_clients import RedisTimeouts, client_timeouts, job_timeouts, request_timeouts
from runtime.settings import AkisSettings
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
APP_DIRS = ("runtime", "editor", "storage")


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The connection arguments of every pool made (async and sync redis-py) from now on."""
    import redis
    import redis.asyncio

    made: list[dict[str, Any]] = []
    for cls in (redis.asyncio.ConnectionPool, redis.ConnectionPool):
        original = cls.__init__

        def recording(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            made.append(dict(self.connection_kwargs))

        monkeypatch.setattr(cls, "__init__", recording)
    return made


def closed_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def assert_timeouts(made: list[dict[str, Any]], connect: float, socket: float) -> None:
    assert made, "no Redis client was made"
    for kwargs in made:
        assert kwargs.get("socket_connect_timeout") == connect, kwargs
        assert kwargs.get("socket_timeout") == socket, kwargs


def test_the_defaults_are_the_settings() -> None:
    assert request_timeouts() == RedisTimeouts(0.5, 1.0) == request_timeouts(AkisSettings())
    assert job_timeouts() == RedisTimeouts(0.5, 5.0)
    settings = AkisSettings(redis_connect_timeout_s=0.2, redis_socket_timeout_s=0.7, redis_jobs_socket_timeout_s=3)
    assert request_timeouts(settings) == RedisTimeouts(0.2, 0.7)
    assert job_timeouts(settings) == RedisTimeouts(0.2, 3.0)


async def test_channels(pools: list[dict[str, Any]]) -> None:
    from runtime.channels import build_hub

    settings = AkisSettings(redis_url=closed_url(), redis_connect_timeout_s=0.3, redis_socket_timeout_s=0.8)
    hub = build_hub(settings)
    try:
        assert client_timeouts(hub._client) == (0.3, 0.8)  # type: ignore[union-attr]
        assert hub.block_ms < 800  # a blocking read asks for less than the socket timeout
    finally:
        await hub.aclose()
    assert_timeouts(pools, 0.3, 0.8)


async def test_cache_tier_stats_and_locks(pools: list[dict[str, Any]]) -> None:
    from runtime.cache import build_cache

    settings = AkisSettings(redis_url=closed_url(), cache_tiers="memory,redis", redis_connect_timeout_s=0.3,
                            redis_socket_timeout_s=0.8, cache_timeout_s=0.25)
    cache = build_cache(settings)
    try:
        tier = cache.tiers[1]
        assert cache.lock_tier is tier and cache.recorder.redis is tier  # one client for all three
        assert client_timeouts(tier.client) == (0.25, 0.8)  # connecting no longer than the tier timeout
    finally:
        await cache.close()
    assert_timeouts(pools, 0.25, 0.8)


async def test_the_apps_job_queue(pools: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from arq.connections import ArqRedis

    from storage.jobs import ArqRunner, make_runner

    async def answered(self: Any, *args: Any) -> bool:
        return True

    monkeypatch.setattr(ArqRedis, "ping", answered)  # the pool is checked with a PING when made
    runner = make_runner(lambda job: None, closed_url(), timeouts=RedisTimeouts(0.3, 4.0))  # type: ignore[arg-type,return-value]
    assert isinstance(runner, ArqRunner)
    pool = await runner.pool()
    assert client_timeouts(pool) == (0.3, 4.0)
    await runner.aclose()
    assert_timeouts(pools, 0.3, 4.0)


async def test_the_worker(pools: list[dict[str, Any]]) -> None:
    from storage.jobs.worker import WorkerOptions, build_worker

    worker = build_worker(WorkerOptions(redis_url=closed_url(), timeouts=RedisTimeouts(0.3, 4.0),
                                        handle_signals=False), lambda services: None)  # type: ignore[arg-type,return-value]
    try:
        assert client_timeouts(worker.pool) == (0.3, 4.0)  # arq's own create_pool would set no socket timeout
    finally:
        await worker.pool.aclose()
    assert_timeouts(pools, 0.3, 4.0)


def test_the_workers_start_up_wait_is_bounded(pools: list[dict[str, Any]]) -> None:
    import redis

    from runtime.redis_clients import wait_for_redis

    with pytest.raises(redis.ConnectionError):
        wait_for_redis(closed_url(), RedisTimeouts(0.3, 4.0), attempts=1)
    assert_timeouts(pools, 0.3, 4.0)


async def test_the_health_check(pools: list[dict[str, Any]]) -> None:
    from editor.api.ops import _redis

    settings = AkisSettings(redis_url=closed_url(), redis_connect_timeout_s=0.3, redis_socket_timeout_s=0.8)
    assert (await _redis(settings))["ok"] is False
    assert_timeouts(pools, 0.3, 0.8)


async def test_the_login_throttle(pools: list[dict[str, Any]]) -> None:
    from editor.auth.throttle import RedisCounters  # the module is part of the app: never skipped

    counters = RedisCounters(closed_url(), "akis:test:")
    try:
        connect, socket = client_timeouts(counters.client)
        assert connect and socket
    finally:
        await counters.aclose()
    assert all(kwargs.get("socket_connect_timeout") and kwargs.get("socket_timeout") for kwargs in pools)


def test_no_client_is_made_around_the_helpers() -> None:
    """arq's ``create_pool``/``RedisSettings`` make clients without a socket timeout, and a bare
    ``from_url``/``Redis(...)`` would too unless it says otherwise: app code calls neither
    without both timeouts (runtime/redis_clients.py is where clients are made)."""
    offenders = []
    for folder in APP_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "redis_clients.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                keywords = {k.arg for k in node.keywords}
                if name in ("create_pool", "RedisSettings") or (
                    name in ("from_url", "Redis", "StrictRedis") and _redis_call(node)
                    and not {"socket_connect_timeout", "socket_timeout"} <= keywords
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _redis_call(node: ast.Call) -> bool:
    """``Redis(...)``, ``Redis.from_url(...)``, ``redis.from_url(...)``, ``aioredis.from_url(...)``."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in ("Redis", "StrictRedis")
    if isinstance(func, ast.Attribute):
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        return "redis" in owner_name.lower() or func.attr in ("Redis", "StrictRedis")
    return False


def test_the_check_sees_a_bare_client(tmp_path: Path) -> None:
    sample = ast.parse("from redis.asyncio import Redis\nclient = Redis.from_url(url)\n")
    calls = [n for n in ast.walk(sample) if isinstance(n, ast.Call)]
    assert calls and _redis_call(calls[0])


def test_the_app_context_passes_the_settings_on(tmp_path: Path, pools: list[dict[str, Any]]) -> None:
    """create_context hands the settings' timeouts to the hub, the cache and the job runner."""
    import asyncio

    from editor.context import create_context

    settings = AkisSettings(database_url=f"sqlite:///{tmp_path / 'akis.db'}", redis_url=closed_url(),
                            cache_tiers="memory,redis", redis_connect_timeout_s=0.3, redis_socket_timeout_s=0.8,
                            redis_jobs_socket_timeout_s=4.0, redis_retry_after_s=2.0, warmup_interval_s=0,
                            plugins_dir=tmp_path / "plugins")
    context = create_context(settings)
    try:
        assert client_timeouts(context.hub._client) == (0.3, 0.8)
        assert context.hub.breaker.retry_after_s == 2.0
        assert client_timeouts(context.cache.tiers[1].client) == (0.25, 0.8)
        assert context.cache.tiers[1].breaker.retry_after_s == 2.0
        assert context.engine.background.timeouts == RedisTimeouts(0.3, 4.0)
    finally:
        asyncio.run(_close(context))
    assert len(pools) >= 2 and all(k.get("socket_connect_timeout") and k.get("socket_timeout") for k in pools)


async def _close(context: Any) -> None:
    await context.hub.aclose()
    await context.cache.close()
    context.database.dispose()
