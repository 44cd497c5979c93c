"""The editor's pages. Each module registers its routes in ``register``."""
from __future__ import annotations

from typing import Any


def register(context: Any) -> None:
    from . import home

    home.register(context)
