"""Feedback from the example chat widget (issue 17), in headless Chromium: thumbs down and a
comment under a streamed answer land on that run, and the experiment's analysis counts them; with
a publishable key too, for the visitor's own session's answers only. (Across origins, from a
shop's page: test_publishing_widget_browser.py.)"""
from __future__ import annotations

import uuid

import pytest

from .conftest import TENANT_A, Api
from .harness import chat_flow
from .test_widget_browser import ARGS, rate_answer


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
                run_id = await rate_answer(page, "down", "too short")
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


@pytest.mark.browser
async def test_a_published_widget_visitor_rates_their_own_answers(api: Api, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    flow_id = f"widget-pub-{uuid.uuid4().hex[:6]}"
    async with api.client(api.token_a) as client:
        assert (await client.post("/api/flows", json=chat_flow(flow_id, chunks=3, text="one"))).status_code == 201
        created = (await client.post(f"/api/flows/{flow_id}/keys", json={"name": "example page"})).json()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
            try:
                page = await browser.new_page()
                await page.goto(api.url + "/widget")  # the app's own page: no origin to list
                await page.fill("#akis-token", created["key"])
                await page.fill("#akis-flow", flow_id)
                await page.fill("#akis-session", "visitor-7")
                await page.fill("#akis-input", "hello")
                await page.click("#akis-form button")
                run_id = await rate_answer(page, "up", "spot on")
                await page.fill("#akis-session", "visitor-8")  # another visitor cannot rate that answer
                await page.locator(".feedback [data-rating=down]").click()
                await page.wait_for_function(
                    "document.querySelector('#akis-status').textContent === 'This answer can no longer be rated.'")
            finally:
                await browser.close()
        assert run_id
        given = (await client.get(f"/api/runs/{run_id}/feedback")).json()
        assert given["rating"] == "up" and given["comment"] == "spot on"
        assert (await client.get(f"/api/runs/{run_id}")).json()["session_id"] == f"pub-{created['id']}-visitor-7"
