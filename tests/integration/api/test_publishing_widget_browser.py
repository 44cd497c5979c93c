"""The chat widget embedded on another site with a publishable key, in headless Chromium.

The shop's page (another origin: a server of its own on another port) holds the snippet the
API gave; the widget answers across origins (CORS), the visitor rates an answer, and each
failure a visitor can meet is put in words, never ``401 {"detail": ...}``: too many messages, a
revoked key, a site the key is not for, the network gone, and on the example page an API token
that was revoked.
Screenshots go to artifacts/publishing/."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import Api
from .harness import chat_flow
from .test_widget_browser import rate_answer

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "publishing"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ANSWER = "The PJ-2000 lifts two tons."
RAW = ("401", "403", "429", "detail", "akispub_")


async def ask(page: Any, text: str) -> str:
    """Send ``text``; the newest assistant answer or notice once one appears for it."""
    before = await page.locator("#akis-messages .msg.assistant, #akis-messages .msg.notice").count()
    await page.fill("#akis-input", text)
    await page.press("#akis-input", "Enter")
    reply = page.locator("#akis-messages .msg.assistant, #akis-messages .msg.notice").nth(before)
    await reply.wait_for(timeout=20_000)
    if "assistant" in (await reply.get_attribute("class") or ""):
        await page.wait_for_function("document.querySelector('#akis-status').textContent.startsWith('answered')")
    return str(await reply.inner_text())


def shop_page(snippet: str) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Pallet shop</title></head>
<body style="font-family: sans-serif; background: #f1f5f9; margin: 0; padding: 2rem">
<h1>Pallet shop</h1><p>Our forklifts and pallet jacks.</p>
{snippet}
</body></html>"""


@contextmanager
def shop_site(pages: dict[str, str]) -> Iterator[str]:
    """Another site on loopback serving ``pages``; yields its origin."""

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            body = pages.get(self.path.split("?")[0], "not found").encode("utf-8")
            self.send_response(200 if self.path.split("?")[0] in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
async def test_the_embedded_widget_answers_and_puts_every_failure_in_words(api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    pages: dict[str, str] = {}
    with shop_site(pages) as shop:
        await embedded_widget_checks(api, chromium_path, shop, pages, async_playwright)


async def embedded_widget_checks(api: Api, chromium_path: str, shop: str, pages: dict[str, str],
                                 async_playwright: Any) -> None:
    flow_id = f"shop-chat-{uuid.uuid4().hex[:6]}"
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=chat_flow(flow_id, chunks=4, text=ANSWER))).status_code == 201
        created = (await a.post(f"/api/flows/{flow_id}/keys", json={
            "name": "Ask the shop", "allowed_origins": [shop], "rate_per_minute": 2})).json()
        elsewhere = (await a.post(f"/api/flows/{flow_id}/keys", json={
            "allowed_origins": ["https://another-site.example"]})).json()
    assert created["snippet"].startswith(f'<script src="{api.url}/widget/widget.js"')
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages["/shop.html"] = shop_page(created["snippet"])
    pages["/elsewhere.html"] = shop_page(elsewhere["snippet"])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 760})
            await page.goto(f"{shop}/shop.html")
            await page.click("#akis-launcher")
            assert await page.locator("#akis-chat .akis-title").inner_text() == "Ask the shop"
            assert await ask(page, "Which pallet jack for two tons?") == ANSWER
            rated = await rate_answer(page, "up", "Exactly what I needed")  # across origins too
            await page.screenshot(path=str(SHOTS / "widget_embedded_answer.png"))

            await ask(page, "And for three?")  # the second of two a minute
            limited = await ask(page, "And for four?")
            assert limited.startswith("You are sending messages too quickly. Please wait"), limited

            async with api.client(api.token_a) as a:
                assert (await a.delete(f"/api/keys/{created['id']}")).status_code == 204
            revoked = await ask(page, "Still there?")
            assert revoked == "This chat is not available right now (the key was revoked).", revoked
            await page.screenshot(path=str(SHOTS / "widget_revoked.png"))

            await page.goto(f"{shop}/elsewhere.html")
            await page.click("#akis-launcher")
            assert await ask(page, "Hello?") == "This chat is not enabled on this website."
            await page.route(f"{api.url}/api/widget/**", lambda route: route.abort("internetdisconnected"))
            offline = await ask(page, "Hello again?")
            assert offline == "Can't reach the chat service. Check your connection and try again.", offline
            await page.screenshot(path=str(SHOTS / "widget_offline.png"))
            notices = await page.locator(".msg.notice").all_inner_texts()

            await page.goto(api.url + "/widget")  # the example page with an API token that was revoked
            await page.fill("#akis-token", api.revoked)
            await page.fill("#akis-flow", flow_id)
            token_refused = await ask(page, "hi")
            assert token_refused == "This chat is not available right now (its access was not accepted).", token_refused
            assert await page.locator(".msg.notice").count() == 1  # said once, and no run was sent
            await page.screenshot(path=str(SHOTS / "widget_token_refused.png"))
        finally:
            await browser.close()
    for text in [*notices, limited, revoked, token_refused]:
        assert not any(raw in text for raw in RAW), text
    async with api.client(api.token_a) as a:
        given = (await a.get(f"/api/runs/{rated}/feedback")).json()
    assert (given["rating"], given["comment"]) == ("up", "Exactly what I needed"), given
