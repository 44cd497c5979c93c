"""The window's geometry, remembered between starts, and the loopback port it is served on."""
from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("akis.desktop")

STATE_FILE = "window.json"
DEFAULT_SIZE = (1280, 820)
MIN_SIZE = (640, 480)
MAX_SIDE = 16_384


@dataclass
class Geometry:
    """Size and position of the window (position None: where the system puts it)."""

    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    x: int | None = None
    y: int | None = None


def _int(value: object, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def load_geometry(folder: Path) -> Geometry:
    """The geometry saved by the last window, or the default when there is none or it is unreadable
    (a broken file is logged and ignored, never an error at start)."""
    path = folder / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Geometry()
    except (OSError, ValueError) as exc:
        log.warning("window size not restored (%s): %s", path, exc)
        return Geometry()
    if not isinstance(data, dict):
        return Geometry()
    width = _int(data.get("width"), MIN_SIZE[0], MAX_SIDE)
    height = _int(data.get("height"), MIN_SIZE[1], MAX_SIDE)
    x, y = _int(data.get("x"), -MAX_SIDE, MAX_SIDE), _int(data.get("y"), -MAX_SIDE, MAX_SIDE)
    return Geometry(width or DEFAULT_SIZE[0], height or DEFAULT_SIZE[1], x if y is not None else None,
                    y if x is not None else None)


class GeometryKeeper:
    """Follows the window's resized and moved events; :meth:`save` writes the last geometry
    (atomically: a crash mid-write keeps the previous file)."""

    def __init__(self, folder: Path, start: Geometry) -> None:
        self.path = folder / STATE_FILE
        self.geometry = start
        self.changed = False

    def resized(self, width: object, height: object) -> None:
        """A resized event's size (anything else, or a size below half the minimum, is ignored)."""
        new_width, new_height = _int(width, MIN_SIZE[0] // 2, MAX_SIDE), _int(height, MIN_SIZE[1] // 2, MAX_SIDE)
        if new_width is not None and new_height is not None:
            self.geometry.width, self.geometry.height = max(new_width, MIN_SIZE[0]), max(new_height, MIN_SIZE[1])
            self.changed = True

    def moved(self, x: object, y: object) -> None:
        new_x, new_y = _int(x, -MAX_SIDE, MAX_SIDE), _int(y, -MAX_SIDE, MAX_SIDE)
        if new_x is not None and new_y is not None:
            self.geometry.x, self.geometry.y = new_x, new_y
            self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(asdict(self.geometry)), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("window size not saved (%s): %s", self.path, exc)
        else:
            self.changed = False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at ``host``, chosen by the operating system."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
