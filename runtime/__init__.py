"""Akis runtime: the flow document, validation, the engine and node types.

    from runtime import load_flow, Engine
    result = await Engine().run(load_flow("examples/pallet_assistant.json"), {"user_message": "..."})
"""
from .channels.names import channel_for
from .engine.engine import Engine, InputError, RunHandle
from .engine.run import NodeTiming, RunResult
from .errors import AkisError, FlowLoadError, FlowValidationError, NodeError, Problem
from .events import Event
from .flow.loader import load_flow
from .flow.model import FlowDocument
from .flow.validate import check_flow, validate_flow
from .nodes.base import NodeConfig, NodeContext, NodeType
from .nodes.registry import NodeRegistry, default_registry, node_type
from .services import Services

__all__ = [
    "AkisError", "Engine", "Event", "FlowDocument", "FlowLoadError", "FlowValidationError", "InputError",
    "NodeConfig", "NodeContext", "NodeError", "NodeRegistry", "NodeTiming", "NodeType", "Problem", "RunHandle",
    "RunResult", "Services", "channel_for", "check_flow", "default_registry", "load_flow", "node_type",
    "validate_flow",
]
