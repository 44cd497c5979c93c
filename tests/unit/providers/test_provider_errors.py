"""Error translation and whole-character text, without any network: the SDKs' own exception
types, made by hand as the SDKs make them."""
from __future__ import annotations

from types import ModuleType
from typing import Any

import anthropic
import httpx
import openai
import pytest

from runtime.providers import (
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
from runtime.providers.text import WholeText
from runtime.providers.translate import SdkErrors, retry_after_seconds, translate

REQUEST = httpx.Request("POST", "http://llm.test/v1/messages")
SDKS = [pytest.param(anthropic, id="anthropic"), pytest.param(openai, id="openai")]


def errors_of(sdk: ModuleType) -> SdkErrors:
    return SdkErrors(sdk.APIStatusError, sdk.APITimeoutError, sdk.APIConnectionError)


def status_error(sdk: ModuleType, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 kind: str = "APIStatusError") -> Exception:
    """What the SDK raises for an HTTP status: ``APIStatusError`` or the subclass named by ``kind``."""
    response = httpx.Response(status, headers=headers or {}, request=REQUEST)
    error: Exception = getattr(sdk, kind)(f"status {status}", response=response, body=body)
    return error


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, KeyRejected), (403, KeyRejected), (404, UnknownModel), (429, RateLimited), (500, ServerError),
     (503, ServerError), (529, ServerError), (400, BadRequest), (422, BadRequest), (408, ProviderTimeout)],
)
def test_status_codes_map_to_typed_errors(sdk: ModuleType, status: int, kind: type[ProviderError]) -> None:
    raised = status_error(sdk, status, {"error": {"message": "detail here"}})
    assert isinstance(raised, sdk.APIStatusError)
    error = translate(raised, errors_of(sdk), provider="openai", model="gpt-x")
    assert type(error) is kind
    assert error.status == status and error.provider == "openai"
    assert "openai" in str(error)
    if status not in (408,):
        assert "detail here" in str(error)


def test_unknown_model_names_the_model() -> None:
    raised = status_error(anthropic, 404, kind="NotFoundError")
    error = translate(raised, errors_of(anthropic), provider="anthropic", model="claude-nope")
    assert isinstance(error, UnknownModel) and "claude-nope" in str(error)


def test_error_event_inside_a_200_stream_maps_by_its_type() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    sdk = errors_of(anthropic)
    error = translate(status_error(anthropic, 200, body), sdk, provider="anthropic", model="m", partial="Hel")
    assert isinstance(error, ServerError) and error.retryable and error.partial == "Hel"
    limited = translate(status_error(anthropic, 200, {"error": {"type": "rate_limit_error"}}), sdk,
                        provider="anthropic", model="m")
    assert isinstance(limited, RateLimited)


@pytest.mark.parametrize("sdk", SDKS)
def test_rate_limit_carries_retry_after(sdk: ModuleType) -> None:
    raised = status_error(sdk, 429, headers={"retry-after": "2.5"}, kind="RateLimitError")
    error = translate(raised, errors_of(sdk), provider="openai", model="m")
    assert isinstance(error, RateLimited) and error.retryable and error.retry_after == 2.5
    assert "2.5 s" in str(error)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("sdk", SDKS)
def test_timeouts_and_drops_keep_the_partial_text(sdk: ModuleType) -> None:
    errors = errors_of(sdk)
    timeout = translate(sdk.APITimeoutError(request=REQUEST), errors, provider="openai", model="m", partial="Hello")
    assert isinstance(timeout, ProviderTimeout) and timeout.partial == "Hello" and timeout.is_partial
    assert "mid-answer" in str(timeout)
    dropped = translate(sdk.APIConnectionError(request=REQUEST), errors, provider="openai", model="m", partial="Hel")
    assert type(dropped) is StreamDropped and dropped.partial == "Hel"
    unreachable = translate(sdk.APIConnectionError(request=REQUEST), errors, provider="openai", model="m")
    assert isinstance(unreachable, ProviderUnreachable) and unreachable.retryable and not unreachable.is_partial


def test_pythons_own_network_errors_are_understood_in_the_cause_chain() -> None:
    unreachable = translate(ConnectionRefusedError("refused"), provider="openai", model="m")
    assert isinstance(unreachable, ProviderUnreachable)
    try:
        try:
            raise TimeoutError("read")
        except TimeoutError as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        error = translate(outer, errors_of(anthropic), provider="anthropic", model="m", partial="x")
    assert isinstance(error, ProviderTimeout) and error.partial == "x"


def test_another_sdks_errors_and_look_alikes_are_not_matched_by_name() -> None:
    class APITimeoutError(Exception):
        """Named like the SDKs' class, but not one of them."""

    error = translate(APITimeoutError("read"), errors_of(openai), provider="openai", model="m")
    assert type(error) is ProviderError and "unexpected error" in str(error)
    foreign = translate(status_error(anthropic, 429), errors_of(openai), provider="openai", model="m")
    assert type(foreign) is ProviderError


def test_unexpected_errors_stay_provider_errors_with_a_message() -> None:
    error = translate(ValueError("odd"), errors_of(openai), provider="openai", model="m")
    assert type(error) is ProviderError and not error.retryable and "ValueError: odd" in str(error)


def test_whole_text_joins_surrogate_pairs_split_across_deltas() -> None:
    encoded = "😀".encode("utf-16-le")
    high = encoded[:2].decode("utf-16-le", "surrogatepass")
    low = encoded[2:].decode("utf-16-le", "surrogatepass")
    joiner = WholeText()
    out = joiner.feed("a" + high) + joiner.feed(low + "b") + joiner.flush()
    assert out == "a😀b"
    assert out.encode("utf-8") == "a😀b".encode()
    dangling = WholeText()
    assert dangling.feed("x" + high) == "x"
    assert dangling.flush() == "\ufffd"
