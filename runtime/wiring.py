"""Builds an Engine from settings with whatever runtime parts are configured (cache tiers,
LLM providers, channels). Storage-backed services are added by the app on top of this."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .cache.factory import build_cache as make_cache
from .cache.tiered import TieredCache
from .channels import ChannelHub, build_hub
from .engine.engine import Engine
from .knowledge.embeddings import build_embedder
from .knowledge.memory import MemoryKnowledge
from .knowledge.settings import KnowledgeSettings
from .nodes.registry import NodeRegistry, default_registry
from .providers.resolver import build_resolver
from .services import MemoryConversationStore, Services
from .settings import AkisSettings, get_settings

if TYPE_CHECKING:
    from .channels.redis_hub import RedisChannelHub

log = logging.getLogger("akis")


def build_registry(settings: AkisSettings | None = None) -> NodeRegistry:
    settings = settings or get_settings()
    return default_registry(plugins_dir=settings.plugins_dir)


def build_services(settings: AkisSettings | None = None, **overrides: Any) -> Services:
    settings = settings or get_settings()
    services = Services(
        http_allow_hosts=tuple(h.strip() for h in settings.http_allow_hosts.split(",") if h.strip()),
        conversations=MemoryConversationStore(
            max_sessions=settings.memory_conversation_sessions,
            max_session_messages=settings.memory_conversation_session_messages,
            max_messages=max(settings.memory_conversation_messages, settings.memory_conversation_session_messages),
        ),
    )
    services.providers = build_resolver(settings, services.notices)
    services.knowledge = MemoryKnowledge(embedder=build_embedder(KnowledgeSettings()))
    for name, value in overrides.items():
        setattr(services, name, value)
    return services


def build_cache(settings: AkisSettings | None = None) -> TieredCache:
    return make_cache(settings or get_settings())


def build_publisher(settings: AkisSettings | None = None) -> ChannelHub | RedisChannelHub:
    return build_hub(settings or get_settings())


def build_engine(settings: AkisSettings | None = None, **parts: Any) -> Engine:
    """An Engine wired from settings; ``parts`` (services, cache, metrics, ...) override."""
    settings = settings or get_settings()
    registry = parts.pop("registry", None) or build_registry(settings)
    services = parts.pop("services", None) or build_services(settings)
    cache = parts.pop("cache") if "cache" in parts else build_cache(settings)
    publisher = parts.pop("publisher") if "publisher" in parts else build_publisher(settings)
    return Engine(registry=registry, services=services, cache=cache, publisher=publisher, **parts)
