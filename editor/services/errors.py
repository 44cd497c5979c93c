"""What a service refuses, in words a person can act on. The API maps each to one status
(``editor/api/errors.py``); the pages show the message."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from runtime.errors import Problem
from storage.errors import StorageError

# What a read of the database raises while it is away or refuses: a page says so in place.
DATABASE_ERRORS: tuple[type[Exception], ...] = (StorageError, SQLAlchemyError)


class ServiceError(Exception):
    """A refusal with a message meant for the user (never a traceback)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    """The thing does not exist for this tenant (another tenant's thing answers the same)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Conflict(ServiceError):
    """The flow id is taken, or a concurrent save won."""


class Invalid(ServiceError):
    """A request the service cannot act on (a value out of range, a session id that differs)."""


class FlowProblems(ServiceError):
    """A flow that cannot be saved or run: every problem, by node and field."""

    def __init__(self, detail: str, problems: list[Problem]) -> None:
        super().__init__(detail)
        self.problems = problems

    def problem_dicts(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.problems]
