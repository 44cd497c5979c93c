"""The other process of the Redis fan-out test: runs a flow with the engine, publishing to Redis,
then prints one JSON line (run id, status, answer) and exits.

    python -m tests.integration.channels.publisher_proc --redis URL --prefix P --tenant 2 --session S
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from runtime import Engine
from runtime.channels.redis_hub import RedisChannelHub

from .flows import ANSWER, parallel_join_flow


async def main(args: argparse.Namespace) -> int:
    hub = RedisChannelHub(args.redis, prefix=args.prefix)
    try:
        if args.wait_for_go:
            sys.stdin.readline()  # the test says when its subscriber is ready (or not: late-join cases)
        flow = parallel_join_flow(ANSWER * args.repeat, tokens_per_second=args.tokens_per_second)
        engine = Engine(publisher=hub)
        result = await engine.run(
            flow, {"user_message": "Transpalet arıyorum", "tenant_id": args.tenant, "session_id": args.session}
        )
        await result.wait_background()
    finally:
        await hub.aclose()  # writes everything still queued
    print(json.dumps({"run_id": result.run_id, "status": result.status, "answer": result.output.get("answer"),
                      "dropped": hub.dropped}, ensure_ascii=False), flush=True)
    return 0 if result.status == "succeeded" else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--tenant", default="2")
    parser.add_argument("--session", required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tokens-per-second", type=float, default=400)
    parser.add_argument("--wait-for-go", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
