"""What every SDK-backed provider shares: whole characters, typed errors, the end-marker check,
usage at the end, and closing the upstream stream however the consumer stops.

A subclass says how to open the SDK stream (``_open``) and how to read its events
(``_parse``, yielding ``("text", str)``, ``("tool", ToolCall)``, ``("usage", Usage)`` and
``("end", None)``). ``stream`` and ``stream_tools`` are the same generator: a request without
tools never gets a tool call back, so ``stream`` stays text and usage only.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from .. import tracing
from ..ports import LLMRequest, ToolCall, Usage
from .errors import StreamDropped
from .genai import ModelSpan
from .text import WholeText
from .translate import SdkErrors, translate

log = logging.getLogger(__name__)

Part = tuple[str, Any]


class StreamingProvider:
    """Base for the Anthropic and OpenAI(-compatible) providers."""

    name: str = "provider"
    where: str = ""  # base URL, shown in error messages (never a key)
    errors: SdkErrors | None = None  # the SDK's exception types, set where the SDK is imported

    async def _open(self, request: LLMRequest, headers: dict[str, str] | None = None) -> Any:
        """Start the request (``headers``: extra HTTP headers, the trace's ``traceparent``);
        returns the SDK's async stream (has ``close()``)."""
        raise NotImplementedError

    def _parse(self, upstream: Any) -> AsyncIterator[Part]:
        raise NotImplementedError

    def stream(self, request: LLMRequest) -> AsyncIterator[str | Usage]:
        """Text deltas as they arrive, then one :class:`Usage` (see :meth:`stream_tools`)."""
        return cast(AsyncIterator[str | Usage], self.stream_tools(request))

    async def stream_tools(self, request: LLMRequest) -> AsyncIterator[str | Usage | ToolCall]:
        """Text deltas as they arrive, the tool calls once each is complete, then one :class:`Usage`.

        Raises a :class:`~runtime.providers.errors.ProviderError`; when text had already
        arrived, the error's ``partial`` holds it. Closing this iterator (or cancelling its
        task) closes the upstream HTTP stream.
        """
        parts: list[str] = []
        joiner = WholeText()
        usage = Usage()
        finished = False
        calls: list[ToolCall] = []
        upstream: Any = None
        span = ModelSpan(self.name, self.where, request) if tracing.enabled else None
        failure: BaseException | None = None
        try:
            try:
                if span is None:
                    upstream = await self._open(request)
                else:
                    token = tracing.attach(span.context)
                    try:
                        upstream = await self._open(request, span.headers)
                    finally:
                        tracing.detach(token)
                async for kind, value in self._parse(upstream):
                    if kind == "text":
                        text = joiner.feed(value)
                        if text:
                            if span is not None:
                                span.first_chunk()
                            parts.append(text)
                            yield text
                    elif kind == "tool":
                        calls.append(value)
                    elif kind == "usage":
                        usage = Usage(
                            input_tokens=max(usage.input_tokens, value.input_tokens),
                            output_tokens=max(usage.output_tokens, value.output_tokens),
                        )
                    elif kind == "end":
                        finished = True
            except Exception as exc:  # every SDK failure becomes a typed error
                failure = translate(
                    exc, self.errors, provider=self.name, model=request.model, partial="".join(parts), where=self.where
                )
                raise failure from exc
        finally:
            if upstream is not None:
                await _close_quietly(upstream)
            if span is not None:
                span.finish(usage, failure)
        tail = joiner.flush()
        if tail:
            parts.append(tail)
            yield tail
        if not finished:
            partial = "".join(parts)
            raise StreamDropped(
                f"{self.name}: the stream ended without its end marker after {len(partial)} characters",
                provider=self.name,
                partial=partial,
            )
        for call in calls:
            yield call
        yield usage


async def _close_quietly(upstream: Any) -> None:
    """Close the SDK stream; a failure to close must not hide the real outcome."""
    try:
        await upstream.close()
    except Exception as exc:  # noqa: BLE001 - whatever closing raises, the stream's own outcome stands
        log.debug("closing the upstream stream failed: %s", exc)
