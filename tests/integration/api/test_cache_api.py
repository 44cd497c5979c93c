"""Cache over HTTP: an event clears its tags for the caller's tenant only; stats are per tenant."""
from __future__ import annotations

from .conftest import Api
from .harness import search_flow


async def cache_outcome(client, flow_id: str) -> str:
    response = await client.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "pallet jack"}})
    assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text
    return response.json()["nodes"]["search"]["cache"]


async def test_cache_event_clears_only_the_callers_tenant(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client(api.token_b) as b:
        for client in (a, b):
            assert (await client.post("/api/flows", json=search_flow("cached-search"))).status_code in (201, 409)
            await cache_outcome(client, "cached-search")
            assert await cache_outcome(client, "cached-search") == "hit"
        cleared = await b.post("/api/events", json={"event": "product.updated"})
        assert cleared.status_code == 200 and cleared.json() == {
            "event": "product.updated",
            "tags_cleared": ["products"],
        }
        assert await cache_outcome(b, "cached-search") == "miss"
        assert await cache_outcome(a, "cached-search") == "hit"  # tenant A's entries were not touched
        unknown = await a.post("/api/events", json={"event": "nothing.mapped"})
        assert unknown.json()["tags_cleared"] == []
        stats = (await a.get("/api/cache/stats")).json()
        assert stats["node_types"]["product_search"]["hits"] >= 2
        assert all(key.startswith("tenant_2_") or "tenant_2_" in key for key in stats["keys"])


async def test_a_flows_own_cache_events_count(api: Api) -> None:
    flow = search_flow("cached-search-events")
    flow["settings"] = {"cache_events": {"catalogue.reloaded": ["products"]}}
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=flow)).status_code in (201, 409)
        cleared = await a.post("/api/events", json={"event": "catalogue.reloaded"})
        assert cleared.json()["tags_cleared"] == ["products"]
        bad = {**flow, "flow_id": "bad-tags", "settings": {"cache_events": {"x": ["not a tag!"]}}}
        assert (await a.post("/api/flows", json=bad)).status_code == 422


async def test_stored_mappings_are_learned_per_tenant_at_start(tmp_path) -> None:
    from editor.services.flows import FlowService
    from runtime.cache import CacheEvents, build_cache
    from runtime.nodes.registry import default_registry
    from runtime.settings import AkisSettings
    from storage.db import init_db
    from storage.models import Flow, FlowVersion
    from storage.repos.flows import save_flow
    from storage.types import utcnow

    database = init_db(f"sqlite:///{tmp_path / 'events.db'}", seed_demo=False)
    five = {**search_flow("five"), "settings": {"cache_events": {"product.updated": ["t5-injected-tag"]}}}
    two = {**search_flow("two"), "settings": {"cache_events": {"stock.changed": ["stock"]}}}
    database.call(save_flow, "5", five)
    database.call(save_flow, "2", two)

    def poisoned(session) -> None:  # a row an older version stored: skipped, the others still count
        now = utcnow()
        session.add(Flow(tenant_id="2", id="old", name="", current_version=1, created_at=now, updated_at=now))
        session.add(FlowVersion(tenant_id="2", flow_id="old", version=1, created_at=now,
                                document={"flow_id": "old", "nodes": [{"id": "a", "type": "x", "label": "\ud800"}],
                                          "settings": {"cache_events": {"x": ["y"]}}}))

    database.call(poisoned)
    cache = build_cache(AkisSettings(_env_file=None))
    events = CacheEvents(cache)
    await FlowService(database, default_registry(), events).learn_stored_events()
    assert events.tags_for("2", "product.updated") == ["products"]
    assert events.tags_for("5", "product.updated") == ["products", "t5-injected-tag"]
    assert events.tags_for("2", "stock.changed") == ["stock"]
    assert events.tags_for("2", "x") == [] and events.tags_for("5", "stock.changed") == []
    await cache.close()
    database.dispose()
