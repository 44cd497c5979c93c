"""The sign-in throttle across instances: two apps in this process share one Redis (under a
key prefix of this test's own), so failures counted by one delay the next try on the other;
a known browser still gets in on either. Without Redis, or with Redis away, each instance
counts on its own."""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from editor.auth import login as login_routes
from editor.auth import sessions
from editor.auth.throttle import Attempt, LoginThrottle
from runtime.settings import AkisSettings
from storage.db import init_db
from storage.repos.users import create_user
from tests.redis_keys import delete_prefix

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf" value="([^"]*)"')


def instance(database: Any, redis_url: str, prefix: str) -> tuple[FastAPI, Any]:
    settings = AkisSettings(redis_url=redis_url, cache_prefix=prefix, database_url=database.url)
    app = FastAPI()
    throttle = LoginThrottle.from_settings(settings)
    app.state.akis = SimpleNamespace(settings=settings, database=database, login_throttle=throttle)
    app.include_router(login_routes.router)
    return app, throttle


def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://akis.test", follow_redirects=False)


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> int:
    token = TOKEN.search((await client.get("/login")).text)
    assert token is not None
    data = {"tenant": "2", "username": "kim", "password": password, "csrf": token.group(1)}
    return (await client.post("/login", data=data, headers={"Origin": "http://akis.test"})).status_code


def carry(cookies_from: httpx.AsyncClient, to: httpx.AsyncClient) -> None:
    """The same browser talking to another instance (behind one load balancer)."""
    for cookie in cookies_from.cookies.jar:
        to.cookies.jar.set_cookie(cookie)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Any]:
    db = init_db(f"sqlite:///{tmp_path / 'akis.db'}", seed_demo=False)
    db.call(create_user, "2", "kim", PASSWORD)
    sessions.configure("shared-secret", database=db)
    try:
        yield db
    finally:
        sessions.reset()
        db.dispose()


async def test_the_throttle_holds_across_two_instances_sharing_redis(database: Any, redis_url: str) -> None:
    prefix = f"test-login-{uuid.uuid4().hex[:8]}:"
    first, first_throttle = instance(database, redis_url, prefix)
    second, second_throttle = instance(database, redis_url, prefix)
    try:
        async with browser(first) as kims_on_first, browser(second) as kims_on_second, \
                browser(first) as attacker, browser(second) as stranger:
            assert await sign_in(kims_on_first) == 303  # kim's browser: known from now on
            carry(kims_on_first, kims_on_second)
            statuses = [await sign_in(attacker, f"guess {n}") for n in range(10)]
            assert statuses == [401] * 5 + [429] * 5, statuses
            assert await sign_in(stranger) == 429, "the other instance did not see the failures"
            assert await sign_in(kims_on_second) == 303, "kim's own browser was locked out"
        redis = first_throttle.shared.client
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        assert keys and all(key.decode().startswith(f"{prefix}akis:login:") for key in keys)
    finally:
        await first_throttle.aclose()
        await second_throttle.aclose()
        await delete_prefix(redis_url, prefix)


async def test_without_redis_each_instance_counts_alone(database: Any) -> None:
    first, _ = instance(database, "", "")
    second, _ = instance(database, "", "")
    async with browser(first) as attacker, browser(second) as stranger:
        assert [await sign_in(attacker, f"guess {n}") for n in range(6)] == [401] * 5 + [429]
        assert await sign_in(stranger) == 303


async def test_redis_away_falls_back_to_this_instances_counts(caplog: pytest.LogCaptureFixture) -> None:
    settings = AkisSettings(redis_connect_timeout_s=0.2, redis_socket_timeout_s=0.2)
    throttle = LoginThrottle("redis://127.0.0.1:9/0", "away:", settings=settings)  # nothing listens on port 9
    attempt = Attempt("2", "kim", "10.0.0.1")
    try:
        with caplog.at_level(logging.WARNING, logger="akis.auth"):
            for _ in range(5):
                assert await throttle.wait_s(attempt) == 0
                await throttle.failed(attempt)
            assert await throttle.wait_s(attempt) == pytest.approx(2, abs=0.5)
        assert sum("Redis did not answer" in r.getMessage() for r in caplog.records) == 1  # said once, not per try
    finally:
        await throttle.aclose()
