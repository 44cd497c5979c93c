"""Errors with messages meant for a person: the CLI and editor print them, never a traceback."""
from __future__ import annotations


class StorageError(Exception):
    """A storage problem the caller can explain to a user."""


class NotFound(StorageError):
    """The row does not exist for this tenant (another tenant's row is also "not found")."""


class Conflict(StorageError):
    """The row already exists, or a concurrent write won."""
