"""Values kept for inspection: secrets masked by key and by value, large values folded with a marker."""
from __future__ import annotations

import json

from runtime.fold import FOLDED, Limits, fold, is_secret_key, mask_text, masked_path


def test_secret_keys_are_masked_but_token_counts_are_not() -> None:
    value = {"headers": {"Authorization": "Bearer abc", "X-Api-Key": "k-123", "Accept": "json"},
             "password": "hunter2", "max_tokens": 200, "tokens_in": 5, "api_key": "", "session_token": "s"}
    safe, folded = fold(value)
    assert safe["headers"] == {"Authorization": "[secret]", "X-Api-Key": "[secret]", "Accept": "json"}
    assert safe["password"] == "[secret]" and safe["session_token"] == "[secret]"
    assert safe["max_tokens"] == 200 and safe["tokens_in"] == 5 and safe["api_key"] == ""  # nothing to hide
    assert not folded
    assert is_secret_key("client_secret") and not is_secret_key("secretary_name") and not is_secret_key("author")


def test_known_secret_values_are_masked_anywhere_in_text() -> None:
    safe, _ = fold({"note": "the key sk-live-123456 leaked", "list": ["sk-live-123456"]}, secrets=["sk-live-123456"])
    assert safe == {"note": "the key [secret] leaked", "list": ["[secret]"]}
    assert mask_text("error: sk-live-123456 refused", ["sk-live-123456"]) == ("error: [secret] refused", False)


def test_large_values_are_folded_with_a_marker_and_stay_bounded() -> None:
    limits = Limits(text=10, items=3, depth=3, total=10_000)
    safe, folded = fold({"text": "x" * 25, "items": list(range(10)), "deep": {"a": {"b": {"c": 1}}}}, limits=limits)
    assert folded
    assert safe["text"] == "x" * 10 + f"… {FOLDED} 15 more characters"
    assert safe["items"] == [0, 1, 2, f"{FOLDED} 7 more items"]
    assert safe["deep"]["a"]["b"] == f"{FOLDED} nested deeper than 3 levels"
    huge, folded = fold({"rows": [{"name": "y" * 900} for _ in range(100)]}, limits=Limits(total=5_000))
    assert folded and set(huge) == {FOLDED, "characters"} and len(json.dumps(huge)) < 5_000 + 200


def test_masked_path_finds_where_a_secret_was_masked_in_a_kept_copy() -> None:
    safe, _ = fold({"rows": [{"name": "a"}, {"headers": {"X-Api-Key": "k-123"}}], "note": "ok"})
    assert masked_path(safe) == "rows[1].headers.X-Api-Key"  # masked whole under a secret key
    safe, _ = fold({"reply": {"text": "the key sk-live-123456 leaked"}}, secrets=["sk-live-123456"])
    assert masked_path(safe) == "reply.text"  # masked inside a text
    assert masked_path({"products": [{"sku": "F-1"}], "count": 2, "api_key": ""}) is None  # nothing masked
    assert masked_path({"a": ["[secret]"]}, "nodes.n1") == "nodes.n1.a[0]"
