"""Credentials by name and the resolver's choice of provider (no network: clients are lazy)."""
from __future__ import annotations

import sys

import pytest

from runtime.ports import LLMRequest, Usage
from runtime.providers import (
    ChainedCredentials,
    Credential,
    EnvCredentials,
    EnvProviderResolver,
    FallbackMock,
    MissingKey,
    MockProvider,
    ProviderError,
    UnknownProvider,
)
from runtime.providers.anthropic_provider import AnthropicProvider
from runtime.providers.openai_provider import OpenAIProvider
from runtime.settings import AkisSettings


def resolver(environ: dict[str, str], **kw: object) -> EnvProviderResolver:
    settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]
    return EnvProviderResolver(settings, EnvCredentials(settings, environ), **kw)  # type: ignore[arg-type]


def test_credential_names_map_to_variables() -> None:
    source = EnvCredentials(None, {"OPENAI_COMPATIBLE_BASE_URL": "http://127.0.0.1:1/v1", "ACME_LLM_API_KEY": "k"})
    assert source.get("openai_compatible", "2") == Credential("openai_compatible", "", "http://127.0.0.1:1/v1")
    assert source.get("acme-llm", "2") == Credential("acme-llm", "k", "")
    assert source.get("nothing", "2") is None
    with pytest.raises(ProviderError, match="not valid"):
        source.get("../etc", "2")


def test_settings_supply_anthropic_and_openai_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKIS_ANTHROPIC_API_KEY", "sk-ant-from-settings")
    settings = AkisSettings(_env_file=None)  # type: ignore[call-arg]
    found = EnvCredentials(settings, {}).get("anthropic", "1")
    assert found is not None and found.api_key == "sk-ant-from-settings"


def test_credential_repr_never_shows_the_key() -> None:
    text = repr(Credential("anthropic", "sk-secret-123", ""))
    assert "sk-secret-123" not in text and "<set>" in text


def test_chained_credentials_first_source_wins() -> None:
    class Stored:
        def get(self, name: str, tenant_id: str) -> Credential | None:
            return Credential(name, f"stored-{tenant_id}", "", source="stored") if tenant_id == "2" else None

    chain = ChainedCredentials(Stored(), EnvCredentials(None, {"ANTHROPIC_API_KEY": "env-key"}))
    assert chain.get("anthropic", "2").api_key == "stored-2"  # type: ignore[union-attr]
    assert chain.get("anthropic", "5").api_key == "env-key"  # type: ignore[union-attr]


async def test_no_key_falls_back_to_mock_and_says_so() -> None:
    notices: list[str] = []
    chosen = resolver({}, notices=notices).resolve("anthropic", None, "2")
    assert isinstance(chosen, FallbackMock) and chosen.name == "mock" and chosen.fallback_for == "anthropic"
    assert notices == ["no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic"]
    assert chosen.notice == notices[0]
    request = LLMRequest(
        model="claude-x", messages=[{"role": "user", "content": "hi"}], options={"delay_ms": 0, "tokens_per_second": 0}
    )
    items = [item async for item in chosen.stream(request)]
    assert isinstance(items[-1], Usage) and "".join(i for i in items if isinstance(i, str))


def test_notice_is_recorded_once_and_named_per_provider() -> None:
    notices: list[str] = []
    chosen = resolver({}, notices=notices)
    chosen.resolve("anthropic", None, "1")
    chosen.resolve("anthropic", "anthropic", "2")
    chosen.resolve("openai", None, "1")
    chosen.resolve("openai_compatible", None, "1")
    assert notices == [
        "no ANTHROPIC_API_KEY: using the offline mock provider instead of anthropic",
        "no OPENAI_API_KEY: using the offline mock provider instead of openai",
        "no OPENAI_COMPATIBLE_BASE_URL or OPENAI_BASE_URL: "
        "using the offline mock provider instead of openai_compatible",
    ]


def test_openai_compatible_also_takes_openai_base_url() -> None:
    chosen = resolver({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}).resolve("openai_compatible", None, "1")
    assert isinstance(chosen, OpenAIProvider) and chosen.compatible and chosen.where == "http://127.0.0.1:11434/v1"
    with pytest.raises(MissingKey, match="set LOCAL_BASE_URL or store"):
        resolver({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}).resolve("openai_compatible", "local", "1")


def test_a_named_credential_that_is_missing_is_an_error_not_a_mock() -> None:
    with pytest.raises(MissingKey, match="ACME_PROD_API_KEY"):
        resolver({}).resolve("anthropic", "acme_prod", "2")


def test_fallback_can_be_turned_off() -> None:
    with pytest.raises(MissingKey, match="set ANTHROPIC_API_KEY"):
        resolver({}, fallback_to_mock=False).resolve("anthropic", None, "2")


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProvider, match="anthropic, openai, openai_compatible, mock"):
        resolver({}).resolve("gemini", None, "1")


def test_mock_is_always_available() -> None:
    assert isinstance(resolver({}).resolve("mock", None, "1"), MockProvider)


async def test_real_providers_are_built_once_per_key() -> None:
    env = {"ANTHROPIC_API_KEY": "k1", "OPENAI_API_KEY": "k2", "LOCAL_BASE_URL": "http://127.0.0.1:9/v1"}
    chosen = resolver(env)
    first = chosen.resolve("anthropic", None, "1")
    assert isinstance(first, AnthropicProvider)
    assert chosen.resolve("anthropic", None, "2") is first
    openai = chosen.resolve("openai", None, "1")
    assert isinstance(openai, OpenAIProvider) and openai.name == "openai"
    local = chosen.resolve("openai_compatible", "local", "1")
    assert isinstance(local, OpenAIProvider) and local.name == "openai_compatible" and local.compatible
    await chosen.aclose()


def test_importing_the_package_loads_no_sdk() -> None:
    import subprocess

    code = ("import runtime.providers, runtime.channels, sys; "
            "print('anthropic' in sys.modules, 'openai' in sys.modules, 'redis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False False False"
