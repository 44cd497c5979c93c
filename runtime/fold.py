"""Values made safe and small enough to keep and show: secrets masked, large values folded.

What a node received and returned is kept for inspection (the run pane, ``GET /api/runs/{id}/nodes``).
Such values may hold an API key (an ``Authorization`` header in an HTTP node's config) or a
megabyte of search results. :func:`fold` returns a JSON-ready copy where every value under a
key that names a secret, and every known secret text, is ``[secret]``; long texts, long lists
and deep nesting are cut with a marker saying how much was left out. Pure: no I/O.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .logs import MASK

FOLDED = "[folded]"  # the key of a value too large to keep whole: its JSON's start
# a key naming a secret, alone or as the last word ("api_key", "X-Api-Key", "db_password"); not "max_tokens"
SECRET_KEY = re.compile(
    r"(?:^|[_\-. ])(?:api[_\-]?key|apikey|secret|client[_\-]?secret|password|passwd|pwd|token|access[_\-]?token|"
    r"refresh[_\-]?token|auth|authorization|proxy[_\-]authorization|cookie|set[_\-]cookie|credentials?|"
    r"private[_\-]?key)$", re.IGNORECASE)
MIN_SECRET = 6  # shorter known secrets would mask ordinary words (as in the JSON logs)


@dataclass(frozen=True, slots=True)
class Limits:
    text: int = 4_000  # characters of one string
    items: int = 100  # items of one list, keys of one object
    depth: int = 12  # nesting
    total: int = 64_000  # characters of the whole value's JSON


DEFAULT = Limits()


def is_secret_key(name: str) -> bool:
    return bool(SECRET_KEY.search(name))


class Folder:
    """Folds many values with one set of secrets (sorted once). ``folded`` turns True once
    anything was left out; ``size`` approximates the JSON length of what was kept, so the exact
    length is measured only for values that may be over ``limits.total``."""

    __slots__ = ("folded", "limits", "secrets", "size")

    def __init__(self, secrets: Iterable[str] = (), limits: Limits = DEFAULT) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self.limits = limits
        self.folded = False
        self.size = 0

    def fold(self, value: Any) -> tuple[Any, bool]:
        """``(safe copy, folded)`` of one value (see :func:`fold`)."""
        self.folded, self.size = False, 0
        safe = self.value(value, 0)
        if self.size > self.limits.total // 2:  # maybe over: measure (escapes make JSON longer)
            text = json.dumps(safe, ensure_ascii=False, default=str)
            if len(text) > self.limits.total:
                return {FOLDED: text[: self.limits.text] + "…", "characters": len(text)}, True
        return safe, self.folded

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if value is None or kind is bool or kind is int or kind is float:
            self.size += 8
            return value
        if isinstance(value, str):
            return self.text(str(value))
        if isinstance(value, bool | int | float):
            self.size += 8
            return value
        if depth >= self.limits.depth:
            self.folded = True
            return f"{FOLDED} nested deeper than {self.limits.depth} levels"
        if isinstance(value, Mapping):
            return self.mapping(value, depth)
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            kept = [self.value(item, depth + 1) for item in items[: self.limits.items]]
            if len(items) > self.limits.items:
                self.folded = True
                kept.append(f"{FOLDED} {len(items) - self.limits.items} more items")
            self.size += 2 + len(kept)
            return kept
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return self.value(dump(mode="json"), depth)
        return self.text(str(value))

    def mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i == self.limits.items:
                self.folded = True
                out[FOLDED] = f"{len(value) - self.limits.items} more keys"
                break
            name = str(key)
            self.size += len(name) + 4
            if item not in (None, "") and SECRET_KEY.search(name):
                out[name] = MASK
            else:
                out[name] = self.value(item, depth + 1)
        return out

    def long_text(self, value: str | None) -> tuple[str | None, bool]:
        """A whole text (a streamed answer, an error): masked, cut to ``limits.total``."""
        if value is None:
            return None, False
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        if len(value) > self.limits.total:
            return f"{value[: self.limits.total]}… {FOLDED} {len(value) - self.limits.total} more characters", True
        return value, False

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        if len(value) > self.limits.text:
            self.folded = True
            value = f"{value[: self.limits.text]}… {FOLDED} {len(value) - self.limits.text} more characters"
        self.size += len(value) + 2
        return value


def fold(value: Any, secrets: Iterable[str] = (), limits: Limits = DEFAULT) -> tuple[Any, bool]:
    """``(safe copy, folded)``: ``folded`` is True when anything was left out (such a value
    cannot stand in for the original, e.g. as a reused upstream output)."""
    return Folder(secrets, limits).fold(value)


def masked_path(value: Any, path: str = "") -> str | None:
    """Where a kept copy holds :data:`~runtime.logs.MASK` (a value under a secret key, or a known
    secret inside a text): the first such path (``headers.Authorization``, ``items[2]``), else None.
    Such a copy cannot stand in for the original: the placeholder would replace the real value.
    A walk with a stack, not recursion: pinned inputs typed by a person may nest deep."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            if MASK in item:
                return at or "(the whole value)"
        elif isinstance(item, Mapping):
            stack.extend(reversed([(f"{at}.{k}" if at else str(k), v) for k, v in item.items()]))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(f"{at}[{i}]", v) for i, v in enumerate(item)]))
    return None


def mask_text(text: str | None, secrets: Iterable[str] = (), limits: Limits = DEFAULT) -> tuple[str | None, bool]:
    """A text (a streamed answer, an error) with known secrets masked and cut to ``limits.total``."""
    return Folder(secrets, limits).long_text(text)
