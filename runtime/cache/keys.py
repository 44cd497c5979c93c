"""Cache keys: ``tenant_{tenant_id}_{node_type}_{hash}``, injective and always memcached-safe.

Why the refusals: a key is read back by humans (hit-rate tables) and by memcached, which
forbids spaces, control characters and keys over 250 bytes. A tenant id holding ``_`` would make
``tenant_2_x_product_search`` ambiguous, so tenant ids are limited to letters, digits, ``.`` and
``-``. The hash is a fixed-length hex digest at the end, so the node type between them is
recovered exactly: distinct (tenant, node type, fields) always give distinct keys.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

MAX_KEY_BYTES = 250
HASH_CHARS = 40  # 160 bits of SHA-256: collisions are out of reach, the key stays short
MAX_PREFIX = 24

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,63}")
_NODE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_PREFIX = re.compile(r"[A-Za-z0-9_.:\-]{0,24}")
_SCALARS = (str, int, float, bool, type(None))
# For integers beyond 64 bits, which orjson refuses; built once (json.dumps builds one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_checked_tenants: dict[Any, str] = {}
_checked_types: set[str] = set()


class CacheKeyError(ValueError):
    """A tenant id, node type, tag or key field that cannot go into a cache key."""


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise CacheKeyError(
            f"cache prefix {prefix!r} is not usable: at most {MAX_PREFIX} letters, digits or '_.:-'"
        )
    return prefix


def check_tenant(tenant_id: Any) -> str:
    memo = type(tenant_id) in (str, int)  # not bool or float: True == 1 and 2.0 == 2 as dict keys
    if memo and tenant_id in _checked_tenants:
        return _checked_tenants[tenant_id]
    text = str(tenant_id)
    if not _TENANT.fullmatch(text):
        raise CacheKeyError(
            f"tenant id {text!r} cannot be used in a cache key: use 1-64 letters, digits, '.' or '-'"
            " (no '_', spaces or control characters, so that keys stay unambiguous)"
        )
    if memo and len(_checked_tenants) < 4096:
        _checked_tenants[tenant_id] = text
    return text


def check_node_type(node_type: str) -> str:
    if node_type in _checked_types:
        return node_type
    if not isinstance(node_type, str) or not _NODE_TYPE.fullmatch(node_type):
        raise CacheKeyError(
            f"node type {node_type!r} cannot be used in a cache key: it must start with a letter"
            " and hold at most 100 letters, digits or '_.-'"
        )
    if len(_checked_types) < 4096:
        _checked_types.add(node_type)
    return node_type


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    out = tuple(tags)
    for tag in out:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            raise CacheKeyError(
                f"cache tag {tag!r} is not usable: 1-64 letters, digits or '_.:-', starting with"
                " a letter or digit"
            )
    return out


def _check_json(value: Any, path: str) -> None:
    """Refuse what JSON would blur: non-string dict keys (1 vs "1"), NaN, unknown types."""
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            raise CacheKeyError(f"key field {path} is {value!r}, which has no canonical JSON form")
        return
    if isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            _check_json(item, f"{path}[{position}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CacheKeyError(f"key field {path} has a non-string key {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    raise CacheKeyError(f"key field {path} holds a {type(value).__name__}, which is not JSON")


def canonical_json(fields: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same fields always give the same bytes, and two
    different JSON values never do (a JSON text parses to exactly one value)."""
    for name, value in fields.items():
        if type(name) is not str:
            raise CacheKeyError(f"key field name {name!r} is not a string")
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                raise CacheKeyError(f"key field {name!r} is {value!r}, which has no canonical JSON form")
        elif kind not in _SCALARS:
            _check_json(value, repr(name))
    try:
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits
        return _CANONICAL(fields).encode("utf-8")


def fields_digest(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields)).hexdigest()[:HASH_CHARS]


def build_key(tenant_id: Any, node_type: str, fields: Mapping[str, Any], prefix: str = "") -> str:
    """The entry key; raises :class:`CacheKeyError` naming what cannot be used."""
    tenant = check_tenant(tenant_id)
    check_node_type(node_type)
    return f"{prefix}tenant_{tenant}_{node_type}_{fields_digest(fields)}"


def parse_key(key: str, prefix: str = "") -> tuple[str, str, str]:
    """``(tenant, node_type, hash)`` back from a key: the proof that the layout is unambiguous."""
    if not key.startswith(prefix + "tenant_"):
        raise CacheKeyError(f"{key!r} is not an Akis cache key")
    rest = key[len(prefix) + len("tenant_"):]
    tenant, _, rest = rest.partition("_")
    node_type, digest = rest[: -HASH_CHARS - 1], rest[-HASH_CHARS:]
    if rest[-HASH_CHARS - 1] != "_":
        raise CacheKeyError(f"{key!r} is not an Akis cache key")
    return tenant, node_type, digest


def tag_version_key(tenant: str, tag: str, prefix: str = "") -> str:
    """Where the version counter of one (tenant, tag) lives; tenant has no ``_``, so unambiguous."""
    return f"{prefix}tagv_{tenant}_{tag}"


def lock_key(entry_key: str, prefix: str = "") -> str:
    """The cross-process single-flight lock of one entry (still under 250 bytes)."""
    return f"{prefix}lock_{entry_key[len(prefix):]}"
