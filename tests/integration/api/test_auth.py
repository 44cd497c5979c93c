"""Authentication: the route table walk, tokens, editor login, body rules, the bind check."""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from editor.auth.bind import UnsafeBind, check_bind, is_loopback
from editor.auth.guard import is_public

from .conftest import PASSWORD, TENANT_A, Api
from .harness import ROOT, chat_flow, server_env

ROUTE_DUMP = """
import asyncio
import json
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, WebSocketRoute
from runtime.settings import get_settings
from editor.server import setup
from nicegui import app
setup(get_settings())
rows = []
for r in iter_route_contexts(app.routes):
    route = r.original_route
    kind = "ws" if isinstance(route, WebSocketRoute) else "mount" if isinstance(route, Mount) else "http"
    rows.append({"path": r.path, "methods": sorted(getattr(route, "methods", None) or []), "kind": kind})
print("ROUTES=" + json.dumps(rows))
"""

SAMPLE = {"channel": f"tenant.{TENANT_A}.conversation.walk", "flow_id": "chat", "run_id": "r1"}


def route_table(api: Api) -> list[dict]:
    env = server_env({"AKIS_DATABASE_URL": api.database_url})
    out = subprocess.run([sys.executable, "-c", ROUTE_DUMP], cwd=api.server.workdir, env=env,
                         capture_output=True, text=True, timeout=120)
    line = next((l for l in out.stdout.splitlines() if l.startswith("ROUTES=")), None)
    assert line, out.stderr[-2000:]
    return json.loads(line[len("ROUTES="):])


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


async def test_every_route_needs_credentials_except_the_allowlist(api: Api) -> None:
    routes = route_table(api)
    api_paths = {r["path"] for r in routes if r["path"].startswith("/api/")}
    assert {"/api/flows", "/api/flows/{flow_id}/runs", "/api/channels/{channel}/events",
            "/api/channels/{channel}/ws", "/api/events", "/api/cache/stats", "/api/metrics"} <= api_paths
    checked = 0
    async with httpx.AsyncClient(base_url=api.url, timeout=30, follow_redirects=False) as client:
        for route in routes:
            path = concrete(route["path"])
            if route["kind"] == "mount":
                assert is_public(path + "/"), f"mount {route['path']} is not on the allowlist"
                continue
            if route["kind"] == "ws":
                with pytest.raises(InvalidStatus) as refused:
                    async with websockets.connect(api.url.replace("http", "ws") + path):
                        pass
                assert refused.value.response.status_code == 403, path
                checked += 1
                continue
            for method in route["methods"]:
                if method == "HEAD":
                    continue
                response = await client.request(method, path, json={} if method in ("POST", "PUT") else None)
                checked += 1
                assert response.status_code < 500, (method, path, response.status_code)
                if is_public(path):
                    continue
                if path.startswith("/api/"):
                    assert response.status_code == 401, (method, path, response.status_code)
                    assert response.headers.get("www-authenticate") == "Bearer"
                else:
                    assert response.status_code in (302, 303, 307), (method, path, response.status_code)
                    assert response.headers["location"].startswith("/login"), (method, path)
    assert checked >= 20


async def test_tokens_that_do_not_authenticate(api: Api) -> None:
    wrong_secret = api.token_a.rsplit("_", 1)[0] + "_" + "A" * 43
    for token in (api.revoked, wrong_secret, "akis_nope_nope", "Bearer", "x" * 5000):
        async with api.client(token) as client:
            assert (await client.get("/api/flows")).status_code == 401, token[:30]
    async with api.client(api.token_a) as client:
        assert (await client.get("/api/flows")).status_code == 200


async def test_login_sets_a_safe_cookie_and_logout_clears_it(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30, follow_redirects=False) as client:
        assert (await client.get("/")).headers["location"].startswith("/login")
        page = await client.get("/login")
        assert page.status_code == 200 and 'type="password"' in page.text
        wrong = await client.post("/login", data={"tenant": TENANT_A, "username": "alice", "password": "nope-nope"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        ok = await client.post("/login", data={"tenant": TENANT_A, "username": "alice", "password": PASSWORD,
                                                "next": "//evil.example/"})
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "akis_session=" in cookie
        assert (await client.get("/")).status_code == 200
        async with api.client(api.token_a) as token_client:
            await token_client.post("/api/flows", json=chat_flow("login-check"))
        listed = await client.get("/api/flows")  # the session acts for alice's tenant
        assert listed.status_code == 200 and "login-check" in {f["flow_id"] for f in listed.json()}
        out = await client.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert re.search(r"akis_session=(\"\")?;", out.headers["set-cookie"])
        assert (await client.get("/api/flows")).status_code == 401
        assert (await client.get("/")).headers["location"].startswith("/login")


async def test_a_forged_session_cookie_is_refused(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30, cookies={"akis_session": "eyJ0IjoiMiJ9.forged.sig"}) as c:
        assert (await c.get("/api/flows")).status_code == 401


async def test_tenant_in_a_body_is_refused(api: Api) -> None:
    async with api.client(api.token_b) as client:
        flow = {**chat_flow("tenant-body"), "tenant_id": TENANT_A}
        assert (await client.post("/api/flows", json=flow)).status_code == 422
        await client.post("/api/flows", json=chat_flow("tenant-body"))
        run = await client.post("/api/flows/tenant-body/runs", json={"inputs": {"user_message": "x"}, "tenant_id": "2"})
        assert run.status_code == 422
        sneaky = await client.post("/api/flows/tenant-body/runs", json={"inputs": {"user_message": "x", "tenant_id": "2"}})
        assert sneaky.status_code == 422
        event = await client.post("/api/events", json={"event": "product.updated", "tenant_id": "2"})
        assert event.status_code == 422


async def test_body_size_limit(api: Api) -> None:
    async with api.client(api.token_a) as client:
        big = b'{"inputs": {"user_message": "' + b"x" * (7 * 1024 * 1024) + b'"}}'
        response = await client.post("/api/flows/chat/runs", content=big, headers={"content-type": "application/json"})
        assert response.status_code == 413

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(8):
                yield b"x" * (1024 * 1024)

        streamed = await client.post("/api/flows/chat/runs", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.1", "example.org", ""))


def test_bind_check_needs_a_user_or_a_token(tmp_path) -> None:
    from storage.db import init_db
    from storage.repos.tokens import create_token, revoke_token

    database = init_db(f"sqlite:///{tmp_path / 'b.db'}", seed_demo=False)
    check_bind("127.0.0.1", database)
    with pytest.raises(UnsafeBind, match="no editor users and no API tokens"):
        check_bind("0.0.0.0", database)
    row, _ = database.call(create_token, "1", "")
    check_bind("0.0.0.0", database)
    database.call(revoke_token, "1", row.id)
    with pytest.raises(UnsafeBind):
        check_bind("0.0.0.0", database)
    database.dispose()


def test_the_app_refuses_a_public_address_without_credentials(tmp_path) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: even a broken check could not expose anything.
    env = server_env({"AKIS_HOST": "192.0.2.1", "AKIS_PORT": "8080",
                      "AKIS_DATABASE_URL": f"sqlite:///{tmp_path / 'akis.db'}"})
    out = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert "refusing to listen on 192.0.2.1" in out.stderr
    assert "Traceback" not in out.stderr


async def test_a_revoked_token_stops_working(api: Api) -> None:
    from storage.db import Database
    from storage.repos.tokens import create_token, revoke_token

    database = Database(api.database_url)
    row, token = database.call(create_token, TENANT_A, "short-lived")
    async with api.client(token) as client:
        assert (await client.get("/api/flows")).status_code == 200
        database.call(revoke_token, TENANT_A, row.id)
        await asyncio.sleep(2.2)  # verified tokens are remembered for 2 s
        assert (await client.get("/api/flows")).status_code == 401
    database.dispose()


async def test_cors_is_off_unless_configured(api: Api) -> None:
    async with api.client(api.token_a) as client:
        preflight = await client.options("/api/flows", headers={"Origin": "http://shop.example",
                                                                "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in preflight.headers
        plain = await client.get("/api/flows", headers={"Origin": "http://shop.example"})
        assert "access-control-allow-origin" not in plain.headers


async def test_deleting_a_user_ends_their_sessions(api: Api) -> None:
    from storage.db import Database
    from storage.repos.users import create_user, delete_user

    database = Database(api.database_url)
    database.call(create_user, TENANT_A, "temp", PASSWORD)
    async with httpx.AsyncClient(base_url=api.url, timeout=30, follow_redirects=False) as client:
        ok = await client.post("/login", data={"tenant": TENANT_A, "username": "temp", "password": PASSWORD})
        assert ok.status_code == 303
        assert (await client.get("/api/flows")).status_code == 200
        database.call(delete_user, TENANT_A, "temp")
        await asyncio.sleep(5.2)  # a user's presence is remembered for 5 s
        assert (await client.get("/api/flows")).status_code == 401
        assert (await client.get("/")).headers["location"].startswith("/login")
    database.dispose()


async def test_api_docs_work_offline(api: Api) -> None:
    """/docs serves Swagger UI from the app itself: the page works without internet."""
    async with api.client() as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower().replace("/docs/assets", "")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and "SwaggerUIBundle" in script.text
        css = await client.get("/docs/assets/swagger-ui.css")
        assert css.status_code == 200 and ".swagger-ui" in css.text
