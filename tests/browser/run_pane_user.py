"""The run pane under NiceGUI's simulated ``User``: a page holding a canvas and the pane, with a
real engine and storage on a private SQLite file; what the pane sends to the canvas is recorded."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from editor.run_pane import RunPane

from .run_pane_app import PAGES, make_context, run_pane_page


@dataclass
class Page:
    user: User
    pane: RunPane
    context: Any
    name: str
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def document(self) -> Any:
        return PAGES[self.name]["document"]

    def statuses(self, node_id: str) -> list[str | None]:
        return [p["status"] for n, p in self.patches if n == node_id and "status" in p]

    def has(self, marker: str) -> bool:
        try:
            return bool(self.user.find(marker=marker).elements)
        except AssertionError:
            return False

    async def click(self, marker: str) -> None:
        self.user.find(marker=marker).click()
        await asyncio.sleep(0)

    async def until(self, condition: Any, limit_s: float = 10.0, what: str = "condition") -> None:
        deadline = asyncio.get_running_loop().time() + limit_s
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; status: {self.pane.status.text!r}")
            await asyncio.sleep(0.02)

    async def run_to_end(self, limit_s: float = 10.0) -> None:
        before = self.pane.live
        await self.click("run-button")
        await self.until(lambda: self.pane.live is not before, limit_s, "the run to start")
        await self.until(lambda: self.pane.idle.is_set(), limit_s, "the run to end")


@asynccontextmanager
async def pane_page(tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str) -> AsyncIterator[Page]:
    context = make_context(tmp_path)
    holder: list[RunPane] = []

    def root() -> None:
        holder.append(run_pane_page(context, name))

    try:
        async with user_simulation(root=root) as user:
            await user.open("/")
            page = Page(user, holder[0], context, name)
            canvas = holder[0].canvas
            send = canvas.run_method

            def record(method: str, *args: Any, **kwargs: Any) -> Any:
                if method == "updateNode":
                    page.patches.append((args[0], json.loads(json.dumps(args[1]))))
                return send(method, *args, **kwargs)

            canvas.run_method = record  # what goes to the browser, per node
            yield page
            await asyncio.wait_for(page.pane.idle.wait(), 10)
            await context.engine.background.drain(5)
            await context.recorder.drain(5)
            await context.metrics.aclose()
    finally:
        context.database.dispose()
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"
