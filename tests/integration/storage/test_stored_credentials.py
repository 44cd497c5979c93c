"""Stored provider credentials as the resolver's first source, on SQLite and PostgreSQL."""
from __future__ import annotations

from runtime.providers import ChainedCredentials, EnvCredentials, EnvProviderResolver
from runtime.providers.openai_provider import OpenAIProvider
from runtime.providers.resolver import FallbackMock
from runtime.services import Services
from runtime.settings import AkisSettings
from storage.credential_source import StoredCredentials, use_stored_credentials
from storage.db import Database
from storage.repos.credentials import (
    delete_credential,
    get_credential,
    read_provider_credential,
    save_provider_credential,
    set_credential,
)


def resolver_over(db: Database, env: dict[str, str]) -> tuple[EnvProviderResolver, StoredCredentials]:
    settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]  # no .env: only ``env``
    services = Services()
    services.providers = EnvProviderResolver(settings, EnvCredentials(settings, env), notices=services.notices)
    stored = use_stored_credentials(services, db)
    assert stored is not None and use_stored_credentials(services, db) is stored  # chained once
    assert isinstance(services.providers.credentials, ChainedCredentials)
    return services.providers, stored


def test_key_and_base_url_are_encrypted_together_and_read_back(db: Database) -> None:
    db.call(save_provider_credential, "2", "openai", "openai", "sk-stored-1", "https://llm.example.com/v1")
    row = db.call(get_credential, "2", "openai")
    assert row is not None and "sk-stored-1" not in row.secret_encrypted and "llm.example" not in row.secret_encrypted
    assert db.call(read_provider_credential, "2", "openai") == ("sk-stored-1", "https://llm.example.com/v1")
    assert db.call(read_provider_credential, "3", "openai") is None  # another tenant
    db.call(set_credential, "2", "legacy", "openai", "sk-plain")  # an older plain secret is the key
    assert db.call(read_provider_credential, "2", "legacy") == ("sk-plain", "")


def test_the_stored_credential_wins_over_the_environment_for_its_tenant_only(db: Database) -> None:
    resolver, stored = resolver_over(db, {"OPENAI_API_KEY": "sk-env"})
    db.call(save_provider_credential, "2", "openai", "openai", "sk-tenant-2", "")
    stored.forget("2", "openai")
    found = resolver.credentials.get("openai", "2")
    assert found is not None and (found.api_key, found.source) == ("sk-tenant-2", "stored")
    other = resolver.credentials.get("openai", "3")
    assert other is not None and (other.api_key, other.source) == ("sk-env", "environment")
    assert isinstance(resolver.resolve("openai", None, "2"), OpenAIProvider)


def test_removed_and_forgotten_falls_back_to_the_environment_then_the_mock(db: Database) -> None:
    resolver, stored = resolver_over(db, {})
    db.call(save_provider_credential, "2", "anthropic", "anthropic", "sk-a", "")
    assert resolver.credentials.get("anthropic", "2") is not None
    db.call(delete_credential, "2", "anthropic")
    assert resolver.credentials.get("anthropic", "2") is not None  # read within the last 5 s: kept
    stored.forget("2", "anthropic")  # what Settings does on remove
    assert resolver.credentials.get("anthropic", "2") is None
    assert isinstance(resolver.resolve("anthropic", None, "2"), FallbackMock)
