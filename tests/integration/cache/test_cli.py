"""``akis cache``: stats, event, invalidate, warmup, and clear errors instead of tracebacks."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from runtime import Engine
from runtime.cache import build_cache
from runtime.cache.cli import cache_app
from runtime.ports import CachePolicy

from .conftest import MEMCACHED, REDIS_URL, delete_prefix, settings_for
from .flows import PALLET, pallet_flow

runner = CliRunner()


def env(tiers: str, prefix: str = "", redis: bool = False, **more: str) -> dict[str, str]:
    return {
        "AKIS_CACHE_TIERS": tiers,
        "AKIS_REDIS_URL": REDIS_URL if redis else "",
        "AKIS_MEMCACHED": MEMCACHED if "memcached" in tiers else "",
        "AKIS_CACHE_PREFIX": prefix,
        **more,
    }


def invoke(args: list[str], environment: dict[str, str]) -> Any:
    return runner.invoke(cache_app, args, env=environment)


@pytest.fixture
def shared(redis_url: str, cache_prefix: str) -> Iterator[dict[str, str]]:
    """Environment for a Redis-backed cache under this test's own prefix."""
    yield env("memory,redis", cache_prefix, redis=True)
    asyncio.run(delete_prefix(cache_prefix))


async def _fill(prefix: str) -> None:
    cache = build_cache(settings_for("memory,redis", prefix))
    policy = CachePolicy(ttl=60, key_fields={"query": "Transpalet arıyorum"}, tags=("products",))

    async def compute() -> dict[str, Any]:
        return {"products": ["TP-2500"]}

    for tenant in ("2", "2", "2", "5"):
        await cache.get_or_compute(tenant, "product_search", policy, compute)
    await cache.close()


async def _hits(prefix: str, tenant: str) -> dict[str, str]:
    cache = build_cache(settings_for("memory,redis", prefix))
    try:
        result = await Engine(cache=cache).run(
            pallet_flow(), {"user_message": "Transpalet arıyorum", "tenant_id": tenant}
        )
        return {node: timing.cache for node, timing in result.nodes.items()}
    finally:
        await cache.close()


def test_stats_prints_tables_and_json(shared: dict[str, str], cache_prefix: str) -> None:
    asyncio.run(_fill(cache_prefix))
    table = invoke(["stats", "--tenant", "2"], shared)
    assert table.exit_code == 0, table.output
    assert "product_search" in table.output and "66.67" in table.output and "Tier outages: none" in table.output
    data = json.loads(invoke(["stats", "--json"], shared).output)
    assert data["node_types"]["2"]["product_search"] == {"total": 3, "hits": 2, "rate": 66.67}
    assert data["node_types"]["5"]["product_search"]["total"] == 1 and data["source"] == "redis"


def test_event_clears_tags_for_one_tenant(shared: dict[str, str], cache_prefix: str) -> None:
    asyncio.run(_hits(cache_prefix, "2"))
    asyncio.run(_hits(cache_prefix, "5"))
    result = invoke(["event", "product.updated", "--tenant", "2"], shared)
    assert result.exit_code == 0 and "cleared tag(s) products" in result.output
    after = asyncio.run(_hits(cache_prefix, "2"))
    assert (after["node_2"], after["node_3"]) == ("hit", "miss")
    assert asyncio.run(_hits(cache_prefix, "5"))["node_3"] == "hit"
    unknown = invoke(["event", "price.updated", "--tenant", "2"], shared)
    assert unknown.exit_code == 1 and "maps to no cache tags" in unknown.output
    mapped = invoke(["event", "price.updated", "--tenant", "2", "--flow", str(PALLET)], shared)
    assert mapped.exit_code == 1  # the example maps product.updated only
    direct = invoke(["invalidate", "--tenant", "2", "--tag", "categories"], shared)
    assert direct.exit_code == 0 and asyncio.run(_hits(cache_prefix, "2"))["node_2"] == "miss"


def test_warmup_fills_what_a_run_then_hits(shared: dict[str, str], cache_prefix: str) -> None:
    result = invoke(["warmup", str(PALLET), "--tenant", "7"], shared)
    assert result.exit_code == 0, result.output
    assert "warmed 2 run(s) over 1 flow(s); 0 failed" in result.output
    outcomes = asyncio.run(_hits(cache_prefix, "7"))
    assert (outcomes["node_2"], outcomes["node_3"], outcomes["node_6"]) == ("hit", "hit", "off")


def test_in_process_only_config_says_why_commands_cannot_reach_the_app() -> None:
    result = invoke(["event", "product.updated", "--tenant", "2"], env("memory"))
    assert result.exit_code == 1 and "in-process only" in result.output
    stats = invoke(["stats"], env("memory"))
    assert stats.exit_code == 0 and "in-process only" in stats.output


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        (["stats"], env("memory,bogus"), "unknown tier(s) bogus"),
        (["stats"], env("redis"), "AKIS_REDIS_URL is not set"),
        (["stats"], env("memcached", AKIS_MEMCACHED=""), "AKIS_MEMCACHED (host:port) is not set"),
        (["stats"], env("memcached", AKIS_MEMCACHED="nohost"), "must be host:port"),
        (["stats"], env("memory", AKIS_CACHE_PREFIX="has space"), "AKIS_CACHE_PREFIX"),
        (["stats", "--tenant", "2_x"], env("memory"), "tenant id '2_x'"),
        (["warmup"], env("memory"), "name at least one flow"),
        (["warmup", "no/such/flow.json"], env("memory"), "no such flow file"),
    ],
)
def test_errors_are_one_clear_line(args: list[str], environment: dict[str, str], message: str) -> None:
    result = invoke(args, environment)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_a_broken_flow_file_is_named(tmp_path: Any) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = invoke(["warmup", str(broken)], env("memory"))
    assert result.exit_code == 2 and "broken.json is not a valid flow" in result.output
