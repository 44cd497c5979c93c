"""Error translation, whole-character text and the retry helper, without any network."""
from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from runtime.ports import Usage
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
    stream_with_retry,
)
from runtime.providers.retry import backoff_delay
from runtime.providers.text import WholeText
from runtime.providers.translate import retry_after_seconds, translate


class FakeStatusError(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"status {status}")
        self.status_code = status
        self.body = body
        self.response = type("R", (), {"headers": headers or {}})()


class APITimeoutError(Exception):
    """Named like the SDKs' class: translation goes by name, not by import."""


class RemoteProtocolError(Exception):
    pass


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, KeyRejected), (403, KeyRejected), (404, UnknownModel), (429, RateLimited), (500, ServerError),
     (503, ServerError), (529, ServerError), (400, BadRequest), (422, BadRequest), (408, ProviderTimeout)],
)
def test_status_codes_map_to_typed_errors(status: int, kind: type[ProviderError]) -> None:
    error = translate(FakeStatusError(status, {"error": {"message": "detail here"}}), provider="openai", model="gpt-x")
    assert type(error) is kind
    assert error.status == status and error.provider == "openai"
    assert "openai" in str(error)
    if status not in (408,):
        assert "detail here" in str(error)


def test_unknown_model_names_the_model() -> None:
    error = translate(FakeStatusError(404), provider="anthropic", model="claude-nope")
    assert isinstance(error, UnknownModel) and "claude-nope" in str(error)


def test_error_event_inside_a_200_stream_maps_by_its_type() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = translate(FakeStatusError(200, body), provider="anthropic", model="m", partial="Hel")
    assert isinstance(error, ServerError) and error.retryable and error.partial == "Hel"
    limited = translate(FakeStatusError(200, {"error": {"type": "rate_limit_error"}}), provider="anthropic", model="m")
    assert isinstance(limited, RateLimited)


def test_rate_limit_carries_retry_after() -> None:
    error = translate(FakeStatusError(429, headers={"retry-after": "2.5"}), provider="openai", model="m")
    assert isinstance(error, RateLimited) and error.retryable and error.retry_after == 2.5
    assert "2.5 s" in str(error)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_timeouts_and_drops_by_name_keep_the_partial_text() -> None:
    timeout = translate(APITimeoutError("read"), provider="openai", model="m", partial="Hello")
    assert isinstance(timeout, ProviderTimeout) and timeout.partial == "Hello" and timeout.is_partial
    assert "mid-answer" in str(timeout)
    dropped = translate(RemoteProtocolError("incomplete chunked read"), provider="openai", model="m", partial="Hel")
    assert type(dropped) is StreamDropped and dropped.partial == "Hel"
    unreachable = translate(ConnectionRefusedError("refused"), provider="openai", model="m")
    assert isinstance(unreachable, ProviderUnreachable) and unreachable.retryable and not unreachable.is_partial


def test_wrapped_cause_is_found() -> None:
    try:
        try:
            raise RemoteProtocolError("peer closed")
        except RemoteProtocolError as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        error = translate(outer, provider="anthropic", model="m", partial="x")
    assert isinstance(error, StreamDropped)


def test_unexpected_errors_stay_provider_errors_with_a_message() -> None:
    error = translate(ValueError("odd"), provider="openai", model="m")
    assert type(error) is ProviderError and not error.retryable and "ValueError: odd" in str(error)


def test_whole_text_joins_surrogate_pairs_split_across_deltas() -> None:
    encoded = "😀".encode("utf-16-le")
    high = encoded[:2].decode("utf-16-le", "surrogatepass")
    low = encoded[2:].decode("utf-16-le", "surrogatepass")
    joiner = WholeText()
    out = joiner.feed("a" + high) + joiner.feed(low + "b") + joiner.flush()
    assert out == "a😀b"
    assert out.encode("utf-8") == "a😀b".encode("utf-8")
    dangling = WholeText()
    assert dangling.feed("x" + high) == "x"
    assert dangling.flush() == "\ufffd"


# --- retry helper ---------------------------------------------------------------------------------
def scripted(*outcomes: Any) -> Any:
    """A stream factory: each call plays the next outcome (an exception, or a list of items)."""
    calls = {"n": 0}

    def open_stream() -> AsyncIterator[str | Usage]:
        outcome = outcomes[calls["n"]]
        calls["n"] += 1

        async def gen() -> AsyncIterator[str | Usage]:
            for item in outcome if isinstance(outcome, list) else []:
                if isinstance(item, Exception):
                    raise item
                yield item
            if isinstance(outcome, Exception):
                raise outcome

        return gen()

    open_stream.calls = calls  # type: ignore[attr-defined]
    return open_stream


async def drain(stream: AsyncIterator[str | Usage]) -> list[str | Usage]:
    return [item async for item in stream]


async def test_retry_before_first_chunk_honours_retry_after() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    factory = scripted(RateLimited("429", retry_after=3.0), ServerError("500"), ["Hi", Usage(1, 1)])
    items = await drain(stream_with_retry(factory, attempts=3, backoff_s=0.5, sleep=sleep))
    assert items == ["Hi", Usage(1, 1)]
    assert waits == [3.0, 1.0]  # provider's wish, then 0.5 * 2


async def test_no_retry_after_a_chunk_was_emitted() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("must not wait: no retry after text")

    factory = scripted(["Hel", StreamDropped("dropped", partial="Hel")], ["Hello"])
    seen: list[str | Usage] = []
    with pytest.raises(StreamDropped) as caught:
        async for item in stream_with_retry(factory, attempts=3, sleep=sleep):
            seen.append(item)
    assert seen == ["Hel"] and caught.value.partial == "Hel"
    assert factory.calls["n"] == 1


async def test_non_retryable_and_exhausted_errors_go_up() -> None:
    async def sleep(seconds: float) -> None:
        return None

    with pytest.raises(UnknownModel):
        await drain(stream_with_retry(scripted(UnknownModel("404"), ["x"]), attempts=3, sleep=sleep))
    factory = scripted(ServerError("a"), ServerError("b"))
    with pytest.raises(ServerError, match="b"):
        await drain(stream_with_retry(factory, attempts=2, sleep=sleep))


def test_backoff_is_capped() -> None:
    assert backoff_delay(0, 0.5, 30, None) == 0.5
    assert backoff_delay(3, 0.5, 30, None) == 4.0
    assert backoff_delay(10, 0.5, 30, None) == 30
    assert backoff_delay(0, 0.5, 30, 120.0) == 30
