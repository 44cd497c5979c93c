"""Where node types come from: built-ins (decorator), installed packages (entry points),
and tenant plugin folders (``plugins/tenant_<id>/*.py``), visible to their tenant only.

Plugins are imported when the registry is built or refreshed, never while a flow is loaded or
validated: a flow document only names types.
"""
from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

from .base import NodeType

log = logging.getLogger("akis.nodes")

_BUILTINS: dict[str, type[NodeType]] = {}
TYPE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TENANT_DIR = re.compile(r"^tenant_([A-Za-z0-9-]{1,64})$")


def node_type(cls: type[NodeType]) -> type[NodeType]:
    """Class decorator that registers a built-in node type."""
    _check_type_id(cls)
    _BUILTINS[cls.type_id] = cls
    return cls


def _check_type_id(cls: type[NodeType]) -> None:
    type_id = getattr(cls, "type_id", None)
    if not isinstance(type_id, str) or not TYPE_ID.match(type_id):
        raise ValueError(f"{cls.__name__}.type_id must match {TYPE_ID.pattern}, got {type_id!r}")


class NodeRegistry:
    """Node types by id: shared ones for everybody, plugin ones per tenant."""

    def __init__(self, shared: Iterable[type[NodeType]] = ()) -> None:
        self._shared: dict[str, NodeType] = {}
        self._tenant: dict[str, dict[str, NodeType]] = {}
        self.load_errors: list[str] = []
        for cls in shared:
            self.add(cls)

    def add(self, cls: type[NodeType], tenant_id: str | None = None) -> None:
        _check_type_id(cls)
        if tenant_id is None:
            self._shared[cls.type_id] = cls()
        else:
            cls.tenant_id = tenant_id
            self._tenant.setdefault(tenant_id, {})[cls.type_id] = cls()

    def get(self, type_id: str, tenant_id: str | None = None) -> NodeType | None:
        if tenant_id is not None:
            found = self._tenant.get(str(tenant_id), {}).get(type_id)
            if found is not None:
                return found
        return self._shared.get(type_id)

    def owner_of(self, type_id: str) -> list[str]:
        """Tenants that have a plugin type of this id (for a clear 'not yours' message)."""
        return sorted(t for t, types in self._tenant.items() if type_id in types)

    def types_for(self, tenant_id: str | None = None) -> list[NodeType]:
        merged = dict(self._shared)
        if tenant_id is not None:
            merged.update(self._tenant.get(str(tenant_id), {}))
        return sorted(merged.values(), key=lambda t: (t.category, t.type_id))

    # -- discovery ----------------------------------------------------------------------------
    def load_entry_points(self, group: str = "akis.nodes") -> None:
        for ep in entry_points(group=group):
            try:
                self.add(ep.load())
            except Exception as exc:  # noqa: BLE001 - a broken package must not stop the app; it is reported
                self._error(f"entry point {ep.name!r}: {exc}")

    def load_plugin_folder(self, root: Path) -> None:
        """Import every ``tenant_<id>/*.py`` below ``root``; register the NodeType classes found."""
        if not root.is_dir():
            return
        for folder in sorted(root.iterdir()):
            match = TENANT_DIR.match(folder.name)
            if not match or not folder.is_dir():
                continue
            tenant_id = match.group(1)
            self._tenant.pop(tenant_id, None)
            for path in sorted(folder.glob("*.py")):
                self._load_plugin_file(path, tenant_id)

    def _load_plugin_file(self, path: Path, tenant_id: str) -> None:
        module_name = f"akis_plugins.tenant_{tenant_id.replace('-', '_')}.{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - a tenant's broken plugin must not stop the app; it is reported
            self._error(f"plugin {path}: {type(exc).__name__}: {exc}")
            return
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, NodeType)
                and value is not NodeType
                and value.__module__ == module_name
                and isinstance(getattr(value, "type_id", None), str)
            ):
                try:
                    self.add(value, tenant_id=tenant_id)
                except ValueError as exc:
                    self._error(f"plugin {path}: {exc}")

    def _error(self, message: str) -> None:
        log.warning("node type not loaded: %s", message)
        self.load_errors.append(message)


def builtin_types() -> list[type[NodeType]]:
    from . import builtins  # noqa: F401 - registers the built-ins; imported here, as they import this module

    return list(_BUILTINS.values())


def default_registry(plugins_dir: Path | None = None, entry_point_group: str | None = "akis.nodes") -> NodeRegistry:
    """Built-ins, installed packages' types, and the tenant plugin folder."""
    registry = NodeRegistry(builtin_types())
    if entry_point_group:
        registry.load_entry_points(entry_point_group)
    if plugins_dir is not None:
        registry.load_plugin_folder(plugins_dir)
    return registry
