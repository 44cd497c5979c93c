"""Stored provider credentials as the resolver's :class:`~runtime.providers.CredentialSource`.

Settings stores a tenant's key and base URL for a provider in the encrypted ``credentials`` table
(``storage/repos/credentials.py``: the JSON ``{"api_key", "base_url"}`` is encrypted as one
secret). The resolver asks this source first and the environment after it, so a tenant's own
key wins over the server's. Lookups happen when an AI node starts, so what was read is kept for
a few seconds (``ttl_s``) and forgotten at once when Settings saves or removes it.
"""
from __future__ import annotations

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

    def get(self, name: str, tenant_id: str) -> Credential | None:
        key = (str(tenant_id), name)
        seen = self._seen.get(key)
        if seen is not None and time.monotonic() - seen[0] < self.ttl_s:
            return seen[1]
        try:
            found = self.database.call(read_provider_credential, str(tenant_id), name)
        except Exception as exc:  # noqa: BLE001 - the database away or a key that cannot decrypt: the environment answers
            log.warning("stored credential %r of tenant %s not read: %s", name, tenant_id, exc)
            return None
        credential = None
        if found is not None and (found[0] or found[1]):
            credential = Credential(name=name, api_key=found[0], base_url=found[1], source="stored")
        self._seen[key] = (time.monotonic(), credential)
        return credential

    def forget(self, tenant_id: str, name: str) -> None:
        self._seen.pop((str(tenant_id), name), None)


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
