"""The publishable key's rules that need no server: origins as written by a person, the Origin
check, the sliding rate window, the snippet."""
from __future__ import annotations

import uuid

import pytest

from editor.services.errors import Invalid
from editor.services.publishing import embed_snippet, origin_matches, parse_origin_list
from editor.services.publishing_rates import RateWindow, SharedRates
from storage.repos.publishing import key_id_of


def test_origins_are_normalised_and_a_non_origin_is_named() -> None:
    assert parse_origin_list("https://Shop.example/, http://localhost:3000\nhttps://shop.example") == [
        "https://shop.example", "http://localhost:3000"]
    for bad in ("shop.example", "https://shop.example/path", "ftp://shop.example", "https://", "*"):
        with pytest.raises(Invalid, match="is not an origin"):
            parse_origin_list([bad])
    with pytest.raises(Invalid, match="at most 20"):
        parse_origin_list([f"https://s{i}.example" for i in range(21)])


def test_the_origin_must_be_listed_or_the_apps_own() -> None:
    allowed = ("https://shop.example",)
    assert origin_matches("https://shop.example", "akis.example", allowed)
    assert origin_matches("https://SHOP.example/", "akis.example", allowed)
    assert origin_matches("https://akis.example", "akis.example", allowed)  # the app's own example page
    assert not origin_matches("https://shop.example.evil.com", "akis.example", allowed)
    assert not origin_matches("http://shop.example", "akis.example", allowed)  # another scheme: another origin
    assert not origin_matches(None, "akis.example", allowed)
    assert not origin_matches("null", "akis.example", allowed)


def test_the_rate_window_slides() -> None:
    now = [0.0]
    window = RateWindow(clock=lambda: now[0])
    assert [window.take_now("k", 2) for _ in range(2)] == [0.0, 0.0]
    assert window.take_now("k", 2) == pytest.approx(60.0)
    assert window.take_now("other visitor", 2) == 0.0
    now[0] = 30.0
    assert window.take_now("k", 2) == pytest.approx(30.0)  # refused calls are not counted
    now[0] = 60.5
    assert window.take_now("k", 2) == 0.0


async def test_instances_sharing_redis_count_one_visitor_together(redis_url: str) -> None:
    prefix = f"test:widget-rate:{uuid.uuid4().hex}:"
    first, second = SharedRates(redis_url, prefix), SharedRates(redis_url, prefix)
    try:
        assert await first.take("key\x1fvisitor", 3) == 0.0
        assert await second.take("key\x1fvisitor", 3) == 0.0
        assert await first.take("key\x1fvisitor", 3) == 0.0
        wait = await second.take("key\x1fvisitor", 3)  # the fourth of three, on the other instance
        assert 58.0 < wait <= 60.0
        assert await second.take("key\x1fanother visitor", 3) == 0.0
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_redis_an_instance_counts_on_its_own() -> None:
    closed = SharedRates("redis://127.0.0.1:1/0", "test:")  # nothing listens there
    try:
        assert [await closed.take("k", 1), await closed.take("k", 1) > 0] == [0.0, True]
    finally:
        await closed.aclose()


def test_the_snippet_escapes_what_it_quotes() -> None:
    snippet = embed_snippet("https://akis.example/", "akispub_abc_def", "shop", 'Ask "us" <now>')
    assert snippet.startswith('<script src="https://akis.example/widget/widget.js" async')
    assert 'data-akis-key="akispub_abc_def"' in snippet and 'data-akis-flow="shop"' in snippet
    assert 'data-akis-title="Ask &quot;us&quot; &lt;now&gt;"' in snippet


def test_only_a_publishable_key_names_a_key_id() -> None:
    assert key_id_of("akispub_abc123_secret") == "abc123"
    assert key_id_of("akis_abc123_secret") is None  # an API token
    assert key_id_of("akispub__secret") is None and key_id_of("akispub_abc") is None
