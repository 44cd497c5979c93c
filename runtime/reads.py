"""What a node reads: the variables its config templates name, and the run inputs its cache key
is a function of. Pure: templates are parsed, never rendered; no node code runs."""
from __future__ import annotations

from typing import Any

from jinja2 import meta

from .engine.plan import with_defaults
from .engine.templating import syntax_tree
from .estimate import node_types
from .flow.model import CacheStrategy, FlowDocument
from .nodes.base import NodeType
from .nodes.registry import NodeRegistry


def template_names(value: Any) -> set[str]:
    """Top-level variable names the templates in ``value`` read (unparsable text reads all)."""
    if isinstance(value, dict):
        return set().union(*(template_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(template_names(v) for v in value)) if value else set()
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return set()
    tree = syntax_tree(value)  # the sandbox's parser: meta's code generator folds constants otherwise
    if tree is None:
        return {"nodes"}  # unknown (does not parse, or too large): treat as reading everything
    return set(meta.find_undeclared_variables(tree))


def full_config(node_type: NodeType, config: dict[str, Any]) -> dict[str, Any]:
    """The config with the type's defaults filled in: default templates are read too."""
    return with_defaults(node_type, config)


def key_fields(node_type: NodeType, config: dict[str, Any]) -> list[str] | None:
    """The fields that change between runs (templated); None (all fields) when none are."""
    full = full_config(node_type, config)
    fields = [name for name, value in full.items() if template_names(value)]
    return fields or None


def cache_of(document: FlowDocument, node_id: str) -> CacheStrategy | None:
    """The node's enabled cache strategy (its own, else its type's), or None."""
    spec = document.node(node_id)
    if spec is None:
        return None
    strategy = spec.cache or document.cache_strategy.get(spec.type)
    return strategy if strategy is not None and strategy.enabled else None


VARYING_TYPES = frozenset({"conversation_history"})  # outputs change between runs of one input


def key_inputs(document: FlowDocument, node_id: str, registry: NodeRegistry | None = None,
               tenant_id: str | None = None) -> set[str] | None:
    """The run inputs (``user_message``, ...) a node's cache key is a function of, following
    values other nodes produce back to the inputs. None when the key depends on something that
    changes between runs of one input (the history, a streamed answer, the run id).

    How often these inputs repeat bounds how often the key repeats: the add-cache suggestion's
    repeat rate is read from the stored run inputs with it."""
    types = node_types(document, registry, tenant_id)
    producers: dict[str, list[str]] = {}
    for each in document.nodes:
        each_type = types.get(each.id)
        if each_type is not None:
            for key in each_type.output_keys(full_config(each_type, each.config)):
                producers.setdefault(key, []).append(each.id)
    found: set[str] = set()
    seen: set[str] = set()

    def visit(current: str, fields: list[str] | None) -> bool:
        spec, node_type = document.node(current), types.get(current)
        if spec is None or node_type is None or node_type.type_id in VARYING_TYPES or node_type.streams:
            return False
        if current in seen:
            return True
        seen.add(current)
        config = full_config(node_type, spec.config)
        names = template_names({k: v for k, v in config.items() if fields is None or k in fields})
        for name in names:
            if name in ("run_id", "nodes"):
                return False
            if name in producers:
                if not all(visit(p, None) for p in producers[name]):
                    return False
            else:
                found.add(name)
        return True

    strategy = cache_of(document, node_id)
    spec, node_type = document.node(node_id), types.get(node_id)
    if spec is None or node_type is None:
        return None
    fields = strategy.key_fields if strategy is not None else key_fields(node_type, spec.config)
    return found if visit(node_id, fields) else None
