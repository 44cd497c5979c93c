"""Both hubs behind one fixture, so every channel test runs in-process and through Redis."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runtime.channels import ChannelHub
from tests.conftest import REDIS_HOST, REDIS_PORT, port_open, require
from tests.redis_keys import delete_prefix

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"



@pytest.fixture
def redis_prefix() -> str:
    return f"akis-test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=["memory", "redis"])
async def make_hub(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """Makes hubs of one kind (options go to the hub); Redis ones share a key prefix of their
    own, deleted afterwards. Every hub made is closed at the end."""
    made: list[Any] = []
    if request.param == "redis":
        require(port_open(REDIS_HOST, REDIS_PORT), f"Redis at {REDIS_HOST}:{REDIS_PORT}")

    def factory(**options: Any) -> Any:
        if request.param == "memory":
            hub: Any = ChannelHub(**options)
        else:
            from runtime.channels.redis_hub import RedisChannelHub

            hub = RedisChannelHub(REDIS_URL, prefix=redis_prefix, block_ms=200, **options)
        made.append(hub)
        return hub

    factory.kind = request.param  # type: ignore[attr-defined]
    yield factory
    for hub in made:
        await hub.aclose()
    if request.param == "redis":
        await delete_prefix(REDIS_URL, redis_prefix)


@pytest.fixture
def hub(make_hub: Callable[..., Any]) -> Any:
    return make_hub()
