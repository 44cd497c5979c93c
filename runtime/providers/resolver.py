"""Which provider a node gets: its name and credential in, a ready :class:`LLMProvider` out.

With no key configured the resolver hands out the offline mock instead and records a notice
("no ANTHROPIC_API_KEY: using the offline mock provider"), so a fresh install runs every
example offline and the run output says why the answer is canned. That fallback happens only
for a provider's *default* credential: a flow that names a specific credential which does not
exist gets a clear :class:`MissingKey` error, never a silent mock.
"""
from __future__ import annotations

import hashlib
from typing import Any

from ..ports import LLMProvider
from ..settings import AkisSettings
from .anthropic_provider import AnthropicProvider
from .credentials import Credential, CredentialSource, EnvCredentials, check_name, env_prefix, key_variable
from .errors import MissingKey, UnknownProvider
from .mock import MOCK, MockProvider
from .notices import NOTICE_TAIL
from .openai_provider import OpenAIProvider

KINDS = ("anthropic", "openai", "openai_compatible", "mock")


class FallbackMock(MockProvider):
    """The mock standing in for a provider that has no key; says so in ``notice``."""

    def __init__(self, wanted: str, notice: str) -> None:
        self.fallback_for = wanted
        self.notice = notice


def missing_variable(provider: str, credential: str) -> str:
    """The variable(s) a person sets to configure ``credential`` for ``provider``."""
    if provider != "openai_compatible":
        return key_variable(credential)
    own = f"{env_prefix(credential)}_BASE_URL"
    return f"{own} or OPENAI_BASE_URL" if credential == provider else own


def fallback_notice(provider: str, credential: str) -> str:
    return f"no {missing_variable(provider, credential)}{NOTICE_TAIL}{provider}"


class EnvProviderResolver:
    """Implements :class:`runtime.ports.ProviderResolver`.

    ``notices`` is a list the resolver appends to (pass ``services.notices``); each distinct
    notice is added once. SDK clients are kept per (provider, key, base URL) so their
    connection pools are reused across runs; call :meth:`aclose` on shutdown.
    """

    def __init__(
        self,
        settings: AkisSettings | None = None,
        credentials: CredentialSource | None = None,
        *,
        fallback_to_mock: bool = True,
        notices: list[str] | None = None,
        read_timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        http_client: Any = None,
    ) -> None:
        self.settings = settings if settings is not None else AkisSettings()
        self.credentials = credentials if credentials is not None else EnvCredentials(self.settings)
        self.fallback_to_mock = fallback_to_mock
        self.notices = notices if notices is not None else []
        self.read_timeout_s = read_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.http_client = http_client
        self._cache: dict[tuple[str, str, str], LLMProvider] = {}

    def resolve(self, provider: str, credential: str | None, tenant_id: str) -> LLMProvider:
        kind = (provider or "mock").strip().lower()
        if kind not in KINDS:
            raise UnknownProvider(f"unknown provider {provider!r}: use one of {', '.join(KINDS)}", provider=provider)
        if kind == "mock":
            return MOCK
        name = check_name(credential) if credential else kind
        found = self.credentials.get(name, tenant_id)
        if kind == "openai_compatible" and name == kind and not (found and found.base_url):
            found = self.credentials.get("openai", tenant_id)  # OPENAI_BASE_URL, as the README says
        usable = found is not None and (found.base_url if kind == "openai_compatible" else found.api_key)
        if not usable:
            return self._missing(kind, name, explicit=credential is not None and credential != kind)
        assert found is not None
        return self._provider(kind, found)

    def _missing(self, kind: str, name: str, *, explicit: bool) -> LLMProvider:
        what = "base URL" if kind == "openai_compatible" else "API key"
        variable = missing_variable(kind, name)
        if explicit or not self.fallback_to_mock:
            raise MissingKey(
                f"{kind}: credential {name!r} has no {what}: set {variable} or store the credential",
                provider=kind,
            )
        notice = fallback_notice(kind, name)
        if notice not in self.notices:
            self.notices.append(notice)
        return FallbackMock(kind, notice)

    def _provider(self, kind: str, credential: Credential) -> LLMProvider:
        digest = hashlib.sha256(credential.api_key.encode()).hexdigest()[:16]
        key = (kind, digest, credential.base_url)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        common: dict[str, Any] = {
            "read_timeout_s": self.read_timeout_s,
            "connect_timeout_s": self.connect_timeout_s,
            "http_client": self.http_client,
        }
        made: LLMProvider
        if kind == "anthropic":
            made = AnthropicProvider(credential.api_key, base_url=credential.base_url, **common)
        else:
            made = OpenAIProvider(
                credential.api_key, base_url=credential.base_url, compatible=kind == "openai_compatible", **common
            )
        self._cache[key] = made
        return made

    async def aclose(self) -> None:
        """Close every SDK client this resolver made."""
        for made in list(self._cache.values()):
            close = getattr(made, "aclose", None)
            if close is not None:
                await close()
        self._cache.clear()


def build_resolver(settings: AkisSettings | None = None, notices: list[str] | None = None) -> EnvProviderResolver:
    """The resolver ``app.py`` wires in: environment credentials, mock fallback on."""
    return EnvProviderResolver(settings, notices=notices)
