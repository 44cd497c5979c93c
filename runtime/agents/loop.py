"""The agent loop: ask the model with the tools, call what it asks for (each turn's calls at
the same time), send the results back, until it answers without calling a tool.

Limits end the loop with a clear error (the node's ``on_error`` then decides): ``max_steps``
model turns, ``max_tool_calls`` tool calls in all, ``time_limit_s`` for the whole node; with
``on_limit: answer`` the model is told the limit is reached and answers in one more turn. A
tool's failure (bad arguments, an HTTP error, a flow that failed) is not the agent's: it goes
back to the model as that call's error result, and the model may try again or explain.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ..errors import AkisError, NodeError
from ..nodes.base import NodeContext
from ..nodes.steps import Step
from ..ports import LLMRequest, ToolCall, ToolCallingProvider, Usage
from .schema import describe
from .tools import ToolConfig, call_tool

MAX_RESULT_CHARS = 8000


@dataclass(slots=True)
class AgentLimits:
    max_steps: int
    max_tool_calls: int
    time_limit_s: float
    on_limit: str = "fail"  # fail | answer: told the limit is reached, the model answers in one more turn


@dataclass(slots=True)
class Outcome:
    """One tool call's result as the model will read it."""

    call: ToolCall
    content: str
    is_error: bool
    started: float
    ended: float = field(default_factory=time.perf_counter)


@dataclass(slots=True)
class _Turn:
    """What one model turn gave: its text, the calls it asked for, its tokens."""

    parts: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _Run:
    """The conversation so far, and what the person has been shown."""

    def __init__(self, provider: ToolCallingProvider, request: LLMRequest, limits: AgentLimits) -> None:
        self.provider, self.request, self.limits = provider, request, limits
        self.deadline = time.perf_counter() + limits.time_limit_s
        self.messages = list(request.messages)
        self.shown_text = False

    async def turn(self, number: int, got: _Turn) -> AsyncIterator[str]:
        """Ask the model once; stream its text, fill ``got``."""
        request = self.request
        stream = self.provider.stream_tools(LLMRequest(request.model, self.messages, request.system,
                                                       request.temperature, request.max_tokens, request.options,
                                                       request.tools))
        try:
            async with asyncio.timeout(_left(self.deadline, self.limits)):
                async for item in stream:
                    if isinstance(item, str):
                        if not got.parts and self.shown_text:
                            yield "\n\n"  # a new turn's text starts a new paragraph
                        got.parts.append(item)
                        self.shown_text = True
                        yield item
                    elif isinstance(item, ToolCall):
                        got.calls.append(item)
                    else:
                        got.usage = item
        except TimeoutError:
            raise NodeError(f"the agent stopped: its time limit of {self.limits.time_limit_s:g} s ran out "
                            f"during model step {number}") from None
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def agent_turns(provider: ToolCallingProvider, request: LLMRequest, tools: list[ToolConfig],
                      limits: AgentLimits, ctx: NodeContext) -> AsyncIterator[str | Usage | Step | dict[str, Any]]:
    """The whole conversation as the node's stream: text, usage, steps, then its result."""
    by_name = {tool.name: tool for tool in tools}
    run = _Run(provider, request, limits)
    messages = run.messages
    calls_made: list[dict[str, Any]] = []
    limit = ""  # what stopped the loop, when the model is to answer anyway
    turn = 0
    for turn in range(1, limits.max_steps + 1):
        started = time.perf_counter()
        got = _Turn()
        async for chunk in run.turn(turn, got):
            yield chunk
        yield got.usage
        calls = got.calls
        yield Step(f"model {turn}", "model", started, tokens_in=got.usage.input_tokens,
                   tokens_out=got.usage.output_tokens,
                   label=f"model {turn}" + (f": calls {', '.join(c.name for c in calls)}" if calls else ": answer"))
        if not calls:
            if not got.text.strip():
                raise NodeError(f"the agent stopped: model step {turn} gave neither text nor a tool call "
                                "(is max_tokens too small?)")
            yield {"answer": got.text, "tool_calls": calls_made}
            return
        messages.append({"role": "assistant", "content": got.text, "tool_calls": calls})
        if len(calls_made) + len(calls) > limits.max_tool_calls:
            limit = (f"it asked for more than its limit of {limits.max_tool_calls} tool call(s) "
                     f"({len(calls_made)} made, {len(calls)} more asked for in step {turn})")
            if limits.on_limit != "answer":
                raise NodeError(f"the agent stopped: {limit}")
            messages.extend({"role": "tool", "tool_call_id": c.id, "name": c.name, "is_error": True,
                             "content": f"error: not called: the limit of {limits.max_tool_calls} tool calls is "
                                        "reached. Answer now with what you have, without calling tools."}
                            for c in calls)
            break
        try:
            async with asyncio.timeout(_left(run.deadline, limits)):
                outcomes = await asyncio.gather(*(_call(by_name, call, ctx) for call in calls))
        except TimeoutError:
            raise NodeError(f"the agent stopped: its time limit of {limits.time_limit_s:g} s ran out "
                            f"while calling {', '.join(c.name for c in calls)}") from None
        for outcome in outcomes:
            number = len(calls_made) + 1
            calls_made.append({"name": outcome.call.name, "arguments": outcome.call.arguments,
                               "ok": not outcome.is_error})
            yield Step(f"tool {number}", "tool", outcome.started, outcome.ended,
                       status="failed" if outcome.is_error else "succeeded",
                       error=outcome.content if outcome.is_error else None,
                       label=f"tool {number}: {outcome.call.name}",
                       detail={"tool": outcome.call.name, "arguments": outcome.call.arguments})
            messages.append({"role": "tool", "tool_call_id": outcome.call.id, "name": outcome.call.name,
                             "content": outcome.content, "is_error": outcome.is_error})
    else:
        limit = f"no final answer within its limit of {limits.max_steps} model step(s)"
        if limits.on_limit != "answer":
            raise NodeError(f"the agent stopped: {limit}")
        last = messages[-1]
        last["content"] += (f"\n(The limit of {limits.max_steps} model steps is reached. Answer now with what you "
                            "have, without calling tools.)")
    async for item in _answer_at_limit(run, turn + 1, limit, calls_made):
        yield item


async def _answer_at_limit(run: _Run, number: int, limit: str,
                           calls_made: list[dict[str, Any]]) -> AsyncIterator[str | Usage | Step | dict[str, Any]]:
    """``on_limit: answer``: one more turn (``number``), told the limit is reached; its text is
    the answer (a tool it still asks for is not called). No text: the node fails naming the limit."""
    started = time.perf_counter()
    got = _Turn()
    async for chunk in run.turn(number, got):
        yield chunk
    yield got.usage
    yield Step(f"model {number}", "model", started, tokens_in=got.usage.input_tokens,
               tokens_out=got.usage.output_tokens, label=f"model {number}: answer at the limit")
    if not got.text.strip():
        raise NodeError(f"the agent stopped: {limit}, and gave no answer when told so")
    yield {"answer": got.text, "tool_calls": calls_made}


def _left(deadline: float, limits: AgentLimits) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise NodeError(f"the agent stopped: its time limit of {limits.time_limit_s:g} s ran out")
    return left


async def _call(by_name: dict[str, ToolConfig], call: ToolCall, ctx: NodeContext) -> Outcome:
    """Run one call; whatever goes wrong becomes an error result the model reads."""
    started = time.perf_counter()
    tool = by_name.get(call.name)
    if tool is None:
        return Outcome(call, f"error: there is no tool {call.name!r}; use one of {', '.join(by_name)}", True, started)
    if call.arguments is None:
        return Outcome(call, f"error: the arguments are not a JSON object: {call.raw_arguments[:200]}", True, started)
    try:
        result = await call_tool(tool, call.arguments, ctx)
    except ValidationError as exc:
        return Outcome(call, f"error: invalid arguments: {describe(exc)}", True, started)
    except AkisError as exc:
        return Outcome(call, f"error: {exc}", True, started)
    except Exception as exc:  # noqa: BLE001 - a tool's failure is reported to the model, not raised
        return Outcome(call, f"error: {type(exc).__name__}: {exc}", True, started)
    return Outcome(call, _as_text(result), False, started)


def _as_text(result: Any) -> str:
    text = result if isinstance(result, str) else orjson.dumps(result, default=str).decode()
    if len(text) > MAX_RESULT_CHARS:
        return text[:MAX_RESULT_CHARS] + f"... (cut at {MAX_RESULT_CHARS} characters)"
    return text
