"""LLM providers: Anthropic, OpenAI, OpenAI-compatible and the offline mock, behind one
``stream(LLMRequest)`` interface, with typed errors and credentials by name.

SDK modules are imported only when a real provider is first resolved.
"""
from .credentials import ChainedCredentials, Credential, CredentialSource, EnvCredentials
from .errors import (
    BadRequest,
    KeyRejected,
    MissingKey,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    ServerError,
    StreamDropped,
    UnknownModel,
    UnknownProvider,
)
from .mock import MockProvider
from .resolver import EnvProviderResolver, FallbackMock, build_resolver

__all__ = [
    "BadRequest",
    "ChainedCredentials",
    "Credential",
    "CredentialSource",
    "EnvCredentials",
    "EnvProviderResolver",
    "FallbackMock",
    "KeyRejected",
    "MissingKey",
    "MockProvider",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnreachable",
    "RateLimited",
    "ServerError",
    "StreamDropped",
    "UnknownModel",
    "UnknownProvider",
    "build_resolver",
]
