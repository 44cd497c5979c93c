"""The example chat widget shows an answer's numbered sources, each opening to its passage
(headless Chromium against the real app). A screenshot goes to artifacts/knowledge/widget.png."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .conftest import TENANT_A, Api
from .test_knowledge_api import citing_flow
from .test_widget_browser import ARGS

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "knowledge"


@pytest.mark.browser
async def test_the_widget_lists_the_sources_of_a_citing_answer(api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    base = "widget-" + uuid.uuid4().hex[:8]
    flow = citing_flow("widget-cites-" + base, base)
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/knowledge", json={"id": base})).status_code == 201
        await a.put(f"/api/knowledge/{base}/documents/returns.md",
                    content=b"# Returns\n\nReturns are accepted within 30 days. A restocking fee of 10% applies.")
        await a.put(f"/api/knowledge/{base}/documents/shipping.md", content=b"Delivery takes 2 to 4 days.")
        assert (await a.post("/api/flows", json=flow)).status_code == 201
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 900})
            await page.goto(api.url + "/widget")
            await page.fill("#akis-token", api.token_a)
            await page.fill("#akis-flow", str(flow["flow_id"]))
            await page.fill("#akis-tenant", TENANT_A)
            await page.fill("#akis-input", "Is there a restocking fee?")
            await page.click("#akis-form button")
            await page.wait_for_function(
                "document.querySelector('#akis-status').textContent.startsWith('answered')", timeout=30_000)
            summaries = await page.locator(".sources summary").all_inner_texts()
            assert summaries[0] == "[1] returns.md · part 1"
            passage = page.locator("#akis-source-1 .passage")
            assert not await passage.is_visible()  # closed until clicked
            await page.click("#akis-source-1 summary")
            assert await passage.is_visible()
            assert "A restocking fee of 10% applies." in await passage.inner_text()
            answer = await page.locator("#akis-messages .msg.assistant").first.inner_text()
            assert "[1]" in answer.split("[1] returns.md")[0]  # the answer cites before the list begins
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "widget.png"))
        finally:
            await browser.close()
