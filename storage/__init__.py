"""Akis storage: SQLModel tables on SQLite or PostgreSQL, migrations, tenant-scoped
repositories, the runtime's storage ports and background jobs. See docs/storage.md."""
from .db import Database, init_db
from .errors import Conflict, NotFound, StorageError

__all__ = ["Conflict", "Database", "NotFound", "StorageError", "init_db"]
