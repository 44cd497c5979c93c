"""Typed provider errors: one class per thing a person (or a retry policy) acts on differently.

Each says in its message what went wrong and what to do, never an SDK traceback. ``retryable``
tells a node's retry policy whether another attempt can help; a node retries only if it has
not emitted a chunk yet (otherwise the person would see the answer twice). ``partial`` holds
the text received before a stream failed, so the node can keep it and mark it partial.
"""
from __future__ import annotations

from ..errors import AkisError


class ProviderError(AkisError):
    """Base of every provider failure."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        partial: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.partial = partial
        self.status = status
        self.retry_after = retry_after

    @property
    def is_partial(self) -> bool:
        """True when some text reached the caller before the failure."""
        return bool(self.partial)


class UnknownProvider(ProviderError):
    """The flow names a provider this installation does not have."""


class MissingKey(ProviderError):
    """No API key (or base URL) is configured for the named credential."""


class KeyRejected(ProviderError):
    """The provider refused the key (401/403)."""


class UnknownModel(ProviderError):
    """The provider does not know the model (404)."""


class BadRequest(ProviderError):
    """The provider refused the request itself (400/422): too many tokens, bad parameter."""


class RateLimited(ProviderError):
    """429: try again later; ``retry_after`` says when, if the provider told us."""

    retryable = True


class ServerError(ProviderError):
    """5xx or an overloaded provider: another attempt may succeed."""

    retryable = True


class ProviderTimeout(ProviderError):
    """No byte arrived within the read timeout (before or during the stream)."""

    retryable = True


class StreamDropped(ProviderError):
    """The connection broke, or the stream ended without its end marker, mid-answer."""

    retryable = True


class ProviderUnreachable(StreamDropped):
    """The connection failed before any byte of the answer (refused, reset, DNS)."""
