"""The stored forms of an entry: the node's output, the tag versions it was written with, and
its absolute expiry, so that any tier can check freshness and refill a faster tier with the
time that is left.

Shared tiers (Redis, Memcached) hold JSON, readable by any process and version; entries over
32 KB are compressed so they fit memcached's 1 MB item limit. The in-process tier holds the
same entry in ``marshal`` form: it never leaves the process and decodes about four times faster,
which is most of an in-process hit. Both decode to fresh objects, so a caller that mutates a
cached output cannot change what the next caller gets.
"""
from __future__ import annotations

import json
import marshal
import time
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

COMPRESS_ABOVE = 32 * 1024
_PLAIN, _ZLIB = b"J", b"Z"
# Only JSON's own types: a datetime or dataclass would come back from a hit as something else.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_FALLBACK = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class NotCacheable(TypeError):
    """The node's output has no JSON form, so it cannot be stored (it is still returned)."""


@dataclass(slots=True)
class Entry:
    value: dict[str, Any]
    tags: dict[str, int]
    expires_at: float  # time.time() seconds

    def ttl_left(self, now: float | None = None) -> int:
        return int(self.expires_at - (time.time() if now is None else now))


def encode(value: dict[str, Any], tags: dict[str, int], ttl: int) -> bytes:
    """The shared (JSON) form; raises :class:`NotCacheable` for values JSON cannot hold."""
    envelope = {"v": value, "t": tags, "x": round(time.time() + ttl, 3)}
    try:
        data = orjson.dumps(envelope, option=_OPTIONS)
    except TypeError:
        try:  # orjson refuses integers beyond 64 bits; the standard library does not
            data = _FALLBACK(envelope).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise NotCacheable(str(exc)) from None
    if len(data) > COMPRESS_ABOVE:
        return _ZLIB + zlib.compress(data, 1)
    return _PLAIN + data


def decode(raw: bytes) -> Entry | None:
    """The entry, or ``None`` for anything unreadable (a foreign or corrupted value is a miss)."""
    try:
        marker = raw[:1]
        if marker == _PLAIN:
            data = orjson.loads(memoryview(raw)[1:])
        elif marker == _ZLIB:
            data = orjson.loads(zlib.decompress(memoryview(raw)[1:]))
        else:
            return None
        return Entry(data["v"], data["t"], data["x"])
    except (ValueError, KeyError, TypeError, zlib.error):
        return None


def encode_local(entry: Entry) -> bytes:
    """The in-process form of an entry already normalised by a JSON round trip."""
    return marshal.dumps((entry.value, entry.tags, entry.expires_at))


def decode_local(raw: bytes) -> Entry:
    value, tags, expires_at = marshal.loads(raw)
    return Entry(value, tags, expires_at)
