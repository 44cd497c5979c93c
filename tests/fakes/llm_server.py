"""A fake LLM server on loopback that speaks the Anthropic Messages and OpenAI Chat Completions
streaming wire formats closely enough for the official SDKs, scripted per test.

Raw asyncio rather than a web framework, because the failures worth testing live below HTTP
frameworks: bytes of one character split across TCP writes, a stall mid-body, a connection cut
without the terminating chunk. Each request takes the next scripted :class:`Reply` (or the
default), and is recorded (path, headers, JSON body, whether the client hung up early).

    server = FakeLLMServer()
    await server.start()
    server.script(status(429, retry_after=0), normal(["Hel", "lo"]))
    client = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_url)
    client = openai.AsyncOpenAI(api_key="k", base_url=server.openai_url)

Run ``python -m tests.fakes.llm_server --port 8765`` to serve the default reply by hand.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .llm_tools import anthropic_tool_events, openai_tool_events

DEFAULT_TEXT = ["Hello", " from", " the", " fake", " server", "."]


@dataclass
class Reply:
    """One scripted response. ``chunks`` are the text deltas, one SSE event each."""

    chunks: list[str] = field(default_factory=lambda: list(DEFAULT_TEXT))
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = ""
    delay_s: float = 0.0  # between deltas
    stall_before_headers_s: float = 0.0
    stall_after: int | None = None  # stall after this many deltas ...
    stall_s: float = 0.0  # ... for this long
    drop_after: int | None = None  # cut the connection after this many deltas
    split_utf8: bool = False  # write each event in two pieces, cut inside a multi-byte char
    omit_end: bool = False  # end the body cleanly but without the end-of-message events
    mid_error: str = ""  # Anthropic: an ``error`` event of this type after the deltas
    usage: tuple[int, int] = (11, 0)  # input tokens, output tokens (0: one per delta)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, arguments) after the text


def normal(chunks: list[str] | None = None, **kw: Any) -> Reply:
    return Reply(chunks=list(chunks) if chunks is not None else list(DEFAULT_TEXT), **kw)


def utf8_split(chunks: list[str], **kw: Any) -> Reply:
    return Reply(chunks=chunks, split_utf8=True, **kw)


def stall(after: int, seconds: float, chunks: list[str] | None = None) -> Reply:
    if after == 0 and chunks is None:
        return Reply(stall_before_headers_s=seconds)
    return Reply(chunks=chunks or list(DEFAULT_TEXT), stall_after=after, stall_s=seconds)


def status(code: int, message: str = "", retry_after: float | None = None) -> Reply:
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status=code, headers=headers, error_message=message or f"scripted {code}")


def drop(after: int, chunks: list[str] | None = None) -> Reply:
    return Reply(chunks=chunks or list(DEFAULT_TEXT), drop_after=after)


def tool_calls(*calls: tuple[str, dict[str, Any]], chunks: list[str] | None = None, **kw: Any) -> Reply:
    """A turn that calls tools: ``chunks`` of text first (none by default), then each call,
    its JSON arguments streamed in two pieces as both APIs do."""
    return Reply(chunks=list(chunks or []), tool_calls=list(calls), **kw)


@dataclass
class Recorded:
    """What the server saw of one request, for assertions."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    reply: Reply
    started: float = field(default_factory=time.monotonic)
    completed: bool = False  # the server wrote the whole scripted response
    client_closed_early: bool = False  # the client hung up before the response was complete
    split_mid_char: int = 0  # writes that ended inside a multi-byte character
    dropped: bool = False  # the server cut the connection on purpose (``drop``)

    @property
    def api(self) -> str:
        return "anthropic" if self.path.rstrip("/").endswith("/messages") else "openai"


class _ClientGone(Exception):
    pass


class FakeLLMServer:
    """``known_models``: if given, any other model gets the API's 404 ``model not found``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, known_models: set[str] | None = None) -> None:
        self.host = host
        self.port = port
        self.known_models = known_models
        self.requests: list[Recorded] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeLLMServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeLLMServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def anthropic_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one, then ``self.default``."""
        self._script.extend(replies)

    async def wait_for_close(self, index: int = -1, timeout_s: float = 5.0) -> bool:
        """Wait until request ``index`` has ended (client hung up or response complete)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.requests and (self.requests[index].client_closed_early or self.requests[index].completed):
                return True
            await asyncio.sleep(0.01)
        return False

    # --- one connection, one request (Connection: close) -----------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        gone = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        try:
            request = await _read_request(reader)
            if request is None:
                return
            method, path, headers, body = request
            reply = self._script.popleft() if self._script else self.default
            rec = Recorded(method, path, headers, body, reply)
            self.requests.append(rec)
            watcher = asyncio.create_task(_watch_eof(reader, gone))
            try:
                await self._respond(rec, writer, gone)
                rec.completed = not rec.dropped
            except (_ClientGone, ConnectionError):
                rec.client_closed_early = True
        except asyncio.CancelledError:
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
            writer.close()
            self._tasks.discard(task)

    async def _respond(self, rec: Recorded, writer: asyncio.StreamWriter, gone: asyncio.Event) -> None:
        reply, api = rec.reply, rec.api
        if rec.path.rstrip("/").endswith("/embeddings"):
            await _send_embeddings(rec, writer)
            return
        if not rec.path.rstrip("/").endswith(("/messages", "/chat/completions")):
            await _send_json(writer, 404, {"error": {"message": f"no route {rec.path}"}}, {})
            return
        if reply.stall_before_headers_s:
            await _sleep_unless(gone, reply.stall_before_headers_s)
        model = str(rec.body.get("model", ""))
        if self.known_models is not None and model not in self.known_models:
            await _send_json(writer, 404, _error_body(api, 404, f"model: {model}"), {})
            return
        if reply.status != 200:
            await _send_json(writer, reply.status, _error_body(api, reply.status, reply.error_message), reply.headers)
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\nrequest-id: req_fake\r\n\r\n"
        )
        await writer.drain()
        events = _anthropic_events(rec) if api == "anthropic" else _openai_events(rec)
        delta_count = 0
        for kind, payload in events:
            if gone.is_set():
                raise _ClientGone
            if kind == "delta":
                if reply.drop_after is not None and delta_count >= reply.drop_after:
                    writer.transport.abort()  # no terminating chunk: the client sees a broken body
                    rec.dropped = True
                    return
                if reply.stall_after is not None and delta_count == reply.stall_after:
                    await _sleep_unless(gone, reply.stall_s)
                if delta_count and reply.delay_s:
                    await _sleep_unless(gone, reply.delay_s)
                delta_count += 1
            if reply.split_utf8 and kind == "delta":
                rec.split_mid_char += await _write_split(writer, payload)
            else:
                await _write_chunk(writer, payload)
        writer.write(b"0\r\n\r\n")
        await writer.drain()


# --- wire formats ------------------------------------------------------------------------------
def _sse(event: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def _usage(rec: Recorded) -> tuple[int, int]:
    tokens_in, tokens_out = rec.reply.usage
    return tokens_in, tokens_out or len(rec.reply.chunks)


def _anthropic_tool_events(rec: Recorded) -> list[tuple[str, bytes]]:
    return anthropic_tool_events(rec.reply.tool_calls, _sse)


def _openai_tool_events(rec: Recorded, chunk: Any) -> list[tuple[str, bytes]]:
    return openai_tool_events(rec.reply.tool_calls, chunk)


def _anthropic_events(rec: Recorded) -> list[tuple[str, bytes]]:
    model = rec.body.get("model", "claude-fake")
    tokens_in, tokens_out = _usage(rec)
    message = {
        "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": tokens_in, "output_tokens": 1},
    }
    out: list[tuple[str, bytes]] = [
        ("meta", _sse("message_start", {"type": "message_start", "message": message})),
        (
            "meta",
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ),
        ("meta", _sse("ping", {"type": "ping"})),
    ]
    for text in rec.reply.chunks:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        out.append(("delta", _sse("content_block_delta", delta)))
    if rec.reply.mid_error:
        error = {"type": "error", "error": {"type": rec.reply.mid_error, "message": "scripted mid-stream error"}}
        out.append(("meta", _sse("error", error)))
        return out
    if rec.reply.omit_end:
        return out
    out.append(("meta", _sse("content_block_stop", {"type": "content_block_stop", "index": 0})))
    out += _anthropic_tool_events(rec)
    out += [
        (
            "meta",
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use" if rec.reply.tool_calls else "end_turn",
                              "stop_sequence": None},
                    "usage": {"output_tokens": tokens_out},
                },
            ),
        ),
        ("meta", _sse("message_stop", {"type": "message_stop"})),
    ]
    return out


def _openai_events(rec: Recorded) -> list[tuple[str, bytes]]:
    model = rec.body.get("model", "gpt-fake")
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse(
            None, {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        )

    out: list[tuple[str, bytes]] = [("meta", chunk({"role": "assistant", "content": ""}))]
    out += [("delta", chunk({"content": text})) for text in rec.reply.chunks]
    out += _openai_tool_events(rec, chunk)
    if rec.reply.omit_end:
        return out
    out.append(("meta", chunk({}, "tool_calls" if rec.reply.tool_calls else "stop")))
    if (rec.body.get("stream_options") or {}).get("include_usage"):
        tokens_in, tokens_out = _usage(rec)
        usage = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
        out.append(("meta", _sse(None, {**base, "choices": [], "usage": usage})))
    out.append(("meta", _sse(None, "[DONE]")))
    return out


def _error_body(api: str, code: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
             429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
    kind = kinds.get(code, "api_error")
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {
        "error": {"message": message, "type": kind, "param": None, "code": "model_not_found" if code == 404 else None}
    }


# --- embeddings (OpenAI ``POST /v1/embeddings``) -------------------------------------------------
EMBEDDING_DIMENSIONS = 64


def fake_embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic unit vector: each word (lower case, 3+ letters) hashed into one
    dimension, so texts sharing words are near each other (cosine) and a test can predict ranks."""
    import hashlib
    import math
    import re

    vector = [0.0] * dimensions
    for word in re.findall(r"\w{3,}", text.casefold()):
        slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % dimensions
        vector[slot] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


async def _send_embeddings(rec: Recorded, writer: asyncio.StreamWriter) -> None:
    """The embeddings response for ``input`` (a string or a list), as floats or base64 float32
    (the official SDK asks for base64 by default); a scripted error status answers as chat does."""
    import base64
    import struct

    if rec.reply.status != 200:
        await _send_json(writer, rec.reply.status, _error_body("openai", rec.reply.status, rec.reply.error_message),
                         rec.reply.headers)
        return
    raw = rec.body.get("input", [])
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
    dimensions = int(rec.body.get("dimensions") or EMBEDDING_DIMENSIONS)
    data = []
    for index, text in enumerate(texts):
        vector = fake_embedding(text, dimensions)
        encoded: Any = vector
        if rec.body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(t.split()) for t in texts)
    await _send_json(writer, 200, {"object": "list", "data": data, "model": rec.body.get("model", "fake-embed"),
                                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, {})


# --- HTTP plumbing -----------------------------------------------------------------------------
async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], dict[str, Any]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            raw += await reader.readexactly(size + 2)
            raw = raw[:-2]
    else:
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    return method, path, headers, body if isinstance(body, dict) else {}


async def _watch_eof(reader: asyncio.StreamReader, gone: asyncio.Event) -> None:
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass
    gone.set()


async def _sleep_unless(gone: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(gone.wait(), timeout=seconds)
    except TimeoutError:
        return
    raise _ClientGone


async def _write_chunk(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    await writer.drain()


async def _write_split(writer: asyncio.StreamWriter, payload: bytes) -> int:
    """Write ``payload`` as two HTTP chunks cut inside a multi-byte character; returns 1 if
    such a cut existed. The pause makes the client read the halves separately."""
    cut = next((i for i in range(1, len(payload)) if 0x80 <= payload[i] < 0xC0), None)
    if cut is None:
        await _write_chunk(writer, payload)
        return 0
    await _write_chunk(writer, payload[:cut])
    await asyncio.sleep(0.01)
    await _write_chunk(writer, payload[cut:])
    return 1


async def _send_json(writer: asyncio.StreamWriter, code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error", 529: "Overloaded"}.get(code, "Error")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
        f"connection: close\r\n{extra}\r\n".encode() + data
    )
    await writer.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake LLM API on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between deltas")
    args = parser.parse_args()

    async def serve() -> None:
        server = await FakeLLMServer(port=args.port).start()
        server.default = Reply(delay_s=args.delay)
        print(f"fake LLM server on {server.anthropic_url} (OpenAI: {server.openai_url})", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
