"""Tenant-scoped event channels: ``tenant.{tenant_id}.conversation.{session_id}``.

In-process by default; through Redis Streams when ``AKIS_REDIS_URL`` is set, so a subscriber
in one process sees a run in another. Both keep recent events so a subscriber can resume.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Protocol

from ..events import Event
from ..settings import AkisSettings
from .memory import ChannelHub
from .names import (
    ChannelError,
    ChannelGap,
    ChannelUnavailable,
    channel_name,
    check_channel,
    check_session_id,
    check_tenant_id,
    parse_channel,
)
from .transcript import Transcript, collect_run, follow_run

if TYPE_CHECKING:
    from .redis_hub import RedisChannelHub


class Hub(Protocol):
    """What both hubs offer (``publish`` makes them an ``EventPublisher``). ``available`` is
    False while the cross-process relay is down (runs go on; see the Redis hub)."""

    available: bool

    def publish(self, channel: str, event: Event) -> None: ...

    def subscribe(self, channel: str, after: int | None = None) -> AsyncIterator[Event]: ...

    async def cursor(self, channel: str) -> int: ...

    async def flush(self) -> None: ...

    def lost(self, channel: str, run_id: str) -> int: ...

    def health(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...


def build_hub(settings: AkisSettings | None = None, **options: object) -> "ChannelHub | RedisChannelHub":
    """Redis when ``settings.redis_url`` is set (with the settings' timeouts and retry delay),
    else in-process; ``options`` go to the hub."""
    settings = settings if settings is not None else AkisSettings()
    if settings.redis_url:
        from ..redis_clients import request_timeouts
        from .redis_hub import RedisChannelHub

        options.setdefault("timeouts", request_timeouts(settings))
        options.setdefault("retry_after_s", settings.redis_retry_after_s)
        return RedisChannelHub(settings.redis_url, **options)  # type: ignore[arg-type]
    return ChannelHub(**options)  # type: ignore[arg-type]


__all__ = [
    "ChannelError",
    "ChannelGap",
    "ChannelHub",
    "ChannelUnavailable",
    "Hub",
    "Transcript",
    "build_hub",
    "channel_name",
    "check_channel",
    "check_session_id",
    "check_tenant_id",
    "collect_run",
    "follow_run",
    "parse_channel",
]
