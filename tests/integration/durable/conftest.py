"""The queue-mode stack: a private PostgreSQL schema, Redis keys under a private prefix."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster.counting import CountingEndpoint as Counting
from tests.integration.storage.conftest import PgSchema

from .stack import OTHER, TENANT, Stack


@pytest.fixture
def counting() -> Iterator[Counting]:
    server = Counting()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def stack(postgres_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    from storage.db import init_db
    from storage.repos import tokens

    schema = PgSchema(postgres_url)
    database = init_db(schema.url, seed_demo=False)
    _, token = database.call(tokens.create_token, TENANT, "durable tests")
    _, other = database.call(tokens.create_token, OTHER, "durable tests, other tenant")
    database.dispose()
    stack = Stack(tmp_path, schema.url, redis_url, token, other)
    try:
        yield stack
    finally:
        stack.stop()
        await delete_prefix(redis_url, stack.prefix)
        schema.drop()


async def delete_prefix(redis_url: str, prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
