"""Redis fan-out across two processes: the run happens in a child process, this process
subscribes and rebuilds the answer byte for byte, also after disconnecting halfway."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime.channels import Transcript, channel_name, collect_run
from runtime.channels.redis_hub import RedisChannelHub
from runtime.events import MESSAGE_CHUNK, Event

from .conftest import delete_prefix
from .flows import ANSWER

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def redis_hub(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisChannelHub]:
    hub = RedisChannelHub(redis_url, prefix=redis_prefix, block_ms=200)
    yield hub
    await hub.aclose()
    await delete_prefix(redis_url, redis_prefix)


async def spawn(redis_url: str, prefix: str, session: str, repeat: int = 1) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.channels.publisher_proc", "--redis", redis_url,
        "--prefix", prefix, "--session", session, "--repeat", str(repeat), "--wait-for-go",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env=env,
    )


async def finish(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, err = await asyncio.wait_for(proc.communicate(), 60.0)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    info = json.loads(out.decode().strip().splitlines()[-1])
    assert info["dropped"] == 0
    return info


def go(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    proc.stdin.close()


@pytest.mark.parametrize("when", ["before the run", "after the run"])
async def test_other_process_rebuilds_the_answer_byte_for_byte(
    when: str, redis_hub: RedisChannelHub, redis_url: str, redis_prefix: str
) -> None:
    session = f"s-{uuid.uuid4().hex[:12]}"
    channel = channel_name("2", session)
    proc = await spawn(redis_url, redis_prefix, session)
    if when == "before the run":
        listener = asyncio.create_task(collect_run(redis_hub.subscribe(channel, after=0)))
        go(proc)
        info = await finish(proc)
        transcript = await asyncio.wait_for(listener, 10.0)
    else:  # a late subscriber: the run is over, the kept events still rebuild it
        go(proc)
        info = await finish(proc)
        transcript = await asyncio.wait_for(collect_run(redis_hub.subscribe(channel, after=0)), 10.0)
    assert info["status"] == "succeeded"
    assert transcript.run_id == info["run_id"]
    assert transcript.missing() == {} and transcript.duplicates == 0
    assert transcript.text("ai").encode("utf-8") == info["answer"].encode("utf-8") == ANSWER.encode("utf-8")
    assert transcript.finished is not None and transcript.finished.output == {"answer": ANSWER}


async def test_subscriber_that_disconnects_halfway_resumes_and_gets_every_chunk(
    redis_hub: RedisChannelHub, redis_url: str, redis_prefix: str
) -> None:
    session = f"s-{uuid.uuid4().hex[:12]}"
    channel = channel_name("2", session)
    repeat = 3
    proc = await spawn(redis_url, redis_prefix, session, repeat=repeat)
    transcript = Transcript()
    first = redis_hub.subscribe(channel, after=0)
    go(proc)
    async for event in first:
        transcript.add(event)
        if event.event == MESSAGE_CHUNK and len(transcript.chunks.get("ai", {})) == 40:
            break
    await first.aclose()  # the client disconnects halfway ...
    chunks_before = len(transcript.chunks["ai"])
    await asyncio.sleep(0.2)  # ... while the run goes on in the other process
    second = redis_hub.subscribe(channel, after=transcript.last_cursor)
    await asyncio.wait_for(collect_run(second, into=transcript), 30.0)
    await second.aclose()
    info = await finish(proc)
    expected = ANSWER * repeat
    assert chunks_before == 40 < len(expected)
    assert transcript.missing() == {} and transcript.duplicates == 0
    assert len(transcript.chunks["ai"]) == len(expected)
    assert transcript.text("ai").encode("utf-8") == info["answer"].encode("utf-8") == expected.encode("utf-8")


async def test_a_lost_script_is_loaded_again(redis_hub: RedisChannelHub) -> None:
    channel = channel_name("2", f"s-{uuid.uuid4().hex[:12]}")
    redis_hub._sha = "0" * 40  # as after a Redis restart: EVALSHA answers NOSCRIPT
    redis_hub.publish(channel, Event(MESSAGE_CHUNK, "r1", 0.0, node_id="ai", text="still here", seq=0))
    await redis_hub.flush()
    assert redis_hub.dropped == 0
    got = await asyncio.wait_for(anext(redis_hub.subscribe(channel, after=0)), 5.0)
    assert got.text == "still here" and got.extra["cursor"] == 1


async def test_redis_down_never_stops_a_run() -> None:
    from runtime import Engine

    from .flows import parallel_join_flow

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub = RedisChannelHub(f"redis://127.0.0.1:{port}/0")
    result = await Engine(publisher=hub).run(parallel_join_flow("ok"), {"user_message": "hi", "session_id": "down"})
    assert result.status == "succeeded" and result.output == {"answer": "ok"}
    await hub.aclose()
    assert hub.dropped > 0  # counted and logged, not raised into the run
