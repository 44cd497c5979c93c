"""Per-tenant provider credentials from Settings: save (write-only), remove, list, test.

A key is never read back: the page shows only whether one is stored (and its base URL, which is
not a secret). ``test`` sends the smallest request through the same resolver a run uses, so it
also proves which credential a run gets: the stored one first, the environment after it.
"""
from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from runtime.errors import AkisError
from runtime.net.addresses import refusal
from runtime.net.fetch import METADATA_HOSTS, normal_host
from runtime.ports import LLMRequest, ProviderResolver
from runtime.providers.resolver import FallbackMock
from storage.credential_source import StoredCredentials
from storage.db import Database
from storage.repos.credentials import delete_credential, read_provider_credential, save_provider_credential

from .errors import Invalid

PROVIDERS = ("anthropic", "openai", "openai_compatible")
TEST_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4o-mini", "openai_compatible": "default"}


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    provider: str
    key_stored: bool
    base_url: str


@dataclass(frozen=True, slots=True)
class TestOutcome:
    ok: bool
    message: str


class CredentialService:
    def __init__(self, database: Database, resolver: ProviderResolver, stored: StoredCredentials | None,
                 allowed_hosts: tuple[str, ...] = ()) -> None:
        self.database, self.resolver, self.stored = database, resolver, stored
        self.allowed_hosts = allowed_hosts  # AKIS_HTTP_ALLOW_HOSTS: hosts a base URL may name despite the rule

    def list(self, tenant_id: str) -> list[CredentialStatus]:
        out = []
        for provider in PROVIDERS:
            found = self.database.call(read_provider_credential, tenant_id, provider)
            out.append(CredentialStatus(provider, bool(found and found[0]), found[1] if found else ""))
        return out

    def save(self, tenant_id: str, provider: str, api_key: str | None, base_url: str | None) -> CredentialStatus:
        """``api_key`` None or empty keeps the stored key (the field is write-only); ``base_url``
        None keeps the stored URL, empty clears it."""
        _check_provider(provider)
        url = (base_url or "").strip() if base_url is not None else None
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise Invalid(f"base URL {url!r} is not an http(s) URL")
            if parts.username or parts.password:
                raise Invalid("put the key in the API key field, not in the base URL")
            self._check_host(parts.hostname)
        old = self.database.call(read_provider_credential, tenant_id, provider) or ("", "")
        key = (api_key or "").strip() or old[0]
        new_url = old[1] if url is None else url
        if provider != "openai_compatible" and not key:
            raise Invalid(f"{provider}: enter an API key")
        if provider == "openai_compatible" and not new_url:
            raise Invalid("openai_compatible: enter the server's base URL")
        self.database.call(save_provider_credential, tenant_id, provider, provider, key, new_url)
        self._forget(tenant_id, provider)
        return CredentialStatus(provider, bool(key), new_url)

    def remove(self, tenant_id: str, provider: str) -> bool:
        _check_provider(provider)
        removed = self.database.call(delete_credential, tenant_id, provider)
        self._forget(tenant_id, provider)
        return bool(removed)

    async def test(self, tenant_id: str, provider: str, model: str | None = None) -> TestOutcome:
        """One tiny request with the credential a run would get; what happened, in words."""
        _check_provider(provider)
        try:
            chosen = self.resolver.resolve(provider, None, tenant_id)
        except AkisError as exc:
            return TestOutcome(False, str(exc))
        if isinstance(chosen, FallbackMock):
            return TestOutcome(False, f"no credential: {chosen.notice}")
        request = LLMRequest(model=(model or TEST_MODELS[provider]).strip(),
                             messages=[{"role": "user", "content": "Reply with OK."}], max_tokens=5)
        started = time.perf_counter()
        try:
            async for _ in chosen.stream(request):
                pass
        except AkisError as exc:
            return TestOutcome(False, str(exc))  # names the provider and what went wrong (a 401, no connection)
        except Exception as exc:  # noqa: BLE001 - a network failure is the test's answer, never a traceback
            return TestOutcome(False, f"{provider} could not be reached: {type(exc).__name__}: {exc}")
        return TestOutcome(True, f"{provider} answered in {(time.perf_counter() - started) * 1000:.0f} ms")

    def _check_host(self, hostname: str) -> None:
        """A tenant may not point the server at its own network (the http_request node's SSRF
        rule): a loopback, private or metadata address, or localhost, unless AKIS_HTTP_ALLOW_HOSTS
        lists it. A name is not resolved here (the SDK connects later)."""
        host = normal_host(hostname)
        if host in {normal_host(h) for h in self.allowed_hosts}:
            return
        if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
            raise Invalid(f"base URL: {host} is a local or metadata host (allow it in AKIS_HTTP_ALLOW_HOSTS)")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        why = refusal(str(address))
        if why:
            raise Invalid(f"base URL: {host} is {why} (allow the host in AKIS_HTTP_ALLOW_HOSTS)")

    def _forget(self, tenant_id: str, provider: str) -> None:
        if self.stored is not None:
            self.stored.forget(tenant_id, provider)


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise Invalid(f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")
