"""Publishing a flow: publishable keys for the chat widget, and the check each widget call passes.

A publishable key is meant to sit in a web page, so it grants little: it runs one flow of one
tenant, only from a page whose Origin is on the key's list (or the app's own pages), at most
``rate_per_minute`` runs a minute for each visitor address (``publishing_rates.py``: shared by
every instance through Redis when it is configured), until it is revoked. The visitor may rate
the answers of their own widget session (twice that rate, in a window of its own). The editor's
Publish dialog and the API create, list and revoke keys through here; the widget's route asks
:meth:`PublishingService.authorize` before each run.

Verified keys are remembered for ``ttl_s`` (a revocation through this service forgets them at
once; one made by another instance is seen within ``ttl_s``).
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cachetools import TTLCache

from storage.db import Database
from storage.repos import publishing as repo
from storage.repos.tokens import hash_token
from storage.tables.publishing import PublishableKey

from .errors import Invalid, NotFound
from .flows import FlowService
from .publishing_rates import Rates, RateWindow

MIN_RATE, MAX_RATE, DEFAULT_RATE = 1, 600, 20


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never its secret or hash."""

    id: str
    flow_id: str
    name: str
    allowed_origins: tuple[str, ...]
    rate_per_minute: int
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: PublishableKey) -> KeyInfo:
        return cls(row.id, row.flow_id, row.name, tuple(row.allowed_origins), row.rate_per_minute, row.created_by,
                   row.created_at, row.last_used_at, row.revoked_at)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    info: KeyInfo
    key: str  # the plaintext, shown once


@dataclass(frozen=True, slots=True)
class Authorized:
    tenant_id: str
    key_id: str
    flow_id: str

    def visitor_session(self, session_id: str) -> str:
        """The session a visitor's runs are kept under, apart from every other session of the tenant."""
        return f"pub-{self.key_id}-{session_id}"


class Refused(Exception):
    """Why a widget call is refused: an HTTP status, a stable ``code`` the widget turns into
    words for a visitor, and a detail for the site's developer."""

    def __init__(self, status: int, code: str, detail: str, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.retry_after_s = status, code, detail, retry_after_s


def embed_snippet(server_url: str, key: str, flow_id: str, title: str = "") -> str:
    """The HTML a site pastes before ``</body>``: the widget script, its key and flow."""
    root = server_url.rstrip("/")
    label = f' data-akis-title="{html.escape(title, quote=True)}"' if title.strip() else ""
    return (f'<script src="{html.escape(root, quote=True)}/widget/widget.js" async\n'
            f'        data-akis-key="{html.escape(key, quote=True)}"\n'
            f'        data-akis-flow="{html.escape(flow_id, quote=True)}"{label}></script>')


def normal_origin(text: str) -> str:
    """``scheme://host[:port]`` in lower case, or :class:`Invalid` naming what is wrong."""
    value = text.strip().rstrip("/").lower()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise Invalid(f"allowed origin {text.strip()!r} is not an origin: write it as https://shop.example.com "
                      "(scheme and host, a port if any, no path)")
    return f"{parts.scheme}://{parts.netloc}"


def parse_origin_list(values: list[str] | str) -> list[str]:
    """Origins from a list or from text split by commas, spaces or lines; duplicates dropped."""
    items = values.replace(",", " ").split() if isinstance(values, str) else values
    found: list[str] = []
    for item in items:
        if item.strip():
            origin = normal_origin(item)
            if origin not in found:
                found.append(origin)
    if len(found) > repo.MAX_ORIGINS:
        raise Invalid(f"at most {repo.MAX_ORIGINS} allowed origins a key")
    return found


def origin_matches(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """A browser's Origin is on the key's list, or is the app's own (its Host)."""
    if not origin:
        return False
    value = origin.strip().rstrip("/").lower()
    if value in allowed:
        return True
    parts = urlsplit(value)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()


class PublishingService:
    def __init__(self, database: Database, flows: FlowService, rates: Rates | None = None,
                 clock: Callable[[], float] = time.monotonic, ttl_s: float = 2.0) -> None:
        self.database, self.flows = database, flows
        self.rates: Rates = rates if rates is not None else RateWindow(clock)
        self._verified: TTLCache[str, PublishableKey | None] = TTLCache(maxsize=10_000, ttl=ttl_s, timer=clock)

    # -- the editor's and the API's side: the tenant is the caller's ---------------------------
    async def create(self, tenant_id: str, flow_id: str, *, name: str = "", allowed_origins: list[str] | str = "",
                     rate_per_minute: int = DEFAULT_RATE, created_by: str = "") -> CreatedKey:
        origins = parse_origin_list(allowed_origins)
        if not MIN_RATE <= rate_per_minute <= MAX_RATE:
            raise Invalid(f"runs a minute must be between {MIN_RATE} and {MAX_RATE}, not {rate_per_minute}")
        await self.flows.read(tenant_id, flow_id)  # NotFound for a flow this tenant does not have
        row, plaintext = await self.database.run(repo.create_key, tenant_id, flow_id, name=name,
                                                 allowed_origins=origins, rate_per_minute=rate_per_minute,
                                                 created_by=created_by)
        return CreatedKey(KeyInfo.of(row), plaintext)

    async def list(self, tenant_id: str, flow_id: str | None = None) -> list[KeyInfo]:
        """The tenant's keys (of ``flow_id``, NotFound when the tenant has no such flow)."""
        if flow_id is not None:
            await self.flows.read(tenant_id, flow_id)
        return [KeyInfo.of(row) for row in await self.database.run(repo.list_keys, tenant_id, flow_id)]

    async def revoke(self, tenant_id: str, key_id: str) -> None:
        """Revoke at once on this instance; NotFound for no such live key of this tenant."""
        try:
            if not await self.database.run(repo.revoke_key, tenant_id, key_id):
                raise NotFound(f"live publishable key {key_id!r}")
        finally:
            self._verified.clear()

    # -- the widget's side: the key is all the caller has --------------------------------------
    async def authorize(self, key: str, flow_id: str, headers: Mapping[str, str], address: str, *,
                        feedback: bool = False) -> Authorized:
        """The tenant and flow a widget call may run (or, with ``feedback``, rate), or :class:`Refused`
        saying why. Ratings have a window of their own, twice the runs' rate (a thumb and a comment
        for each answer), so rating never costs a visitor a message."""
        row = await self._find(key)
        if row is None:
            raise Refused(401, "key_invalid", "this is not a publishable key of this server (create one with "
                                              "Publish in the flow editor)")
        if row.revoked_at is not None:
            raise Refused(401, "key_revoked", f"publishable key {row.id} was revoked")
        if row.flow_id != flow_id:
            raise Refused(403, "wrong_flow", f"publishable key {row.id} runs flow {row.flow_id!r} only, "
                                             f"not {flow_id!r}")
        if not origin_matches(headers.get("origin"), headers.get("host"), tuple(row.allowed_origins)):
            shown = headers.get("origin") or "no Origin header"
            raise Refused(403, "origin_not_allowed", f"{shown} is not an allowed origin of publishable key "
                                                     f"{row.id} (add it in the flow's Publish dialog)")
        window, limit, what = ((f"{row.id}\x1ffeedback\x1f{address}", 2 * row.rate_per_minute, "ratings")
                               if feedback else (f"{row.id}\x1f{address}", row.rate_per_minute, "runs"))
        wait = await self.rates.take(window, limit)
        if wait > 0:
            retry = max(1, int(wait + 0.999))
            raise Refused(429, "rate_limited", f"at most {limit} {what} a minute from one visitor: "
                                               f"try again in {retry} s", retry_after_s=retry)
        return Authorized(row.tenant_id, row.id, row.flow_id)

    async def _find(self, key: str) -> PublishableKey | None:
        key = key.strip()
        if len(key) > 200 or repo.key_id_of(key) is None:
            return None
        digest = hash_token(key)  # remembered by digest: no plaintext key is kept
        if digest in self._verified:
            return self._verified[digest]
        found = await self.database.run(repo.find_key, key)
        self._verified[digest] = found
        return found
