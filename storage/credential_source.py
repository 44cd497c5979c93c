"""Stored provider credentials as the resolver's :class:`~runtime.providers.CredentialSource`.

Settings stores a tenant's key and base URL for a provider in the encrypted ``credentials`` table
(``storage/repos/credentials.py``: the JSON ``{"api_key", "base_url"}`` is encrypted as one
secret). The resolver asks this source first and the environment after it, so a tenant's own
key wins over the server's. Lookups happen when an AI node starts, on the event loop: what was
read is kept for a few seconds (``ttl_s``) and forgotten at once when Settings saves or removes
it. Past ``ttl_s`` the last value still answers while a worker thread reads the row again, so
only the first lookup of a key blocks the loop: a slow or unreachable database never stalls the
runs (and the streams) of a web process that has read the key before.
"""
from __future__ import annotations

import asyncio
import logging
import time

from runtime.providers.credentials import ChainedCredentials, Credential
from runtime.providers.resolver import EnvProviderResolver
from runtime.services import Services

from .db import Database
from .repos.credentials import read_provider_credential

log = logging.getLogger(__name__)


class StoredCredentials:
    """Implements ``CredentialSource`` over the credentials table."""

    def __init__(self, database: Database, ttl_s: float = 5.0) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self._seen: dict[tuple[str, str], tuple[float, Credential | None]] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._forgotten = 0  # a read that began before a forget() must not bring back what it forgot

    def get(self, name: str, tenant_id: str) -> Credential | None:
        key = (str(tenant_id), name)
        seen = self._seen.get(key)
        if seen is None:
            return self._read_here(key)
        if time.monotonic() - seen[0] >= self.ttl_s:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # a thread of its own (a background job): it may wait for the database
                return self._read_here(key)
            self._refresh(loop, key)
        return seen[1]

    def forget(self, tenant_id: str, name: str) -> None:
        self._forgotten += 1
        self._seen.pop((str(tenant_id), name), None)

    def _read_here(self, key: tuple[str, str]) -> Credential | None:
        """Read in the caller's thread: the first lookup of a key, or no event loop to hand it to."""
        forgotten = self._forgotten
        try:
            credential = self._read(key)
        except Exception as exc:  # noqa: BLE001 - the database away or a key that cannot decrypt: the environment answers
            log.warning("stored credential %r of tenant %s not read: %s", key[1], key[0], exc)
            return None
        self._keep(key, credential, forgotten)
        return credential

    def _refresh(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str]) -> None:
        """Read the row again in a worker thread; the value kept answers until it is back."""
        if key in self._refreshing:
            return
        self._refreshing.add(key)
        forgotten = self._forgotten
        reading = loop.run_in_executor(None, self._read, key)
        reading.add_done_callback(lambda done: self._refreshed(key, done, forgotten))

    def _refreshed(self, key: tuple[str, str], done: asyncio.Future[Credential | None], forgotten: int) -> None:
        self._refreshing.discard(key)
        if done.cancelled():
            return
        exc = done.exception()
        if exc is None:
            self._keep(key, done.result(), forgotten)
            return
        log.warning("stored credential %r of tenant %s not read again (the last one read answers): %s",
                    key[1], key[0], exc)
        seen = self._seen.get(key)
        if seen is not None and forgotten == self._forgotten:
            self._seen[key] = (time.monotonic(), seen[1])  # tried again after ttl_s, not on every lookup

    def _read(self, key: tuple[str, str]) -> Credential | None:
        tenant_id, name = key
        found = self.database.call(read_provider_credential, tenant_id, name)
        if found is None or not (found[0] or found[1]):
            return None
        return Credential(name=name, api_key=found[0], base_url=found[1], source="stored")

    def _keep(self, key: tuple[str, str], credential: Credential | None, forgotten: int) -> None:
        if forgotten == self._forgotten:
            self._seen[key] = (time.monotonic(), credential)


def use_stored_credentials(services: Services, database: Database) -> StoredCredentials | None:
    """Put the stored credentials in front of the environment in ``services.providers``."""
    resolver = services.providers
    if not isinstance(resolver, EnvProviderResolver):
        return None
    chained = resolver.credentials
    first = chained.sources[0] if isinstance(chained, ChainedCredentials) and chained.sources else None
    if isinstance(first, StoredCredentials):
        return first  # already in front
    stored = StoredCredentials(database)
    resolver.credentials = ChainedCredentials(stored, resolver.credentials)
    return stored
