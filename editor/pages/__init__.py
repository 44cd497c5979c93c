"""The editor's pages. Each module registers its routes in ``register``."""
from __future__ import annotations

from typing import Any


def register(context: Any) -> None:
    from . import dashboard, flow_editor, home, settings

    home.register(context)
    flow_editor.register(context)
    dashboard.register(context)
    settings.register(context)
