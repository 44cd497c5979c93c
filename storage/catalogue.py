"""The runtime's ProductCatalog port over the ``products`` table, with edits that notify.

Editing a product calls ``on_change(tenant_id, "product.updated")`` after the commit, so the
cache can clear the tenant's ``products`` tag (clearing by event, see docs/cache.md).
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .db import Database
from .repos import products

log = logging.getLogger(__name__)

PRODUCT_UPDATED = "product.updated"
ChangeCallback = Callable[[str, str], "Awaitable[Any] | Any"]


class SqlProductCatalog:
    def __init__(self, database: Database, on_change: ChangeCallback | None = None) -> None:
        self.database = database
        self.on_change = on_change

    async def search(self, tenant_id: str, query: str, category: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.database.run(products.search_products, tenant_id, query, category, limit)

    async def list(self, tenant_id: str, category: str | None = None) -> list[dict[str, Any]]:
        rows = await self.database.run(products.list_products, tenant_id, category)
        return [row.data for row in rows]

    async def create(self, tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
        row = await self.database.run(products.create_product, tenant_id, data)
        await self._changed(tenant_id)
        return row.data

    async def update(self, tenant_id: str, product_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        row = await self.database.run(products.update_product, tenant_id, product_id, changes)
        await self._changed(tenant_id)
        return row.data

    async def delete(self, tenant_id: str, product_id: str) -> bool:
        deleted = await self.database.run(products.delete_product, tenant_id, product_id)
        if deleted:
            await self._changed(tenant_id)
        return deleted

    async def _changed(self, tenant_id: str) -> None:
        """Tell the cache; a failing listener is logged, never undoes the committed edit."""
        if self.on_change is None:
            return
        try:
            result = self.on_change(str(tenant_id), PRODUCT_UPDATED)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("product.updated listener failed for tenant %s", tenant_id)
