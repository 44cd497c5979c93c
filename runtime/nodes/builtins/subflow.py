"""subflow and iterate: another flow of the same tenant run inside this one (runtime/agents/inner.py).

``subflow`` runs it once: ``inputs`` (templates, rendered against this run) are its inputs, its
output lands under ``output_key`` and the ``outputs`` mapping lifts fields to this flow's
names. Its chunks stream on as this node's (a sub-flow that ends in an AI answer answers the
person), so it never runs in parallel with another node. Its inner nodes are this node's
steps (nested on the timeline); they are cached and recorded in the metrics as in any run.

``iterate`` runs it once per item of a list, ``concurrency`` at a time, and collects the
results in the items' order; ``on_item_error`` says what a failed item does: fail the node,
be skipped, or keep its error in its place. Items do not stream: it may run in parallel.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, ClassVar, Literal

from pydantic import Field

from ...agents.inner import FlowDone, failure, run_flow_output, stream_flow, taken_names
from ...errors import AkisError, NodeError
from ...ports import Usage
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type
from ..steps import Step

KEY = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class SubflowConfig(NodeConfig):
    flow_id: str = Field("", description="The flow to run (one of this workspace's).",
                         json_schema_extra={"format": "flow-id"})
    version: int | None = Field(None, ge=1, description="A version of it (empty: the current one).")
    inputs: dict[str, Any] = Field(default_factory=lambda: {"user_message": "{{ user_message }}"},
                                   description="Its inputs; templates read this flow's values.")
    outputs: dict[str, str] = Field(default_factory=dict,
                                    description="Its output fields to copy here: {its name: name here}.")
    output_key: str = Field("subflow", pattern=KEY, description="Its whole output goes here.")
    stream: bool = Field(True, description="Stream its answer's chunks as this node's.")


def _check_target(config: dict[str, Any], flow_id: str) -> list[tuple[str, str]]:
    target = config.get("flow_id")
    if not target:
        return [("config.flow_id", "choose the flow to run")]
    if target == flow_id:
        return [("config.flow_id", "a flow cannot run itself")]
    return []


@node_type
class Subflow(NodeType):
    type_id = "subflow"
    title = "Sub-flow"
    description = "Runs another flow of this workspace, mapping inputs and outputs."
    category = "logic"
    icon = "account_tree"
    Config = SubflowConfig
    parallel_safe = False  # it may stream an answer
    streams = True

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        mapped = config.get("outputs")
        names = {str(v) for v in mapped.values()} if isinstance(mapped, dict) else set()
        return names | {str(config.get("output_key", "subflow"))}

    def config_problems(self, config: dict[str, Any], flow_id: str) -> list[tuple[str, str]]:
        found = _check_target(config, flow_id)
        mapped = config.get("outputs")
        if isinstance(mapped, dict):
            import re

            found += [(f"config.outputs.{k}", f"{v!r} is not a name templates can read")
                      for k, v in mapped.items() if not (isinstance(v, str) and re.match(KEY, v))]
        return found + taken_names(sorted(self.output_keys(config)), "config.outputs")

    async def run(self, config: SubflowConfig, ctx: NodeContext) -> AsyncIterator[str | Step | Usage | dict[str, Any]]:
        if not config.flow_id:
            raise NodeError("config field 'flow_id': choose the flow to run")
        async with aclosing(stream_flow(ctx, config.flow_id, config.version, config.inputs,
                                        chunks=config.stream)) as items:
            async for item in items:
                if not isinstance(item, FlowDone):
                    yield item
                    continue
                result = item.result
                if result.status != "succeeded":
                    raise failure(config.flow_id, result)
                if result.usage:
                    yield Usage(result.usage.get("tokens_in", 0), result.usage.get("tokens_out", 0))
                output = result.output
                missing = [k for k in config.outputs if k not in output]
                if missing:
                    raise NodeError(f"flow {config.flow_id!r} has no output {', '.join(map(repr, missing))} "
                                    f"(it has {', '.join(map(repr, output)) or 'none'})")
                yield {config.output_key: output, **{mine: output[theirs] for theirs, mine in config.outputs.items()}}
                return


class IterateConfig(NodeConfig):
    flow_id: str = Field("", description="The flow to run for each item (one of this workspace's).",
                         json_schema_extra={"format": "flow-id"})
    version: int | None = Field(None, ge=1, description="A version of it (empty: the current one).")
    items: Any = Field("{{ products }}", description="The list to go over (a template naming a list).")
    item_key: str = Field("item", pattern=KEY, description="The input each run gets its item as.")
    inputs: dict[str, Any] = Field(default_factory=lambda: {"user_message": "{{ user_message }}"},
                                   description="Inputs every item's run gets too.")
    concurrency: int = Field(4, ge=1, le=32, description="Items run at the same time at most.")
    max_items: int = Field(100, ge=1, le=10000, description="More items than this fail the node.")
    on_item_error: Literal["fail", "skip", "keep"] = Field(
        "fail", description="fail: the node fails; skip: the item is left out; keep: {'error': ...} in its place.")
    output: str | None = Field(None, description="Collect only this output field of each run (empty: all).")
    output_key: str = Field("results", pattern=KEY, description="Where the list of results goes.")


@node_type
class Iterate(NodeType):
    type_id = "iterate"
    title = "Iterate"
    description = "Runs a flow for each item of a list, some at a time, results in order."
    category = "logic"
    icon = "repeat"
    Config = IterateConfig
    streams = True  # its items are steps (yielded like chunks)...
    shows_text: ClassVar[bool] = False  # ... but it shows no text: the run pane gives it no answer pane

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        return {str(config.get("output_key", "results"))}

    def config_problems(self, config: dict[str, Any], flow_id: str) -> list[tuple[str, str]]:
        return _check_target(config, flow_id) + taken_names(sorted(self.output_keys(config)), "config.output_key")

    async def run(self, config: IterateConfig, ctx: NodeContext) -> AsyncIterator[Step | dict[str, Any]]:
        if not config.flow_id:
            raise NodeError("config field 'flow_id': choose the flow to run")
        items = config.items
        if not isinstance(items, list):
            raise NodeError(f"config field 'items' must be a list, got {type(items).__name__}")
        if len(items) > config.max_items:
            raise NodeError(f"{len(items)} items is more than max_items ({config.max_items})")
        gate = asyncio.Semaphore(config.concurrency)

        async def one(index: int, item: Any) -> tuple[int, float, float, Any, str | None]:
            async with gate:
                started = time.perf_counter()
                inputs = {**config.inputs, config.item_key: item, "index": index}
                try:
                    output = await run_flow_output(ctx, config.flow_id, config.version, inputs)
                except AkisError as exc:
                    return index, started, time.perf_counter(), None, str(exc)
                if config.output is not None:
                    if config.output not in output:
                        return index, started, time.perf_counter(), None, \
                            f"flow {config.flow_id!r} has no output {config.output!r}"
                    output = output[config.output]
                return index, started, time.perf_counter(), output, None

        results: list[Any] = [None] * len(items)
        failed: dict[int, str] = {}
        tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(items)]
        try:
            for next_done in asyncio.as_completed(tasks):
                index, started, ended, output, error = await next_done
                yield Step(f"item {index}", "item", started, ended, status="failed" if error else "succeeded",
                           error=error, label=f"item {index}")
                if error is None:
                    results[index] = output
                    continue
                if config.on_item_error == "fail":
                    raise NodeError(f"item {index} failed: {error}")
                failed[index] = error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if config.on_item_error == "skip":
            results = [r for i, r in enumerate(results) if i not in failed]
        else:
            for index, error in failed.items():
                results[index] = {"error": error}
        yield {config.output_key: results}
