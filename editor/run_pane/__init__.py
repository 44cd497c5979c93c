"""The flow editor's live test-run pane: run, watch, compare, history and suggestions."""
from .pane import RunPane

__all__ = ["RunPane"]
