"""The flow canvas element: Vue Flow inside NiceGUI (see docs/canvas.md)."""
from .flow_canvas import EVENTS, CanvasEventArguments, FlowCanvas
from .model import CATEGORY_COLORS, CATEGORY_ICONS, CanvasDataError, edge_id

__all__ = [
    "CATEGORY_COLORS",
    "CATEGORY_ICONS",
    "EVENTS",
    "CanvasDataError",
    "CanvasEventArguments",
    "FlowCanvas",
    "edge_id",
]
