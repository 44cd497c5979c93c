"""Errors the runtime raises to callers, each with a message a person can act on."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a flow, naming where: a node, an edge, a group or a field."""

    code: str
    message: str
    node_id: str | None = None
    edge: tuple[str, str] | None = None
    group_id: str | None = None
    field: str | None = None
    severity: str = "error"  # "warning": the flow runs, but probably not as meant (runtime/flow/wiring_checks.py)

    def __str__(self) -> str:
        return self.message

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        for name in ("node_id", "edge", "group_id", "field"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.is_warning:
            out["severity"] = self.severity
        return out


class AkisError(Exception):
    """Base of every error the runtime raises on purpose."""


class FlowLoadError(AkisError):
    """The input is not a flow document: too large, too deep, not JSON, wrong shape."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


class FlowValidationError(AkisError):
    """The flow document parsed but breaks a rule; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"- {p.message}" for p in problems)
        super().__init__(f"the flow has {len(problems)} problem(s):\n{lines}")


class NodeError(AkisError):
    """A node failed in a way its own code explained (bad input, refused address, ...)."""


class RunCancelled(AkisError):
    pass
