"""Every storage test runs twice: on a fresh SQLite file and on a fresh PostgreSQL schema."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database, init_db
from tests.conftest import POSTGRES_URL, port_open, require


def pg_schema_url(schema: str) -> str:
    """The test database with ``search_path`` pointing at one schema: a private database."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


class PgSchema:
    """Creates a uniquely named schema and drops it (with everything in it) afterwards."""

    def __init__(self) -> None:
        self.name = "akis_t_" + uuid.uuid4().hex[:12]
        self.admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        self.url = pg_schema_url(self.name)

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
    require(port_open("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    schema = PgSchema()
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
