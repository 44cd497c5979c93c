"""The example chat widget in headless Chromium: it subscribes, starts a run (with a W3C
``traceparent``) and shows the streamed answer, chunk by chunk, exactly as the run returned it."""
from __future__ import annotations

import re
from typing import Any

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
            sent: list[str | None] = []
            page.on("request", lambda r: sent.append(r.headers.get("traceparent")) if r.method == "POST" else None)
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
            # the run request carried a W3C traceparent (a trace of its own, sampled), shown on the bubble
            (parent,) = sent
            assert parent is not None and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", parent), parent
            trace_id = await page.locator("#akis-messages .msg.user").get_attribute("data-trace-id")
            assert trace_id == parent.split("-")[1] and trace_id != "0" * 32
        finally:
            await browser.close()


async def rate_answer(page: Any, rating: str, comment: str) -> str | None:
    """Rate the widget's answer (thumbs ``rating``, then ``comment``) as a visitor does; its run id."""
    bar = page.locator(".feedback")
    await bar.wait_for(timeout=30_000)
    run_id: str | None = await bar.get_attribute("data-run-id")
    await bar.locator(f"[data-rating={rating}]").click()
    await page.wait_for_function("document.querySelector('#akis-status').textContent === 'thanks for the feedback'")
    await bar.locator("input").fill(comment)
    await bar.locator("button", has_text="Send").click()
    await page.wait_for_function("document.querySelector('.feedback input').disabled")
    return run_id
