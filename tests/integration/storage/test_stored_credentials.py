"""Stored provider credentials as the resolver's first source, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import threading

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


class CountingCalls:
    """Wraps ``Database.call``: which thread each read ran in, and a failure on demand."""

    def __init__(self, db: Database) -> None:
        self.db, self.call, self.threads, self.fail = db, db.call, [], False
        db.call = self  # type: ignore[method-assign]

    def __call__(self, fn, *args, **kwargs):
        self.threads.append(threading.get_ident())
        if self.fail:
            raise ConnectionError("the database is away")
        return self.call(fn, *args, **kwargs)


async def until(predicate, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within 5 s: {what}")


async def test_past_its_ttl_the_last_key_answers_while_a_thread_reads_it_again(db: Database) -> None:
    """Only the first lookup reads on the event loop: a later one never waits for the database."""
    _, stored = resolver_over(db, {})
    db.call(save_provider_credential, "2", "openai", "openai", "sk-first", "")
    calls = CountingCalls(db)
    loop_thread = threading.get_ident()
    assert stored.get("openai", "2").api_key == "sk-first"
    assert calls.threads == [loop_thread]  # the first lookup of the key: read here
    calls.call(save_provider_credential, "2", "openai", "openai", "sk-second", "")  # another instance saves
    assert stored.get("openai", "2").api_key == "sk-first"  # within its ttl: no read at all
    assert len(calls.threads) == 1
    stored.ttl_s = 0.0
    assert stored.get("openai", "2").api_key == "sk-first"  # past it: the last value, at once
    assert stored.get("openai", "2").api_key == "sk-first"  # one read again at a time
    await until(lambda: len(calls.threads) == 2 and not stored._refreshing, "the read again")
    assert calls.threads[1] != loop_thread
    stored.ttl_s = 60.0
    assert stored.get("openai", "2").api_key == "sk-second"
    assert len(calls.threads) == 2


async def test_a_failed_read_again_keeps_the_last_key_and_waits_its_ttl(db: Database, caplog) -> None:
    _, stored = resolver_over(db, {"OPENAI_API_KEY": "sk-env"})
    db.call(save_provider_credential, "2", "openai", "openai", "sk-tenant", "")
    calls = CountingCalls(db)
    assert stored.get("openai", "2").api_key == "sk-tenant"
    calls.fail, stored.ttl_s = True, 0.0
    assert stored.get("openai", "2").api_key == "sk-tenant"
    await until(lambda: not stored._refreshing, "the failed read")
    assert "not read again (the last one read answers): the database is away" in caplog.text
    stored.ttl_s = 60.0  # the failure counts as a read: the next try is a ttl later, not on every lookup
    assert stored.get("openai", "2").api_key == "sk-tenant"
    assert len(calls.threads) == 2


async def test_a_read_again_under_way_does_not_bring_back_what_settings_forgot(db: Database) -> None:
    """The read again gets the old key, then Settings saves a new one and forgets the old: the
    read again, done last, must not put the old key back."""
    _, stored = resolver_over(db, {})
    db.call(save_provider_credential, "2", "openai", "openai", "sk-old", "")
    calls = CountingCalls(db)
    loop_thread = threading.get_ident()
    assert stored.get("openai", "2").api_key == "sk-old"
    read, has_read, gate = calls.call, threading.Event(), threading.Event()

    def held(fn, *args, **kwargs):
        found = read(fn, *args, **kwargs)
        if threading.get_ident() != loop_thread:  # the read again: it has the old key, and waits
            has_read.set()
            gate.wait(5)
        return found

    calls.call = held
    stored.ttl_s = 0.0
    assert stored.get("openai", "2").api_key == "sk-old"  # past its ttl: a read again starts
    await until(has_read.is_set, "the read again to have the old key")
    read(save_provider_credential, "2", "openai", "openai", "sk-new", "")
    stored.forget("2", "openai")  # Settings saved the new key
    stored.ttl_s = 60.0
    assert stored.get("openai", "2").api_key == "sk-new"  # read at once, as after any save
    gate.set()
    await until(lambda: not stored._refreshing, "the held read")
    assert stored.get("openai", "2").api_key == "sk-new"


def test_without_an_event_loop_a_lookup_past_its_ttl_reads_in_its_own_thread(db: Database) -> None:
    """A background job's thread: nothing to hand the read to, and nothing else waits on it."""
    _, stored = resolver_over(db, {})
    db.call(save_provider_credential, "2", "openai", "openai", "sk-1", "")
    assert stored.get("openai", "2").api_key == "sk-1"
    db.call(save_provider_credential, "2", "openai", "openai", "sk-2", "")
    stored.ttl_s = 0.0
    assert stored.get("openai", "2").api_key == "sk-2"
