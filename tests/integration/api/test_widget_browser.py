"""The example chat widget in headless Chromium: it subscribes, starts a run and shows the
streamed answer, chunk by chunk, exactly as the run returned it."""
from __future__ import annotations

import pytest

from .conftest import TENANT_A, Api
from .harness import chat_flow

ANSWER = "Merhaba! For 2 tons on flat floors the PJ-2000 pallet jack fits; for long runs the EPJ-1500."
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.mark.browser
async def test_widget_streams_an_answer(api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    async with api.client(api.token_a) as client:
        created = await client.post("/api/flows", json=chat_flow("widget-demo", chunks=20, tokens_per_second=50,
                                                                 text=ANSWER))
        assert created.status_code in (201, 409)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = await browser.new_page()
            await page.goto(api.url + "/widget")
            await page.fill("#akis-token", api.token_a)
            await page.fill("#akis-flow", "widget-demo")
            await page.fill("#akis-tenant", TENANT_A)
            await page.fill("#akis-input", "Transpalet arıyorum, 2 ton")
            await page.click("#akis-form button")
            await page.wait_for_function(
                "document.querySelector('#akis-status').textContent.startsWith('answered')", timeout=30_000)
            bubbles = await page.locator("#akis-messages .msg.assistant").all_inner_texts()
            assert bubbles == [ANSWER]
        finally:
            await browser.close()
