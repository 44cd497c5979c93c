"""One real app per API test module: a subprocess on a free loopback port over a tmp SQLite
database, with two tenants' tokens, an editor user, a revoked token and secret canaries. Per
module, not per session: the modules run on two workers in any order (scripts/test.sh), and
none may see what another left (runs, login throttles, flows)."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .harness import AppServer, free_port

TENANT_A, TENANT_B = "2", "3"
PASSWORD = "correct horse battery"
ALLOWED_ORIGIN = "http://shop.example"


@dataclass
class Api:
    server: AppServer
    token_a: str
    token_b: str
    revoked: str
    canaries: list[str]
    database_url: str

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def client(self, token: str | None = None, **options: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.headers(token), timeout=30.0, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from storage.db import init_db
    from storage.repos import tokens, users

    workdir: Path = tmp_path_factory.mktemp("akis-api")
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    canaries = [f"canary{n}-{secrets.token_hex(12)}" for n in range(4)]
    database = init_db(database_url, seed_demo=False)
    _, token_a = database.call(tokens.create_token, TENANT_A, "tests A")
    _, token_b = database.call(tokens.create_token, TENANT_B, "tests B")
    revoked_row, revoked = database.call(tokens.create_token, TENANT_A, "revoked")
    database.call(tokens.revoke_token, TENANT_A, revoked_row.id)
    database.call(users.create_user, TENANT_A, "alice", PASSWORD)
    database.dispose()
    server = AppServer(workdir, env={
        "AKIS_DATABASE_URL": database_url,
        "AKIS_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        "AKIS_SECRET_KEY": canaries[0],
        "ANTHROPIC_API_KEY": canaries[1],
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: provider calls fail
        "OPENAI_API_KEY": canaries[2],
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}",  # never api.openai.com (a credential test, a run)
        "SHOP_API_KEY": canaries[3],
        "SHOP_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }).start()
    try:
        yield Api(server, token_a, token_b, revoked, canaries, database_url)
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log, "the server logged a traceback during the API tests:\n" + log[-3000:]
    assert not any(canary in log for canary in canaries), "a secret reached the server log"
