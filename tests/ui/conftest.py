"""NiceGUI ``User`` fixtures for the editor pages: the real app context on a private SQLite file.

``editor_user`` opens nothing yet; tests call ``await ui_.open(path)``. Pages are registered
inside the simulation (NiceGUI resets its routes for every simulated app), and an ERROR log
during the test fails it, like NiceGUI's own ``user`` fixture.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction
from nicegui.testing.user_simulation import user_simulation


@dataclass
class EditorUI:
    user: User
    context: Any

    async def open(self, path: str) -> None:
        await self.user.open(path)
        await asyncio.sleep(0.05)

    async def until(self, condition: Callable[[], Any], what: str, limit_s: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + limit_s
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    def elements(self, testid: str) -> list[Any]:
        """Elements showing on the page whose ``data-testid`` is ``testid`` (the browser tests' names)."""
        assert self.user.client is not None, "open a page first"
        return [e for e in self.user.client.elements.values() if e.props.get("data-testid") == testid and _shown(e)]

    def by(self, testid: str) -> UserInteraction:
        found = self.elements(testid)
        assert found, f"nothing with data-testid={testid!r} is showing"
        return UserInteraction(self.user, set(found), None)

    async def find(self, testid: str) -> UserInteraction:
        """Like :meth:`by`, once it shows (dialogs open asynchronously)."""
        await self.until(lambda: self.has(testid), f"an element with data-testid={testid!r}")
        return self.by(testid)

    def has(self, testid: str) -> bool:
        return bool(self.elements(testid))

    def one(self, testid: str) -> Any:
        (element,) = self.elements(testid)
        return element

    def stored(self, flow_id: str, tenant: str = "1") -> dict[str, Any] | None:
        from storage.repos.flows import get_version

        row = self.context.database.call(get_version, tenant, flow_id)
        return dict(row.document) if row else None


def _shown(element: Any) -> bool:
    while element is not None:
        if not element.visible:
            return False
        slot = element.parent_slot
        element = slot.parent if slot is not None else None
    return True


@pytest.fixture
async def editor_user(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[EditorUI]:
    from editor import pages
    from editor.context import create_context
    from runtime.settings import AkisSettings

    settings = AkisSettings(database_url=f"sqlite:///{tmp_path / 'akis.db'}", warmup_interval_s=0,
                            plugins_dir=tmp_path / "plugins", data_dir=tmp_path / "data")
    async with user_simulation() as user:
        context = create_context(settings)
        pages.register(context)
        yield EditorUI(user, context)
        await asyncio.sleep(0.3)  # let timers started by the last edit finish before NiceGUI cancels them
        context.database.dispose()
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {errors}"
