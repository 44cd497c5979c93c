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

from .conftest import PASSWORD, TENANT_A, TENANT_B, Api
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
EVIL = "http://evil.example"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')


def form_token(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found and found.group(1), "the sign-in form carries a token"
    return found.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD, tenant: str = TENANT_A,
                **fields: str) -> httpx.Response:
    """Sign in as a browser does: fetch the form (its token and pre-session cookie), post it
    from the page (the browser adds the page's Origin)."""
    token = form_token(await client.get("/login"))
    data = {"tenant": tenant, "username": username, "password": password, "csrf": token, **fields}
    return await client.post("/login", data=data, headers={"Origin": str(client.base_url).rstrip("/")})


def browser(api: Api, **options: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, timeout=30, follow_redirects=False, **options)  # type: ignore[arg-type]


def make_user(api: Api, username: str, password: str = PASSWORD, tenant: str = TENANT_A) -> None:
    from storage.db import Database
    from storage.repos.users import create_user

    database = Database(api.database_url)
    try:
        database.call(create_user, tenant, username, password)
    finally:
        database.dispose()


async def signed_out(client: httpx.AsyncClient) -> bool:
    """Neither the API nor the pages take this browser's cookie."""
    return ((await client.get("/api/flows")).status_code == 401
            and (await client.get("/")).headers.get("location", "").startswith("/login"))


def route_table(api: Api) -> list[dict]:
    env = server_env({"AKIS_DATABASE_URL": api.database_url})
    out = subprocess.run([sys.executable, "-c", ROUTE_DUMP], cwd=api.server.workdir, env=env,
                         capture_output=True, text=True, timeout=120)
    line = next((row for row in out.stdout.splitlines() if row.startswith("ROUTES=")), None)
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
                if method == "OPTIONS" and path.startswith("/api/widget/"):
                    assert response.status_code == 204, path  # a CORS preflight: no credential by design
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
        wrong = await login(client, "alice", "nope-nope")
        assert wrong.status_code == 401 and "akis_session=" not in wrong.headers.get("set-cookie", "")
        ok = await login(client, "alice", next="//evil.example/")
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = next(c.lower() for c in ok.headers.get_list("set-cookie") if c.startswith("akis_session="))
        assert "httponly" in cookie and "samesite=lax" in cookie
        device = next(c.lower() for c in ok.headers.get_list("set-cookie") if c.startswith("akis_device="))
        assert "httponly" in device and "samesite=strict" in device and "path=/login" in device
        assert (await client.get("/")).status_code == 200
        async with api.client(api.token_a) as token_client:
            await token_client.post("/api/flows", json=chat_flow("login-check"))
        listed = await client.get("/api/flows")  # the session acts for alice's tenant
        assert listed.status_code == 200 and "login-check" in {f["flow_id"] for f in listed.json()}
        assert (await client.get("/logout")).status_code == 200, "a GET only asks (a link elsewhere signs nobody out)"
        assert (await client.get("/api/flows")).status_code == 200
        out = await client.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert re.search(r"akis_session=(\"\")?;", out.headers["set-cookie"])
        assert (await client.get("/api/flows")).status_code == 401
        assert (await client.get("/")).headers["location"].startswith("/login")


async def test_a_forged_session_cookie_is_refused(api: Api) -> None:
    async with httpx.AsyncClient(
        base_url=api.url, timeout=30, cookies={"akis_session": "eyJ0IjoiMiJ9.forged.sig"}
    ) as c:
        assert (await c.get("/api/flows")).status_code == 401


async def test_tenant_in_a_body_is_refused(api: Api) -> None:
    async with api.client(api.token_b) as client:
        flow = {**chat_flow("tenant-body"), "tenant_id": TENANT_A}
        assert (await client.post("/api/flows", json=flow)).status_code == 422
        await client.post("/api/flows", json=chat_flow("tenant-body"))
        run = await client.post("/api/flows/tenant-body/runs", json={"inputs": {"user_message": "x"}, "tenant_id": "2"})
        assert run.status_code == 422
        sneaky = await client.post(
            "/api/flows/tenant-body/runs", json={"inputs": {"user_message": "x", "tenant_id": "2"}}
        )
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

        streamed = await client.post(
            "/api/flows/chat/runs", content=chunks(), headers={"content-type": "application/json"}
        )
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
    from storage.repos.users import create_user
    from tests.integration.storage.rows import delete_user

    database = Database(api.database_url)
    database.call(create_user, TENANT_A, "temp", PASSWORD)
    async with httpx.AsyncClient(base_url=api.url, timeout=30, follow_redirects=False) as client:
        ok = await login(client, "temp")
        assert ok.status_code == 303
        assert (await client.get("/api/flows")).status_code == 200
        database.call(delete_user, TENANT_A, "temp")
        await asyncio.sleep(1.2)  # the session records went with the user; a check is remembered for 1 s
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


# --- login CSRF and cross-site state changes -----------------------------------------------------------
async def test_a_cross_site_login_is_refused_and_the_browser_stays_signed_out(api: Api) -> None:
    """Login CSRF: another site's page posts the attacker's credentials to /login from the
    victim's browser. Refused without the page's Origin or without the form's token, and the
    victim's browser gets no session."""
    make_user(api, "mallory")
    attacker = {"tenant": TENANT_A, "username": "mallory", "password": PASSWORD}
    async with browser(api) as own:  # the attacker's own browser: a valid token of *its* pre-session cookie
        attackers_token = form_token(await own.get("/login"))
    async with browser(api) as victim:
        await victim.get("/login")  # the victim has a pre-session cookie of its own, too
        tries = [
            ({"Origin": EVIL}, {}),  # a plain cross-site form, no token
            ({"Origin": EVIL}, {"csrf": attackers_token}),  # another browser's token
            ({"Origin": "null"}, {"csrf": attackers_token}),  # a sandboxed frame
            ({"Referer": EVIL + "/trap.html"}, {}),  # no Origin (an older browser): the Referer decides
            ({"Sec-Fetch-Site": "cross-site"}, {}),
            ({}, {}),  # no Origin at all: still no token
            ({"Origin": api.url}, {"csrf": attackers_token}),  # the right Origin, a token bound to another browser
            ({"Origin": api.url}, {"csrf": ""}),
        ]
        for headers, fields in tries:
            response = await victim.post("/login", data={**attacker, **fields}, headers=headers)
            assert response.status_code == 403, (headers, fields, response.status_code)
            assert "akis_session=" not in response.headers.get("set-cookie", ""), (headers, fields)
            assert await signed_out(victim), (headers, fields)
        ok = await login(victim, "mallory")  # the same browser, from the page itself: signed in
        assert ok.status_code == 303 and (await victim.get("/api/flows")).status_code == 200


async def test_every_cookie_state_change_refuses_another_sites_page(api: Api) -> None:
    """Each route that changes something, sent with a live session cookie by another site's page,
    answers 403 and changes nothing; the same request from the app's own page gets through."""
    routes = route_table(api)
    # the chat widget's run takes no cookie, only a publishable key (test_publishing_api.py)
    unsafe = sorted((m, r["path"]) for r in routes if r["kind"] == "http" and r["path"].startswith("/api/")
                    and not r["path"].startswith("/api/widget/")
                    for m in r["methods"] if m in ("POST", "PUT", "PATCH", "DELETE"))
    assert {("POST", "/api/flows"), ("DELETE", "/api/flows/{flow_id}"), ("POST", "/api/flows/{flow_id}/runs"),
            ("DELETE", "/api/sessions"), ("DELETE", "/api/sessions/{session_id}")} <= set(unsafe)
    make_user(api, "walker")
    async with browser(api) as client:
        assert (await login(client, "walker")).status_code == 303
        for method, path in unsafe:
            body = chat_flow("cross-site") if path in ("/api/flows", "/api/flows/import") else {}
            for headers in ({"Origin": EVIL}, {"Referer": EVIL + "/x"}, {"Sec-Fetch-Site": "cross-site"},
                            {"Origin": "null"}):
                response = await client.request(method, concrete(path), json=body, headers=headers)
                assert response.status_code == 403, (method, path, headers, response.status_code)
        assert "cross-site" not in {f["flow_id"] for f in (await client.get("/api/flows")).json()}
        for method, path in unsafe:
            if path.startswith("/api/sessions"):
                continue  # would end this session: tested below
            response = await client.request(method, concrete(path), json={}, headers={"Origin": api.url})
            assert response.status_code not in (401, 403), (method, path, response.status_code)
        refused = await client.post("/logout", headers={"Origin": EVIL})
        assert refused.status_code == 403 and (await client.get("/api/flows")).status_code == 200
        gone = await client.delete("/api/sessions", headers={"Origin": api.url})
        assert gone.status_code == 200 and gone.json() == {"revoked": 1}
        assert await signed_out(client)


# --- server-side sessions -------------------------------------------------------------------------------
async def test_a_copied_cookie_is_refused_after_logout(api: Api) -> None:
    make_user(api, "copycat")
    async with browser(api) as owner:
        assert (await login(owner, "copycat")).status_code == 303
        copied = owner.cookies.get("akis_session")
        assert copied
        async with browser(api, cookies={"akis_session": copied}) as thief:
            assert (await thief.get("/api/flows")).status_code == 200
            assert (await thief.get("/")).status_code == 200
            assert (await owner.post("/logout")).status_code == 303
            assert await signed_out(thief), "the copied cookie still works after logout"
            assert (await thief.delete("/api/sessions")).status_code == 401


async def test_sessions_are_listed_and_revoked_and_all_end_with_a_password_change(api: Api) -> None:
    from storage.db import Database
    from storage.repos.users import set_password

    make_user(api, "sam")
    async with browser(api, headers={"User-Agent": "laptop"}) as laptop, \
            browser(api, headers={"User-Agent": "phone"}) as phone:
        assert (await login(laptop, "sam")).status_code == 303
        assert (await login(phone, "sam")).status_code == 303
        listed = (await laptop.get("/api/sessions")).json()
        assert sorted(s["user_agent"] for s in listed) == ["laptop", "phone"]
        assert [s["user_agent"] for s in listed if s["current"]] == ["laptop"]
        phones = next(s["id"] for s in listed if s["user_agent"] == "phone")
        async with api.client(api.token_a) as token_client:  # a token has no sessions, and ends none
            assert (await token_client.get("/api/sessions")).json() == []
            assert (await token_client.delete(f"/api/sessions/{phones}")).status_code == 404
        async with api.client(api.token_b) as other_tenant:
            assert (await other_tenant.delete(f"/api/sessions/{phones}")).status_code == 404
        make_user(api, "sam", tenant=TENANT_B)
        async with browser(api) as other_sam:  # the same name in another tenant: not the same user
            assert (await login(other_sam, "sam", tenant=TENANT_B)).status_code == 303
            assert (await other_sam.delete(f"/api/sessions/{phones}")).status_code == 404
            assert phones not in {s["id"] for s in (await other_sam.get("/api/sessions")).json()}
        assert (await phone.get("/api/flows")).status_code == 200
        assert (await laptop.delete(f"/api/sessions/{phones}")).status_code == 204
        assert await signed_out(phone), "a revoked session still works"
        assert (await laptop.get("/api/flows")).status_code == 200
        assert [s["user_agent"] for s in (await laptop.get("/api/sessions")).json()] == ["laptop"]
        assert (await login(phone, "sam")).status_code == 303
        database = Database(api.database_url)  # the password changes elsewhere (akis user passwd)
        try:
            database.call(set_password, TENANT_A, "sam", "a new password for sam")
        finally:
            database.dispose()
        await asyncio.sleep(1.2)  # another process's change: seen once the 1 s check expires
        assert await signed_out(laptop) and await signed_out(phone)
        assert (await login(laptop, "sam")).status_code == 401
        assert (await login(laptop, "sam", "a new password for sam")).status_code == 303


# --- the sign-in throttle -------------------------------------------------------------------------------
async def test_the_right_password_passes_from_a_known_browser_while_an_unknown_one_waits(api: Api) -> None:
    make_user(api, "kim")
    async with browser(api) as kims, browser(api) as attacker, browser(api) as new_browser:
        assert (await login(kims, "kim")).status_code == 303  # kim's own browser, known from now on
        assert (await kims.post("/logout")).status_code == 303
        statuses = [(await login(attacker, "kim", f"guess number {n}")).status_code for n in range(10)]
        assert statuses == [401] * 5 + [429] * 5, statuses  # after five failures the next try waits
        refused = await login(new_browser, "kim")  # the right password, from a browser kim never used
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 2
        assert "akis_session=" not in refused.headers.get("set-cookie", "")
        assert (await login(kims, "kim")).status_code == 303, "kim's own browser was locked out"
        assert (await kims.get("/api/flows")).status_code == 200
        assert (await login(new_browser, "kim")).status_code == 429  # still waiting: kim's success reset nothing of it
