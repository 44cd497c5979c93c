"""Runs of the real engine publishing to a hub: the subscriber rebuilds every answer byte for
byte, after parallel branches and a join, across two streaming nodes, and with several
tenants' conversations at once (no chunk crosses a channel)."""
from __future__ import annotations

import asyncio
from typing import Any

from runtime import Engine
from runtime.channels import Transcript, channel_name, collect_run
from runtime.events import MESSAGE_CHUNK, NODE_FINISHED, RUN_FINISHED, RUN_STARTED

from .flows import ANSWER, parallel_join_flow, two_answers_flow


async def run_and_listen(
    hub: Any, flow: dict[str, Any], tenant: str, session: str, message: str = "Transpalet arıyorum",
    engine: Engine | None = None,
) -> tuple[Transcript, Any]:
    channel = channel_name(tenant, session)
    engine = engine or Engine(publisher=hub)
    stream = hub.subscribe(channel, after=await hub.cursor(channel))
    listener = asyncio.create_task(collect_run(stream))
    result = await engine.run(flow, {"user_message": message, "tenant_id": tenant, "session_id": session})
    transcript = await asyncio.wait_for(listener, 10.0)
    await stream.aclose()
    return transcript, result


def assert_complete(transcript: Transcript) -> None:
    assert transcript.missing() == {} and transcript.duplicates == 0
    cursors = [e.extra["cursor"] for e in transcript.events]
    assert cursors == list(range(cursors[0], cursors[0] + len(cursors)))  # nothing lost in between
    assert [e.index for e in transcript.events] == list(range(len(transcript.events)))  # run order kept


async def test_streaming_after_parallel_branches_and_a_join(hub: Any) -> None:
    engine = Engine(publisher=hub)
    transcript, result = await run_and_listen(hub, parallel_join_flow(), "2", "abc123", engine=engine)
    assert result.status == "succeeded", result.error
    await result.wait_background()  # save_message runs after the answer
    stored = await engine.services.conversations.history("2", "abc123", 10)
    assert stored[-1].role == "assistant" and stored[-1].content.encode() == transcript.text("ai").encode()
    assert_complete(transcript)
    assert transcript.text("ai").encode("utf-8") == ANSWER.encode("utf-8")
    assert transcript.finished is not None and transcript.finished.output == {"answer": ANSWER}
    assert len(transcript.chunks["ai"]) == len(ANSWER)  # one chunk per character: emoji included
    names = [(e.event, e.node_id) for e in transcript.events]
    first_chunk = next(i for i, e in enumerate(transcript.events) if e.event == MESSAGE_CHUNK)
    for branch in ("d1", "d2", "search", "join"):
        assert names.index((NODE_FINISHED, branch)) < first_chunk
    assert names[0] == (RUN_STARTED, None) and names[-1] == (RUN_FINISHED, None)


async def test_two_streaming_nodes_in_sequence(hub: Any) -> None:
    first, second = "Birinci cevap: çğıöşü. ", "İkinci cevap 🚜 hazır."
    transcript, result = await run_and_listen(hub, two_answers_flow(first, second), "2", "two-answers")
    assert result.status == "succeeded", result.error
    assert_complete(transcript)
    assert transcript.text("ai1").encode() == first.encode()
    assert transcript.text("ai2").encode() == second.encode()
    assert transcript.finished is not None and transcript.finished.output == {"first": first, "second": second}
    chunk_nodes = [e.node_id for e in transcript.events if e.event == MESSAGE_CHUNK]
    assert chunk_nodes == ["ai1"] * len(first) + ["ai2"] * len(second)  # never interleaved


async def test_two_tenants_two_sessions_at_once_never_cross(hub: Any) -> None:
    conversations = [("2", "abc123"), ("2", "xyz789"), ("5", "abc123"), ("5", "xyz789")]
    texts = {
        conv: f"Tenant {conv[0]} session {conv[1]}: özel cevap 🔒 {i}. " * 3 for i, conv in enumerate(conversations)
    }
    outcomes = await asyncio.gather(
        *(run_and_listen(hub, parallel_join_flow(texts[conv], tokens_per_second=2000), *conv) for conv in conversations)
    )
    run_ids = {result.run_id for _, result in outcomes}
    assert len(run_ids) == 4
    for conv, (transcript, result) in zip(conversations, outcomes, strict=True):
        assert result.status == "succeeded", result.error
        assert {e.run_id for e in transcript.events} == {result.run_id}  # only its own run's events
        assert transcript.events[0].tenant_id == conv[0] and transcript.events[0].session_id == conv[1]
        assert transcript.text("ai").encode() == texts[conv].encode()
        assert_complete(transcript)
