"""``/api/credentials`` through the real app: write-only, per tenant, encrypted at rest."""
from __future__ import annotations

from sqlalchemy import create_engine, text

from .conftest import TENANT_A, Api

KEY = "sk-api-canary-3a9d"


def stored_secrets(api: Api) -> list[str]:
    """Tenant A's credential rows as the database holds them."""
    engine = create_engine(api.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT secret_encrypted FROM credentials WHERE tenant_id = :t"),
                                      {"t": TENANT_A}).all()
    finally:
        engine.dispose()
    return [row[0] for row in rows]


async def test_a_stored_key_is_never_answered_and_belongs_to_one_tenant(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client(api.token_b) as b:
        loopback = await a.put("/api/credentials/openai", json={"api_key": KEY, "base_url": "http://127.0.0.1:9/v1"})
        assert loopback.status_code == 422 and "AKIS_HTTP_ALLOW_HOSTS" in loopback.text  # the server's own network
        url = "https://llm.example.com/v1"
        saved = await a.put("/api/credentials/openai", json={"api_key": KEY, "base_url": url})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"provider": "openai", "key_stored": True, "base_url": url}
        listed = await a.get("/api/credentials")
        assert KEY not in listed.text
        assert {"provider": "openai", "key_stored": True, "base_url": url} in listed.json()
        assert stored_secrets(api) and all(KEY not in secret for secret in stored_secrets(api))  # encrypted
        other = (await b.get("/api/credentials")).json()
        assert all(not row["key_stored"] for row in other)  # tenant B sees nothing of tenant A
        assert (await b.delete("/api/credentials/openai")).status_code == 404
        # a test with the environment's anthropic key (its base URL is a closed loopback port): it says so
        tested = await a.post("/api/credentials/anthropic/test", json={})
        assert tested.status_code == 200 and tested.json()["ok"] is False
        assert "anthropic" in tested.json()["message"] and not any(c in tested.text for c in api.canaries)
        # bad input is named, nothing lost
        bad = await a.put("/api/credentials/openai", json={"base_url": "ftp://x"})
        assert bad.status_code == 422 and "not an http(s) URL" in bad.text
        assert (await a.put("/api/credentials/teleporter", json={"api_key": "x"})).status_code == 422
        assert (await a.delete("/api/credentials/openai")).status_code == 204
        assert (await a.delete("/api/credentials/openai")).status_code == 404

