"""Turn whatever an SDK (or its HTTP library) raised into one of our typed provider errors.

Matching is by duck typing (``status_code``, class names along the MRO) rather than by
importing SDK classes, so it works for the Anthropic and OpenAI SDKs alike, across their httpx
and httpx2 generations, and keeps this module free of optional imports.
"""
from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

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

_TIMEOUT_NAMES = {"APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "PoolTimeout", "WriteTimeout"}
_TRANSPORT_NAMES = {"APIConnectionError", "TransportError", "RemoteProtocolError", "ReadError", "NetworkError", "ConnectError"}


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


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


def _error_type(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else ""


def _message_from_body(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)


def translate(exc: BaseException, *, provider: str, model: str, partial: str = "", where: str = "") -> ProviderError:
    """The typed error for ``exc``; ``partial`` is the text already received."""
    if isinstance(exc, ProviderError):
        return exc
    target = f" at {where}" if where else ""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status < 400:  # an error event inside a successful stream
            status = _TYPE_STATUS.get(_error_type(exc), 500)
        detail = _message_from_body(exc)
        headers = getattr(getattr(exc, "response", None), "headers", None)
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
            wait = retry_after_seconds(headers)
            hint = f"; the provider asks to wait {wait:.1f} s" if wait is not None else ""
            return RateLimited(f"{provider}: rate limited (429){hint}: {detail}", retry_after=wait, **common)
        if status >= 500:
            return ServerError(f"{provider}: server error ({status}){target}: {detail}", **common)
        if status == 408:
            return ProviderTimeout(f"{provider}: the provider timed out the request (408)", **common)
        return BadRequest(f"{provider}: request refused ({status}): {detail}", **common)
    chain = _chain(exc)
    names = set().union(*(_names(e) for e in chain))
    if names & _TIMEOUT_NAMES or any(isinstance(e, (asyncio.TimeoutError, TimeoutError)) for e in chain):
        when = "mid-answer" if partial else "before the first token"
        return ProviderTimeout(
            f"{provider}: no data from {model!r}{target} within the read timeout ({when})",
            provider=provider,
            partial=partial,
        )
    if names & _TRANSPORT_NAMES or any(isinstance(e, (ConnectionError, EOFError)) for e in chain):
        if partial:
            return StreamDropped(
                f"{provider}: the connection dropped mid-answer after {len(partial)} characters", provider=provider, partial=partial
            )
        return ProviderUnreachable(f"{provider}: could not reach the provider{target}: {exc}", provider=provider)
    return ProviderError(f"{provider}: unexpected error: {type(exc).__name__}: {exc}", provider=provider, partial=partial)
