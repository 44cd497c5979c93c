"""The real Anthropic and OpenAI SDK clients against the fake server on loopback: every
scripted case, for each wire format."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime.ports import LLMRequest, Usage
from runtime.providers import (
    KeyRejected,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    StreamDropped,
    UnknownModel,
)
from runtime.providers.anthropic_provider import AnthropicProvider
from runtime.providers.openai_provider import OpenAIProvider
from runtime.providers.streaming import StreamingProvider
from tests.conftest import port_open
from tests.fakes.llm_server import FakeLLMServer, Reply, drop, normal, stall, status, utf8_split

KINDS = ["anthropic", "openai", "openai_compatible"]


def make(kind: str, server: FakeLLMServer, read_timeout_s: float = 5.0) -> StreamingProvider:
    if kind == "anthropic":
        return AnthropicProvider("test-key", base_url=server.anthropic_url, read_timeout_s=read_timeout_s)
    return OpenAIProvider(
        "test-key", base_url=server.openai_url, compatible=kind == "openai_compatible", read_timeout_s=read_timeout_s
    )


def request(**kw: Any) -> LLMRequest:
    base: dict[str, Any] = {
        "model": "model-x",
        "messages": [{"role": "user", "content": "Transpalet arıyorum"}],
        "system": "Be brief.",
        "temperature": 0.2,
        "max_tokens": 64,
    }
    base.update(kw)
    return LLMRequest(**base)


async def collect(provider: StreamingProvider, req: LLMRequest | None = None) -> tuple[str, list[str], Usage | None]:
    chunks: list[str] = []
    usage: Usage | None = None
    async for item in provider.stream(req or request()):
        if isinstance(item, Usage):
            usage = item
        else:
            chunks.append(item)
    return "".join(chunks), chunks, usage


@pytest.mark.parametrize("kind", KINDS)
async def test_normal_stream_text_usage_and_request_shape(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal(["Merhaba", ", ", "transpalet", " burada."], usage=(42, 0)))
    text, chunks, usage = await collect(make(kind, llm_server))
    assert chunks == ["Merhaba", ", ", "transpalet", " burada."]
    assert text == "Merhaba, transpalet burada."
    assert usage == Usage(input_tokens=42, output_tokens=4)
    sent = llm_server.requests[-1]
    assert sent.body["stream"] is True and sent.body["model"] == "model-x"
    if kind != "anthropic" or make(kind, llm_server)._takes_temperature:  # type: ignore[attr-defined]
        assert sent.body["temperature"] == 0.2
    if kind == "anthropic":
        assert sent.path == "/v1/messages"
        assert sent.body["system"] == "Be brief." and sent.body["max_tokens"] == 64
        assert sent.body["messages"] == [{"role": "user", "content": "Transpalet arıyorum"}]
    else:
        assert sent.path == "/v1/chat/completions"
        assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent.body["stream_options"] == {"include_usage": True}
        token_field = "max_tokens" if kind == "openai_compatible" else "max_completion_tokens"
        assert sent.body[token_field] == 64
    assert sent.headers.get("x-stainless-retry-count") == "0"
    assert sent.completed and not sent.client_closed_early


@pytest.mark.parametrize("kind", KINDS)
async def test_utf8_split_mid_character_comes_out_byte_equal(kind: str, llm_server: FakeLLMServer) -> None:
    chunks = ["Işık ", "çğüşö ", "😀👍🏽 ", "日本語 ", "ﬁn"]
    llm_server.script(utf8_split(chunks))
    text, got, _ = await collect(make(kind, llm_server))
    assert llm_server.requests[-1].split_mid_char == len(chunks)  # every delta was cut inside a character
    assert text.encode("utf-8") == "".join(chunks).encode("utf-8")
    assert all(piece.encode("utf-8").decode("utf-8") == piece for piece in got)


@pytest.mark.parametrize("kind", KINDS)
async def test_stall_longer_than_the_timeout(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(stall(2, 5.0, ["Hel", "lo", " there"]))
    with pytest.raises(ProviderTimeout) as caught:
        await collect(make(kind, llm_server, read_timeout_s=0.3))
    assert caught.value.partial == "Hello" and caught.value.retryable
    assert "mid-answer" in str(caught.value)
    assert await llm_server.wait_for_close()
    assert llm_server.requests[-1].client_closed_early


@pytest.mark.parametrize("kind", KINDS)
async def test_stall_before_the_first_byte(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(stall(0, 5.0))
    with pytest.raises(ProviderTimeout) as caught:
        await collect(make(kind, llm_server, read_timeout_s=0.3))
    assert caught.value.partial == "" and "before the first token" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_429_without_retries_is_a_typed_error(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(status(429, retry_after=7))
    with pytest.raises(RateLimited) as caught:
        await collect(make(kind, llm_server))
    assert caught.value.retry_after == 7.0 and caught.value.status == 429


@pytest.mark.parametrize("kind", KINDS)
async def test_500_is_a_retryable_server_error(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(status(500, "boom"))
    with pytest.raises(ServerError, match="boom") as caught:
        await collect(make(kind, llm_server))
    assert caught.value.retryable and caught.value.status == 500


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_dropped_after_some_chunks_keeps_the_partial_text(
    kind: str, llm_server: FakeLLMServer,
) -> None:
    llm_server.script(drop(3, ["One", " two", " three", " four", " five"]))
    seen: list[str] = []
    with pytest.raises(StreamDropped) as caught:
        async for item in make(kind, llm_server).stream(request()):
            if isinstance(item, str):
                seen.append(item)
    assert "".join(seen) == "One two three"
    assert caught.value.partial == "One two three" and caught.value.is_partial
    assert llm_server.requests[-1].dropped


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_that_ends_without_its_end_marker_is_dropped(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(chunks=["cut", " short"], omit_end=True))
    with pytest.raises(StreamDropped, match="end marker") as caught:
        await collect(make(kind, llm_server))
    assert caught.value.partial == "cut short"


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_model_is_a_404(kind: str) -> None:
    async with FakeLLMServer(known_models={"model-x"}) as server:
        with pytest.raises(UnknownModel, match="'no-such-model'") as caught:
            await collect(make(kind, server), request(model="no-such-model"))
        assert caught.value.status == 404 and not caught.value.retryable


@pytest.mark.parametrize("kind", KINDS)
async def test_refused_key(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(status(401, "invalid x-api-key"))
    with pytest.raises(KeyRejected, match="invalid x-api-key"):
        await collect(make(kind, llm_server))


async def test_anthropic_error_event_mid_stream(llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(chunks=["Partial"], mid_error="overloaded_error"))
    with pytest.raises(ServerError) as caught:
        await collect(make("anthropic", llm_server))
    assert caught.value.partial == "Partial" and caught.value.status == 529


@pytest.mark.parametrize("kind", KINDS)
async def test_closing_the_stream_closes_the_upstream_connection(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal([f"w{i} " for i in range(50)], delay_s=0.05))
    stream = make(kind, llm_server).stream(request())
    first = [await stream.__anext__(), await stream.__anext__()]
    assert first == ["w0 ", "w1 "]
    await stream.aclose()  # type: ignore[attr-defined]
    assert await llm_server.wait_for_close()
    assert llm_server.requests[-1].client_closed_early


@pytest.mark.parametrize("kind", KINDS)
async def test_cancelling_the_consumer_closes_the_upstream_connection(kind: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal([f"w{i} " for i in range(50)], delay_s=0.05))
    got: list[str] = []

    async def consume() -> None:
        async for item in make(kind, llm_server).stream(request()):
            if isinstance(item, str):
                got.append(item)

    task = asyncio.create_task(consume())
    for _ in range(500):
        if len(got) >= 2 or task.done():
            break
        await asyncio.sleep(0.01)
    assert got[:2] == ["w0 ", "w1 "], task.exception() if task.done() else "no chunks yet"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await llm_server.wait_for_close()
    assert llm_server.requests[-1].client_closed_early


async def test_nothing_listening_is_unreachable() -> None:
    server = await FakeLLMServer().start()
    await server.stop()  # the port is now closed
    assert not port_open("127.0.0.1", server.port)
    with pytest.raises(ProviderUnreachable):
        await collect(make("openai", server))
