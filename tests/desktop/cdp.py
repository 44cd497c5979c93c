"""A minimal Chrome DevTools Protocol client for the desktop window's page.

Qt WebEngine opens the protocol on ``QTWEBENGINE_REMOTE_DEBUGGING`` (host:port); Playwright
cannot attach to it (no browser contexts), so the tests evaluate JavaScript in the window's
own page over the page's WebSocket, as pywebview's ``evaluate_js`` would."""
from __future__ import annotations

import itertools
import json
import time
import urllib.request
from typing import Any

from websockets.sync.client import ClientConnection, connect


def pages(endpoint: str) -> list[dict[str, Any]]:
    """The pages the window shows (``[]`` while the protocol is not up yet)."""
    try:
        with urllib.request.urlopen(f"http://{endpoint}/json", timeout=2) as answer:
            found = json.loads(answer.read())
    except (OSError, ValueError):
        return []
    return [p for p in found if p.get("type") == "page"]


class WindowPage:
    """JavaScript in the page the window shows."""

    def __init__(self, websocket_url: str) -> None:
        self.connection: ClientConnection = connect(websocket_url, max_size=None, open_timeout=10).__enter__()
        self.ids = itertools.count(1)

    def close(self) -> None:
        self.connection.close()

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (awaited when it is a promise); a thrown error raises."""
        call_id = next(self.ids)
        self.connection.send(json.dumps({"id": call_id, "method": "Runtime.evaluate", "params": {
            "expression": expression, "awaitPromise": True, "returnByValue": True}}))
        while True:
            message = json.loads(self.connection.recv(timeout=30))
            if message.get("id") != call_id:
                continue  # an event
            result = message.get("result", {})
            if "exceptionDetails" in result or "error" in message:
                raise RuntimeError(f"{expression!r} failed: {result.get('exceptionDetails') or message.get('error')}")
            return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Poll ``expression`` until it is truthy (a page navigating meanwhile is waited out)."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except RuntimeError as exc:  # the page is being replaced: try again
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.2)
        raise TimeoutError(f"{expression!r} did not become true within {timeout_s:g} s (last: {last!r})")
