"""The product table: seeded from the demo catalogue on first start, editable, notifying."""
from __future__ import annotations

import pytest

from runtime.services import load_demo_catalogue, search_products
from storage.catalogue import SqlProductCatalog
from storage.db import init_db
from storage.errors import Conflict, NotFound
from storage.models import Tenant
from storage.repos import products
from storage.seed import DEMO_TENANTS, seed_first_start


def test_first_start_seeds_the_demo_catalogue_once(database_url):
    database = init_db(database_url)  # seeds
    try:
        catalogue = load_demo_catalogue()
        for tenant in DEMO_TENANTS:
            stored = database.call(products.list_products, tenant)
            assert [p.data for p in stored] == catalogue
        database.call(products.delete_product, "2", stored[0].id)
        assert seed_first_start(database) == 0  # not a first start any more: the delete stands
        assert len(database.call(products.list_products, "2")) == len(catalogue) - 1
    finally:
        database.dispose()
    again = init_db(database_url)
    try:
        assert len(again.call(products.list_products, "2")) == len(catalogue) - 1
    finally:
        again.dispose()


def test_search_over_the_table_ranks_like_the_runtime(db):
    catalogue = load_demo_catalogue()
    db.call(products.seed_products, "2", catalogue)
    for query, category in [("Transpalet arıyorum", None), ("electric pallet jack", "pallet_jack"), ("forklift", None)]:
        expected = search_products(catalogue, query, category, 3)
        assert db.call(products.search_products, "2", query, category, 3) == expected
    assert db.call(products.seed_products, "2", catalogue) == 0  # only into an empty catalogue


def test_create_update_delete(db):
    created = db.call(products.create_product, "2", {"sku": "X-1", "name": "Stacker", "category": "stacker"})
    assert created.id == "X-1" and created.category == "stacker"
    with pytest.raises(Conflict):
        db.call(products.create_product, "2", {"sku": "X-1", "name": "again"})
    updated = db.call(products.update_product, "2", "X-1", {"price_eur": 999, "sku": "ignored"})
    assert updated.data == {"sku": "X-1", "name": "Stacker", "category": "stacker", "price_eur": 999}
    slugged = db.call(products.create_product, "2", {"name": "Reach Truck 2t"})
    assert slugged.id == "reach-truck-2t" and slugged.position == created.position + 1
    with pytest.raises(NotFound):
        db.call(products.update_product, "2", "nope", {})
    assert db.call(products.delete_product, "2", "X-1") and not db.call(products.delete_product, "2", "X-1")


async def test_editing_through_the_catalogue_emits_product_updated(db):
    events: list[tuple[str, str]] = []

    async def on_change(tenant_id: str, event: str) -> None:
        events.append((tenant_id, event))

    catalogue = SqlProductCatalog(db, on_change=on_change)
    await catalogue.create(
        "2", {"sku": "A", "name": "Pallet jack A", "category": "pallet_jack", "keywords": ["transpalet"]}
    )
    await catalogue.update("2", "A", {"price_eur": 10})
    assert await catalogue.delete("2", "A") is True
    assert await catalogue.delete("2", "A") is False  # nothing changed, nothing emitted
    assert events == [("2", "product.updated")] * 3


async def test_a_failing_listener_does_not_undo_the_edit(db):
    def broken(tenant_id: str, event: str) -> None:
        raise RuntimeError("cache down")

    catalogue = SqlProductCatalog(db, on_change=broken)
    await catalogue.create("2", {"sku": "B", "name": "Forklift B", "category": "forklift"})
    assert [p["sku"] for p in await catalogue.search("2", "forklift", None, 5)] == ["B"]
    assert [p["sku"] for p in await catalogue.list("2", "forklift")] == ["B"]
    with db.session() as s:
        assert s.get(Tenant, "2") is not None  # made on demand by the first product
