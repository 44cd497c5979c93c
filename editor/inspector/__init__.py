"""The inspector: config form from the node type's JSON Schema, cache strategy, policy."""
from .cache_editor import CacheEditor, never_cached_reason
from .form import ConfigForm
from .panel import Inspector, InspectorActions
from .policy_editor import PolicyEditor
from .schema import FieldSpec, field_spec, form_fields, shown_kind

__all__ = [
    "CacheEditor", "ConfigForm", "FieldSpec", "Inspector", "InspectorActions", "PolicyEditor", "field_spec",
    "form_fields", "never_cached_reason", "shown_kind",
]
