"""The product catalogue per tenant (the demo forklifts and pallet jacks, editable)."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from runtime.services import search_products as rank_products

from ..errors import Conflict, NotFound, StorageError
from ..models import ID_LEN, Product
from ..types import utcnow
from ._common import jsonable, tenant_key
from .tenants import ensure_tenant


def product_key(data: dict[str, Any]) -> str:
    """A product's id: its ``id`` or ``sku``, else a slug of its name."""
    raw = data.get("id") or data.get("sku") or re.sub(r"[^a-z0-9]+", "-", str(data.get("name", "")).lower()).strip("-")
    key = str(raw)[:ID_LEN]
    if not key:
        raise StorageError("a product needs an id, a sku or a name")
    return key


def _apply(product: Product, data: dict[str, Any]) -> None:
    product.data = jsonable(data)
    product.name = str(data.get("name", ""))[:300]
    category = data.get("category")
    product.category = str(category)[:100] if category is not None else None
    product.updated_at = utcnow()


def list_products(session: Session, tenant_id: str, category: str | None = None) -> list[Product]:
    query = select(Product).where(Product.tenant_id == tenant_key(tenant_id))
    if category:
        query = query.where(Product.category == category)
    return list(session.exec(query.order_by(col(Product.position), col(Product.id))))


def get_product(session: Session, tenant_id: str, product_id: str) -> Product | None:
    return session.get(Product, (tenant_key(tenant_id), str(product_id)))


def create_product(session: Session, tenant_id: str, data: dict[str, Any]) -> Product:
    tenant = tenant_key(tenant_id)
    ensure_tenant(session, tenant)
    key = product_key(data)
    if session.get(Product, (tenant, key)) is not None:
        raise Conflict(f"product {key!r} already exists for tenant {tenant}")
    last = session.exec(select(func.max(Product.position)).where(Product.tenant_id == tenant)).one()
    product = Product(tenant_id=tenant, id=key, position=(last if last is not None else -1) + 1)
    _apply(product, {"id": key, **data} if "id" not in data and "sku" not in data else data)
    session.add(product)
    session.flush()
    return product


def update_product(session: Session, tenant_id: str, product_id: str, changes: dict[str, Any]) -> Product:
    """Merge ``changes`` into the product (its id stays)."""
    product = get_product(session, tenant_id, product_id)
    if product is None:
        raise NotFound(f"product {product_id!r} not found for tenant {tenant_key(tenant_id)}")
    merged = {**product.data, **{k: v for k, v in changes.items() if k not in ("id", "sku")}}
    _apply(product, merged)
    session.add(product)
    session.flush()
    return product


def delete_product(session: Session, tenant_id: str, product_id: str) -> bool:
    result = session.exec(
        delete(Product).where(col(Product.tenant_id) == tenant_key(tenant_id), col(Product.id) == str(product_id))
    )
    return bool(result.rowcount)


def seed_products(session: Session, tenant_id: str, products: list[dict[str, Any]]) -> int:
    """Load a catalogue into an empty tenant catalogue; returns rows added (0 if not empty)."""
    tenant = tenant_key(tenant_id)
    ensure_tenant(session, tenant)
    if session.exec(select(func.count()).select_from(Product).where(Product.tenant_id == tenant)).one():
        return 0
    for position, data in enumerate(products):
        product = Product(tenant_id=tenant, id=product_key(data), position=position)
        _apply(product, data)
        session.add(product)
    session.flush()
    return len(products)


def search_products(
    session: Session, tenant_id: str, query: str, category: str | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """The runtime's keyword ranking over this tenant's products (SQL narrows the category)."""
    rows = list_products(session, tenant_id, category)
    return rank_products([p.data for p in rows], query, category, limit)
