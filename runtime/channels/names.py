"""Channel names: ``tenant.{tenant_id}.conversation.{session_id}``, defined here only (the
engine, the flow validator and the API take the form and the id patterns from this module).

A name is built only from the tenant and session a run was started with, and both parts are
validated so that neither can contain the separator: ``session_id="abc.tenant.3"`` cannot
reach tenant 3's channel, and no two (tenant, session) pairs share a name.
"""
from __future__ import annotations

import re

from ..errors import AkisError

_TENANT = r"[A-Za-z0-9][A-Za-z0-9-]{0,63}"
_SESSION = r"[A-Za-z0-9_-]{1,128}"
TENANT_ID = re.compile(_TENANT)  # use with fullmatch
SESSION_ID = re.compile(_SESSION)
CHANNEL_FORM = "tenant.{tenant_id}.conversation.{session_id}"
CHANNEL = re.compile(rf"tenant\.({_TENANT})\.conversation\.({_SESSION})")


class ChannelError(AkisError):
    """A channel name or id that is not allowed, or a hub that cannot serve."""


class ChannelGap(ChannelError):
    """The events after ``after`` are no longer kept: the subscriber came back too late.

    ``oldest`` is the first cursor still kept; subscribe again with ``after=oldest - 1`` to
    take what is left, or read the stored message instead.
    """

    def __init__(self, channel: str, after: int, oldest: int) -> None:
        super().__init__(
            f"channel {channel}: events after {after} are no longer kept (oldest kept is {oldest}); "
            "the answer can be read from the conversation instead"
        )
        self.channel = channel
        self.after = after
        self.oldest = oldest


DEGRADED = (
    "live relay to other processes is degraded: this run streams only to its own caller"
    " (the stored run has the full answer)"
)


class ChannelUnavailable(ChannelError):
    """The cross-process relay (Redis) is not answering: runs go on and stream to their own
    caller, but other processes' subscribers cannot follow them until it is back."""


def check_tenant_id(tenant_id: str | int) -> str:
    value = str(tenant_id)
    if not TENANT_ID.fullmatch(value):
        raise ChannelError(f"tenant id {value[:80]!r} is not valid: letters, digits and '-' (at most 64)")
    return value


def check_session_id(session_id: str) -> str:
    value = str(session_id)
    if not SESSION_ID.fullmatch(value):
        raise ChannelError(
            f"session id {value[:80]!r} is not valid: 1 to 128 letters, digits, '_' or '-' (no dots or spaces)"
        )
    return value


def channel_for(tenant_id: str, session_id: str) -> str:
    """The channel of a tenant and session already checked (the engine checks a run's once)."""
    return CHANNEL_FORM.format(tenant_id=tenant_id, session_id=session_id)


def channel_name(tenant_id: str | int, session_id: str) -> str:
    """The conversation's channel; raises :class:`ChannelError` for an id that is not allowed."""
    return channel_for(check_tenant_id(tenant_id), check_session_id(session_id))


def check_channel(channel: str) -> str:
    if not CHANNEL.fullmatch(channel):
        raise ChannelError(f"{channel[:200]!r} is not a channel name (tenant.<tenant>.conversation.<session>)")
    return channel


def parse_channel(channel: str) -> tuple[str, str]:
    """``(tenant_id, session_id)`` of a channel name."""
    match = CHANNEL.fullmatch(channel)
    if match is None:
        raise ChannelError(f"{channel[:200]!r} is not a channel name (tenant.<tenant>.conversation.<session>)")
    return match.group(1), match.group(2)
