"""The key builder: injective over (tenant, node type, fields) and always memcached-safe."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.cache.keys import (
    MAX_KEY_BYTES,
    CacheKeyError,
    build_key,
    canonical_json,
    check_prefix,
    check_tags,
    check_tenant,
    lock_key,
    parse_key,
    tag_version_key,
)

tenants = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,63}", fullmatch=True)
node_types = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}", fullmatch=True)
prefixes = st.from_regex(r"[A-Za-z0-9_.:\-]{0,24}", fullmatch=True)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
fields = st.dictionaries(st.text(max_size=12), json_values, max_size=5)


def memcached_safe(key: str) -> bool:
    data = key.encode("utf-8")
    return len(data) <= MAX_KEY_BYTES and all(33 <= b <= 126 for b in data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefixes, tenants, node_types, fields)
def test_every_key_is_memcached_safe_and_parses_back(prefix: str, tenant: str, node_type: str, values: dict) -> None:
    key = build_key(tenant, node_type, values, prefix)
    assert memcached_safe(key)
    assert memcached_safe(lock_key(key, prefix))
    parsed_tenant, parsed_type, _ = parse_key(key, prefix)
    assert (parsed_tenant, parsed_type) == (tenant, node_type)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants, node_types, fields, tenants, node_types, fields)
def test_keys_are_injective(t1: str, n1: str, f1: dict, t2: str, n2: str, f2: dict) -> None:
    same_input = (t1, n1, canonical_json(f1)) == (t2, n2, canonical_json(f2))
    assert (build_key(t1, n1, f1) == build_key(t2, n2, f2)) == same_input


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields)
def test_canonical_json_determines_the_value(values: dict) -> None:
    """Equal text means equal JSON value: the text parses back to exactly the fields."""
    text = canonical_json(values)
    assert json.loads(text) == values
    assert canonical_json(json.loads(text)) == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80), st.text(max_size=120), fields)
def test_any_tenant_or_type_is_refused_or_safe(tenant: str, node_type: str, values: dict) -> None:
    try:
        key = build_key(tenant, node_type, values)
    except CacheKeyError as exc:
        assert "cache key" in str(exc)
    else:
        assert memcached_safe(key)


def test_order_of_fields_does_not_matter_but_types_do() -> None:
    assert build_key(2, "product_search", {"a": 1, "b": 2}) == build_key("2", "product_search", {"b": 2, "a": 1})
    variants = [{"q": 1}, {"q": 1.0}, {"q": True}, {"q": "1"}, {"q": [1]}, {"q": None}, {"q": {"1": 1}}]
    assert len({build_key(2, "t", f) for f in variants}) == len(variants)


def test_key_shape_is_the_seeds() -> None:
    key = build_key(2, "product_search", {"query": "Transpalet arıyorum", "category": None})
    assert key.startswith("tenant_2_product_search_")
    assert len(key.rsplit("_", 1)[1]) == 40
    assert build_key(2, "product_search", {}, prefix="akis:").startswith("akis:tenant_2_")


@pytest.mark.parametrize(
    "tenant", ["", "2_product", "a b", "tab\t", "nul\x00", "ü", "x" * 65, "-lead", "new\nline", "slash/"]
)
def test_ambiguous_or_unsafe_tenants_are_refused(tenant: str) -> None:
    with pytest.raises(CacheKeyError, match="tenant id"):
        build_key(tenant, "product_search", {})


@pytest.mark.parametrize("node_type", ["", "has space", "1starts_with_digit", "x" * 101, "ü", "a\x00"])
def test_unsafe_node_types_are_refused(node_type: str) -> None:
    with pytest.raises(CacheKeyError, match="node type"):
        build_key(2, node_type, {})


@pytest.mark.parametrize(
    "values", [{"x": float("nan")}, {"x": float("inf")}, {"x": [float("-inf")]}, {"x": {1: "a"}}, {"x": {1, 2}},
               {"x": b"bytes"}, {1: "name"}]
)
def test_values_without_a_canonical_json_form_are_refused(values: dict) -> None:
    with pytest.raises(CacheKeyError, match="key field"):
        build_key(2, "t", values)


def test_unicode_and_control_characters_in_values_give_safe_keys() -> None:
    key = build_key(2, "t", {"q": "a b\x00\n\t\u2028 ş 🚜", "k": " "})
    assert memcached_safe(key)
    assert key != build_key(2, "t", {"q": "a b\x00\n\t\u2028 ş 🚜", "k": "  "})


def test_tags_prefix_and_version_keys() -> None:
    assert check_tags(["products", "cat:1"]) == ("products", "cat:1")
    for bad in (["has space"], [""], ["_lead"], ["x" * 65]):
        with pytest.raises(CacheKeyError, match="cache tag"):
            check_tags(bad)
    with pytest.raises(CacheKeyError, match="prefix"):
        check_prefix("has space")
    assert tag_version_key("2", "products", "p:") == "p:tagv_2_products"
    # "2_a" + "b" would collide with "2" + "a_b": that is why tenant ids may not hold "_"
    assert tag_version_key("2", "a_b") == tag_version_key("2_a", "b")
    with pytest.raises(CacheKeyError):
        check_tenant("2_a")
