"""Turn whatever an SDK raised into one of our typed provider errors.

Matching is by the SDK's own exception types. The provider that imported its SDK to build a
client hands the SDK's ``APIStatusError``, ``APITimeoutError`` and ``APIConnectionError`` over
as :class:`SdkErrors`; this module imports no SDK, so the runtime starts (and the offline mock
runs) without either. Both SDKs wrap their HTTP library's failures in those types, before and
during a stream; Python's own ``TimeoutError``, ``ConnectionError`` and ``EOFError`` anywhere
in the cause chain are understood as well.
"""
from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

from .errors import (
    BadRequest,
    KeyRejected,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    StreamDropped,
    UnknownModel,
)


@dataclass(frozen=True, slots=True)
class SdkErrors:
    """One SDK's exception types (the Anthropic and OpenAI SDKs both name them so).

    The SDKs' per-status subclasses (``RateLimitError``, ``NotFoundError``, ...) are all
    ``status`` errors; the status code decides, which also covers codes without a subclass
    (408, 529) and an error event inside a 200 stream.
    """

    status: type[Exception]  # APIStatusError: an HTTP error status, or an error event mid-stream
    timeout: type[Exception]  # APITimeoutError (itself a connection error, so tested first)
    connection: type[Exception]  # APIConnectionError: refused, reset, or dropped mid-stream


class _StatusError(Protocol):
    """What both SDKs' ``APIStatusError`` carries."""

    status_code: int
    body: object
    response: Any  # the HTTP library's response: its ``headers``
    message: str


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes: SDKs wrap the HTTP library's error in their own."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


# An error sent inside a 200 stream (Anthropic's ``error`` event) carries only its type.
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _error_type(body: object) -> str:
    error = body.get("error", body) if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else ""


def _message(error: _StatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return detail["message"]
    return error.message if isinstance(error.message, str) else str(error)


def translate(
    exc: BaseException,
    sdk: SdkErrors | None = None,
    *,
    provider: str,
    model: str,
    partial: str = "",
    where: str = "",
) -> ProviderError:
    """The typed error for ``exc`` raised by ``sdk``; ``partial`` is the text already received."""
    if isinstance(exc, ProviderError):
        return exc
    target = f" at {where}" if where else ""
    if sdk is not None and isinstance(exc, sdk.status):
        return _from_status(cast(_StatusError, exc), provider=provider, model=model, partial=partial, target=target)
    chain = _chain(exc)
    timeouts: tuple[type[BaseException], ...] = (TimeoutError,) if sdk is None else (sdk.timeout, TimeoutError)
    if any(isinstance(e, timeouts) for e in chain):
        when = "mid-answer" if partial else "before the first token"
        return ProviderTimeout(
            f"{provider}: no data from {model!r}{target} within the read timeout ({when})",
            provider=provider,
            partial=partial,
        )
    transport: tuple[type[BaseException], ...] = (ConnectionError, EOFError)
    if sdk is not None:
        transport = (sdk.connection, *transport)
    if any(isinstance(e, transport) for e in chain):
        if partial:
            return StreamDropped(
                f"{provider}: the connection dropped mid-answer after {len(partial)} characters",
                provider=provider,
                partial=partial,
            )
        return ProviderUnreachable(f"{provider}: could not reach the provider{target}: {exc}", provider=provider)
    return ProviderError(
        f"{provider}: unexpected error: {type(exc).__name__}: {exc}", provider=provider, partial=partial
    )


def _from_status(error: _StatusError, *, provider: str, model: str, partial: str, target: str) -> ProviderError:
    status = error.status_code
    if status < 400:  # an error event inside a successful stream
        status = _TYPE_STATUS.get(_error_type(error.body), 500)
    detail = _message(error)
    common: dict[str, Any] = {"provider": provider, "partial": partial, "status": status}
    if status in (401, 403):
        return KeyRejected(
            f"{provider}: the API key was refused ({status}): {detail}. Check the credential's key.", **common
        )
    if status == 404:
        return UnknownModel(
            f"{provider}: model {model!r} was not found{target} (404): {detail}. "
            "Check the model name in the node's config.",
            **common,
        )
    if status == 429:
        wait = retry_after_seconds(error.response.headers)
        hint = f"; the provider asks to wait {wait:.1f} s" if wait is not None else ""
        return RateLimited(f"{provider}: rate limited (429){hint}: {detail}", retry_after=wait, **common)
    if status >= 500:
        return ServerError(f"{provider}: server error ({status}){target}: {detail}", **common)
    if status == 408:
        return ProviderTimeout(f"{provider}: the provider timed out the request (408)", **common)
    return BadRequest(f"{provider}: request refused ({status}): {detail}", **common)
