"""Signing in and out in headless Chromium: the sign-in page in the app's look asks no tenant,
the user lands on their tenant's flow, publishes it (the dialog's key answers on the example
page), the header names them and signs them out. Screenshots go to artifacts/users/ and
artifacts/publishing/. Plus the one case that asks for the tenant (a name and password that fit
users of two tenants)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .conftest import PASSWORD, TENANT_A, TENANT_B, Api
from .harness import chat_flow
from .test_auth import browser, form_token, make_user

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "users"
PUBLISH_SHOTS = SHOTS.parent / "publishing"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.mark.browser
async def test_sign_in_without_a_tenant_lands_on_the_users_flow_and_the_header_signs_out(
        api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    flow_id = f"team-flow-{uuid.uuid4().hex[:6]}"
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=chat_flow(flow_id, chunks=2))).status_code == 201
    SHOTS.mkdir(parents=True, exist_ok=True)
    PUBLISH_SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser_ = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            context = await browser_.new_context(viewport={"width": 1280, "height": 800})
            page = await context.new_page()
            await page.goto(f"{api.url}/flows/{flow_id}")
            assert page.url.startswith(f"{api.url}/login?next=")
            card = page.locator("[data-testid=login-form]")
            assert await card.locator(".brand").inner_text() == "A\nAkis"
            assert not await page.locator("[data-testid=login-tenant]").is_visible()  # folded away, not asked
            button = await page.locator("button[type=submit]").evaluate("e => getComputedStyle(e).backgroundColor")
            assert button == "rgb(79, 70, 229)"  # the app's primary colour (editor.theme.PRIMARY)
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", "not her password")
            await page.click("button[type=submit]")
            assert await page.locator(".error").inner_text() == "Wrong user name or password."
            await page.screenshot(path=str(SHOTS / "login_wrong_password.png"))
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{api.url}/flows/{flow_id}")
            await page.locator("[data-testid=canvas]").wait_for()  # tenant 2's flow, not "There is no flow"
            assert await page.locator("[data-testid=user-name]").inner_text() == "alice"
            await page.click("[data-testid=user-menu]")
            assert await page.locator("[data-testid=user-tenant]").inner_text() == f"tenant {TENANT_A}"
            await page.locator("[data-testid=logout]").wait_for()
            await page.wait_for_timeout(400)  # the menu's fade-in, for the screenshot only
            await page.screenshot(path=str(SHOTS / "header_signed_in.png"))
            await page.keyboard.press("Escape")
            await page.set_viewport_size({"width": 1024, "height": 768})  # a laptop: the header still fits
            box = await page.locator("[data-testid=user-menu]").bounding_box()
            assert box is not None and box["x"] + box["width"] <= 1024 and box["y"] < 52, box
            await page.screenshot(path=str(SHOTS / "header_signed_in_1024.png"))
            await page.set_viewport_size({"width": 1280, "height": 800})

            # Publish: a key for this flow, its snippet once, and Try it answers on the example page
            await page.click("[data-testid=publish]")
            await page.fill("[data-testid=publish-origins]", "https://shop.example")
            await page.fill("[data-testid=publish-name]", "Team chat")
            await page.click("[data-testid=publish-create]")
            snippet = page.locator("[data-testid=publish-snippet]")
            await snippet.wait_for()
            assert f'data-akis-flow="{flow_id}"' in await snippet.inner_text()
            await page.locator("[data-testid=publish-keys]").get_by_text("Team chat").wait_for()
            await page.screenshot(path=str(PUBLISH_SHOTS / "publish_dialog.png"))
            try_it = await page.locator("[data-testid=publish-try]").get_attribute("href")
            assert try_it is not None and "#key=akispub_" in try_it
            widget = await context.new_page()
            await widget.goto(api.url + try_it)
            await widget.fill("#akis-input", "hello")
            await widget.press("#akis-input", "Enter")
            await widget.wait_for_function(
                "document.querySelector('#akis-status').textContent.startsWith('answered')", timeout=20_000)
            assert await widget.locator(".msg.assistant").count() == 1
            await widget.close()
            await page.keyboard.press("Escape")

            await page.click("[data-testid=user-menu]")
            await page.click("[data-testid=logout]")
            await page.wait_for_url(f"{api.url}/login")
            await page.goto(f"{api.url}/")
            assert page.url.startswith(f"{api.url}/login")  # the session is gone
            await page.screenshot(path=str(SHOTS / "login_after_sign_out.png"))
        finally:
            await browser_.close()


async def test_a_name_and_password_in_two_tenants_ask_for_the_tenant(api: Api) -> None:
    name = f"twin-{uuid.uuid4().hex[:6]}"
    make_user(api, name, tenant=TENANT_A)
    make_user(api, name, tenant=TENANT_B)
    b_flow = f"b-only-{uuid.uuid4().hex[:6]}"
    async with api.client(api.token_b) as b:
        assert (await b.post("/api/flows", json=chat_flow(b_flow, chunks=2))).status_code == 201
    async with browser(api) as client:
        origin = {"Origin": api.url}
        token = form_token(await client.get("/login"))
        data = {"username": name, "password": PASSWORD, "csrf": token}
        asked = await client.post("/login", data=data, headers=origin)
        assert asked.status_code == 409 and "more than one tenant" in asked.text
        assert 'name="tenant" value="" required' in asked.text and "akis_session=" not in str(asked.headers)
        signed = await client.post("/login", data={**data, "tenant": TENANT_B}, headers=origin)
        assert signed.status_code == 303
        assert b_flow in {f["flow_id"] for f in (await client.get("/api/flows")).json()}  # signed in to B
