"""Node type registration: decorator built-ins, entry points, tenant plugin folders; the shipped schema."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime import FlowDocument
from runtime.nodes import registry as registry_module
from runtime.nodes.base import NodeType
from runtime.nodes.registry import NodeRegistry, builtin_types, default_registry

BUILTINS = {"user_input", "category_detection", "product_search", "conversation_history", "template", "condition",
            "http_request", "ai_response", "save_message", "delay", "output", "knowledge_retrieval",
            "agent", "extract", "subflow", "iterate"}


def test_builtins_cover_the_seed_chatbot():
    assert {t.type_id for t in builtin_types()} == BUILTINS


def test_flags_follow_the_seed_rules():
    registry = NodeRegistry(builtin_types())
    ai = registry.get("ai_response")
    assert ai is not None and not ai.cacheable and not ai.parallel_safe and ai.streams
    assert registry.get("save_message").background  # type: ignore[union-attr]
    assert registry.get("product_search").cacheable  # type: ignore[union-attr]


def test_describe_gives_the_editor_a_config_schema():
    described = NodeRegistry(builtin_types()).get("product_search").describe()  # type: ignore[union-attr]
    assert described["config_schema"]["properties"]["limit"]["maximum"] == 100
    assert described["category"] == "data" and described["cacheable"] is True


class FromPackage(NodeType):
    type_id = "from_package"


class FakeEntryPoint:
    name = "from_package"

    def load(self) -> Any:
        return FromPackage


class BrokenEntryPoint:
    name = "broken"

    def load(self) -> Any:
        raise ImportError("missing dependency")


def test_entry_points_are_loaded_and_a_broken_one_is_reported(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [FakeEntryPoint(), BrokenEntryPoint()])
    registry = default_registry()
    assert registry.get("from_package") is not None
    assert any("broken" in e and "missing dependency" in e for e in registry.load_errors)


def test_tenant_plugins_are_per_tenant_and_reloadable(tmp_path: Path):
    folder = tmp_path / "tenant_7"
    folder.mkdir()
    (folder / "hello.py").write_text(
        "from runtime.nodes.base import NodeType\n"
        "class Hello(NodeType):\n    type_id = 'hello'\n    async def run(self, config, ctx):\n        return {}\n"
    )
    (folder / "broken.py").write_text("raise RuntimeError('bad plugin')\n")
    registry = default_registry(plugins_dir=tmp_path)
    assert registry.get("hello", "7") is not None
    assert registry.get("hello", "8") is None and registry.get("hello") is None
    assert "hello" in {t.type_id for t in registry.types_for("7")}
    assert "hello" not in {t.type_id for t in registry.types_for("8")}
    assert any("bad plugin" in e for e in registry.load_errors)
    (folder / "hello.py").unlink()
    registry.load_plugin_folder(tmp_path)  # on demand: picks up the change
    assert registry.get("hello", "7") is None


def test_shipped_json_schema_matches_the_models():
    shipped = Path(registry_module.__file__).parents[1] / "flow" / "akis-flow.schema.json"
    assert json.loads(shipped.read_text()) == FlowDocument.model_json_schema(), (
        "regenerate runtime/flow/akis-flow.schema.json with `akis schema`"
    )
