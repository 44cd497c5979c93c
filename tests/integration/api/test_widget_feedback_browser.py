"""Feedback from the example chat widget (issue 17), in headless Chromium: thumbs down and a
comment under a streamed answer land on that run, and the experiment's analysis counts them."""
from __future__ import annotations

import uuid

import pytest

from .conftest import TENANT_A, Api
from .harness import chat_flow
from .test_widget_browser import ARGS


@pytest.mark.browser
async def test_thumbs_and_a_comment_from_the_widget_land_on_the_run(api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    flow_id = f"widget-ab-{uuid.uuid4().hex[:6]}"
    async with api.client(api.token_a) as client:
        assert (await client.post("/api/flows", json=chat_flow(flow_id, chunks=3, text="one"))).status_code == 201
        assert (await client.put(f"/api/flows/{flow_id}", json=chat_flow(flow_id, chunks=3, text="two"))).is_success
        experiment = (await client.post("/api/experiments", json={
            "flow_id": flow_id, "start": True, "min_runs": 10, "primary_metric": "positive_feedback",
            "variants": [{"name": "A", "version": 1, "weight": 50}, {"name": "B", "version": 2, "weight": 50}]})).json()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
            try:
                page = await browser.new_page()
                await page.goto(api.url + "/widget")
                await page.fill("#akis-token", api.token_a)
                await page.fill("#akis-flow", flow_id)
                await page.fill("#akis-tenant", TENANT_A)
                await page.fill("#akis-input", "hello")
                await page.click("#akis-form button")
                bar = page.locator(".feedback")
                await bar.wait_for(timeout=30_000)
                run_id = await bar.get_attribute("data-run-id")
                await bar.locator("[data-rating=down]").click()
                await page.wait_for_function(
                    "document.querySelector('#akis-status').textContent === 'thanks for the feedback'")
                await bar.locator("input").fill("too short")
                await bar.locator("button", has_text="Send").click()
                await page.wait_for_function("document.querySelector('.feedback input').disabled")
            finally:
                await browser.close()
        assert run_id
        given = (await client.get(f"/api/runs/{run_id}/feedback")).json()
        assert given["rating"] == "down" and given["comment"] == "too short"
        stored = await client.get(f"/api/runs/{run_id}")
        assert stored.json()["experiment_id"] == experiment["id"]
        analysis = (await client.get(f"/api/experiments/{experiment['id']}/analysis")).json()
        assert sum(v["feedback_count"] for v in analysis["variants"]) == 1
    async with api.client(api.token_b) as other:
        assert (await other.get(f"/api/runs/{run_id}/feedback")).status_code == 404
