"""Every storage test runs twice: on a fresh SQLite file and on a fresh PostgreSQL schema."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database, init_db


class PgSchema:
    """A uniquely named schema, dropped with everything in it afterwards: the URL's
    ``search_path`` points at it, so the test sees a private, empty database."""

    def __init__(self, base_url: str) -> None:
        self.name = "akis_t_" + uuid.uuid4().hex[:12]
        self.admin = sa.create_engine(base_url, poolclass=sa.pool.NullPool)
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        self.url = f"{base_url}?options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        self.admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, private to the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'akis.db'}"
        return
    schema = PgSchema(request.getfixturevalue("postgres_url"))  # skips, or fails under CI, without it
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database without the demo seed (tests seed what they need)."""
    database = init_db(database_url, seed_demo=False)
    try:
        yield database
    finally:
        database.dispose()
