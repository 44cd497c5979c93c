"""Versioned schema changes (Alembic), applied on start and by ``akis db upgrade``.

The migration scripts ship inside the package (``storage/migrations``), so an installed
``akis`` upgrades an existing database in place and keeps its rows.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from .errors import StorageError

if TYPE_CHECKING:  # db.py imports this module to migrate on open
    from .db import Database

# Any constant works; every Akis process that migrates takes the same PostgreSQL lock.
_PG_LOCK_ID = 0x414B4953  # "AKIS"


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def head_revision(database: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database)).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _sqlite_file_lock(database: Database) -> Iterator[None]:
    """Two processes starting at once must not both create the tables.

    The lock file stays beside the database: removing it would let a third process lock a
    fresh file while a second still holds the old one.
    """
    path = make_url(database.url).database
    if database.dialect != "sqlite" or not path or path == ":memory:":
        yield
        return
    try:
        import fcntl  # here, not at the top: it exists on POSIX only
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock_path = Path(path).with_name(Path(path).name + ".migrate-lock")
    if not lock_path.parent.is_dir():
        raise StorageError(f"cannot open the database {path}: the folder {lock_path.parent} does not exist")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Idempotent; safe to call from many processes."""
    config = alembic_config(database)
    with _sqlite_file_lock(database), database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

