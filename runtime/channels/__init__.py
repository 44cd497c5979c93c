"""Tenant-scoped event channels: ``tenant.{tenant_id}.conversation.{session_id}``.

In-process by default; through Redis Streams when ``AKIS_REDIS_URL`` is set, so a subscriber
in one process sees a run in another. Both keep recent events so a subscriber can resume.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..redis_clients import request_timeouts
from ..settings import AkisSettings
from .memory import ChannelHub
from .names import (
    ChannelError,
    ChannelGap,
    ChannelUnavailable,
    channel_for,
    channel_name,
    check_channel,
    check_session_id,
    check_tenant_id,
    parse_channel,
)
from .transcript import Transcript, collect_run, follow_run

if TYPE_CHECKING:
    from .redis_hub import RedisChannelHub


def build_hub(settings: AkisSettings | None = None, **options: Any) -> ChannelHub | RedisChannelHub:
    """Redis when ``settings.redis_url`` is set (with the settings' timeouts and retry delay),
    else in-process; ``options`` go to the hub."""
    settings = settings if settings is not None else AkisSettings()
    if settings.redis_url:
        # Lazy: redis_hub imports the redis client, which the in-process default does without.
        from .redis_hub import RedisChannelHub

        options.setdefault("timeouts", request_timeouts(settings))
        options.setdefault("retry_after_s", settings.redis_retry_after_s)
        return RedisChannelHub(settings.redis_url, **options)
    options.setdefault("max_kept", settings.channel_kept_events)
    return ChannelHub(**options)


__all__ = [
    "ChannelError",
    "ChannelGap",
    "ChannelHub",
    "ChannelUnavailable",
    "Transcript",
    "build_hub",
    "channel_for",
    "channel_name",
    "check_channel",
    "check_session_id",
    "check_tenant_id",
    "collect_run",
    "follow_run",
    "parse_channel",
]
