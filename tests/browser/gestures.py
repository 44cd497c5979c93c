"""Mouse gestures the browser tests share: where an element's centre is, and a drag as a hand
makes it (press, a small first move past the drag threshold, then the path, release)."""
from __future__ import annotations

from typing import Any


def center(page: Any, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not visible"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Any, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 3, start[1] + 3)  # past the 1 px drag threshold, as a hand would
    page.mouse.move(*end, steps=steps)
    page.mouse.up()
