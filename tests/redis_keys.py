"""Cleaning up the Redis keys a test wrote (each test uses its own key prefix)."""
from __future__ import annotations


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key starting with ``prefix`` on the Redis at ``url``."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
