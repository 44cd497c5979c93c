"""Credentials by name: a flow names one (``"anthropic"``), never holds a key.

Today they come from environment variables; storage will plug in encrypted, per-tenant stored
credentials through the same small :class:`CredentialSource` protocol (chain it in front of
the environment with :class:`ChainedCredentials`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ..settings import AkisSettings
from .errors import ProviderError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Credential:
    """What a provider needs to connect. ``repr`` never shows the key."""

    name: str
    api_key: str = ""
    base_url: str = ""
    source: str = "environment"

    def __repr__(self) -> str:
        shown = "set" if self.api_key else "unset"
        return f"Credential(name={self.name!r}, api_key=<{shown}>, base_url={self.base_url!r}, source={self.source!r})"


class CredentialSource(Protocol):
    def get(self, name: str, tenant_id: str) -> Credential | None:
        """The credential called ``name`` for this tenant, or ``None`` if there is none."""
        ...


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ProviderError(
            f"credential name {name!r} is not valid: use letters, digits, '_', '.', '-' (at most 64)"
        )
    return name


def env_prefix(name: str) -> str:
    """``"openai_compatible"`` -> ``"OPENAI_COMPATIBLE"``; the variables are ``<PREFIX>_API_KEY``
    and ``<PREFIX>_BASE_URL``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def key_variable(name: str) -> str:
    return f"{env_prefix(name)}_API_KEY"


class EnvCredentials:
    """Credential ``foo`` is ``FOO_API_KEY`` plus ``FOO_BASE_URL``; ``anthropic`` and ``openai``
    also read :class:`AkisSettings` (so a ``.env`` file and the ``AKIS_`` aliases work)."""

    def __init__(self, settings: AkisSettings | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._environ = environ if environ is not None else os.environ

    def get(self, name: str, tenant_id: str) -> Credential | None:
        check_name(name)
        prefix = env_prefix(name)
        key = self._environ.get(f"{prefix}_API_KEY", "")
        base_url = self._environ.get(f"{prefix}_BASE_URL", "")
        if self._settings is not None and prefix in ("ANTHROPIC", "OPENAI"):
            lower = prefix.lower()
            key = key or getattr(self._settings, f"{lower}_api_key").get_secret_value()
            base_url = base_url or getattr(self._settings, f"{lower}_base_url")
        if not key and not base_url:
            return None
        return Credential(name=name, api_key=key, base_url=base_url)


class ChainedCredentials:
    """The first source that knows the name wins (stored credentials, then the environment)."""

    def __init__(self, *sources: CredentialSource) -> None:
        self.sources = sources

    def get(self, name: str, tenant_id: str) -> Credential | None:
        for source in self.sources:
            found = source.get(name, tenant_id)
            if found is not None:
                return found
        return None
