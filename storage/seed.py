"""First start: create the demo tenants and load the demo catalogue into its product table."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from runtime.services import load_demo_catalogue

from .models import Tenant
from .repos import knowledge, products, tenants

if TYPE_CHECKING:  # db.py imports this module to seed on first open
    from .db import Database

log = logging.getLogger(__name__)

# Tenant 2 is the demo scenario's shop (forklifts and pallet jacks); tenant 1 is the engine's default
# (runtime.engine.engine.DEFAULT_TENANT), so a run with no tenant finds the catalogue too.
DEMO_TENANTS = ("1", "2")


def seed_first_start(database: Database, tenant_ids: tuple[str, ...] = DEMO_TENANTS) -> int:
    """Seed once, on an empty database; returns the products added (0 when already started).

    "First start" means no tenant exists yet, so a catalogue a person emptied stays empty.
    If the demo catalogue cannot be read nothing is written, and the next start tries again.
    """
    try:
        catalogue = load_demo_catalogue()
    except (OSError, ValueError) as exc:
        log.warning("demo catalogue not loaded (%s); the product table stays empty", exc)
        return 0
    try:
        with database.session() as session:
            if session.exec(select(func.count()).select_from(Tenant)).one():
                return 0
            added = 0
            for tenant_id in tenant_ids:
                tenants.ensure_tenant(session, tenant_id, f"Demo tenant {tenant_id}")
                added += products.seed_products(session, tenant_id, catalogue)
                knowledge.seed_example_base(session, tenant_id)  # the support_assistant demo's documents
            return added
    except IntegrityError:  # another process seeded at the same moment: its rows stand
        return 0
