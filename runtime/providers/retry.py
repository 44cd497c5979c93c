"""Retry a provider stream within a node's retry policy, but never after a chunk was shown.

A rate limit or a 5xx before the first token is worth another attempt (after the provider's
``retry-after`` or an exponential backoff); once text has reached the person, retrying would
show the answer twice, so the error goes up with its partial text instead.
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

from ..ports import Usage
from .errors import ProviderError

StreamFactory = Callable[[], AsyncIterator[str | Usage]]


def backoff_delay(attempt: int, base_s: float, max_s: float, retry_after: float | None) -> float:
    """Seconds before attempt ``attempt + 1``: the provider's wish if it gave one, else base * 2^n."""
    wanted = base_s * (2**attempt)
    if retry_after is not None:
        wanted = max(wanted, retry_after)
    return min(wanted, max_s)


async def stream_with_retry(
    open_stream: StreamFactory,
    *,
    attempts: int = 1,
    backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: Callable[[ProviderError, float], None] | None = None,
) -> AsyncIterator[str | Usage]:
    """Yield from ``open_stream()``; on a retryable error before the first text, try again.

    ``attempts`` counts every try (1 means no retry). ``on_retry(error, delay)`` lets the
    caller log or count each retry.
    """
    attempt = 0
    while True:
        emitted = False
        stream = open_stream()
        try:
            async for item in stream:
                if isinstance(item, str) and item:
                    emitted = True
                yield item
            return
        except ProviderError as error:
            attempt += 1
            if emitted or not error.retryable or attempt >= attempts:
                raise
            delay = backoff_delay(attempt - 1, backoff_s, max_backoff_s, error.retry_after)
            if on_retry is not None:
                on_retry(error, delay)
            await sleep(delay)
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
