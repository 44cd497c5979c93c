"""A dataset's case (what goes in, what should come out) and a run's outcome (what came out)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE = 20_000


class Turn(BaseModel):
    """One earlier message of the conversation the case continues."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE)


class Case(BaseModel):
    """One known input and, optionally, the expected answer and properties of it.

    ``properties``: per-case values a scorer reads by its name (a scorer ``price`` of kind
    ``numeric`` compares against ``properties["price"]``); ``expected`` serves every scorer
    that has no value of its own and no property of its name."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    history: list[Turn] = Field(default_factory=list, max_length=200)
    inputs: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = Field(None, max_length=MAX_MESSAGE)
    properties: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, max_length=64, description="Kept when given (stable across imports).")

    def run_inputs(self) -> dict[str, Any]:
        """What a run of the flow gets: the extra inputs, the message and the earlier turns."""
        values = dict(self.inputs)
        values["user_message"] = self.message
        if self.history:
            values["history"] = [turn.model_dump() for turn in self.history]
        return values

    def target(self, scorer_name: str) -> Any:
        """What a scorer without a value of its own compares against."""
        if scorer_name in self.properties:
            return self.properties[scorer_name]
        return self.expected


@dataclass(slots=True)
class Outcome:
    """What one run of a case gave: the answer text, the output, timings and tokens."""

    status: str
    text: str
    output: dict[str, Any] = field(default_factory=dict)
    duration_ms: float | None = None
    first_chunk_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def answer_text(answer: str, output: dict[str, Any] | None) -> str:
    """The text a person read: the streamed answer, else the output's ``answer`` (or its only
    text value), else the output as JSON."""
    if answer:
        return answer
    output = output or {}
    if isinstance(output.get("answer"), str):
        return str(output["answer"])
    texts = [value for value in output.values() if isinstance(value, str)]
    if len(texts) == 1:
        return texts[0]
    return json.dumps(output, ensure_ascii=False, sort_keys=True, default=str) if output else ""


def field_value(output: dict[str, Any], path: str) -> Any:
    """``a.b.0.c`` in the run's output; ``KeyError`` naming the missing part."""
    value: Any = output
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(f"the output has no field {path!r} (stopped at {part!r})")
    return value
