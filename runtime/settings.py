"""Configuration from the environment (and a ``.env`` file), each value with a safe default."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.data import PLUGINS_DIR


def default_plugins_dir() -> Path:
    """``./plugins`` when the working folder has one, else the shipped example (tenant 2's
    ``payment_gateway``), so an installed ``akis`` started anywhere has the demo's plugin."""
    local = Path("plugins")
    return local if local.is_dir() else PLUGINS_DIR


class AkisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AKIS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".akis")
    database_url: str = ""  # empty: SQLite file akis.db in the working directory
    redis_url: str = ""  # empty: no Redis (in-process cache, channels and jobs)
    memcached: str = ""  # host:port
    cache_tiers: str = "memory"  # ordered, comma-separated: memory,redis,memcached
    cache_prefix: str = ""
    cache_timeout_s: float = 0.25  # a tier slower than this is bypassed (circuit breaker)
    # Every Redis client the app makes (channels, cache, jobs, metrics, health) gets these
    # (runtime/redis_clients.py); a URL's own ?socket_timeout=... overrides them.
    redis_connect_timeout_s: float = 0.5  # connecting (and the request path's breaker trips after it)
    redis_socket_timeout_s: float = 1.0  # one reply on the request path (channels, cache, health)
    redis_jobs_socket_timeout_s: float = 5.0  # one reply on the job queue (arq: no blocking reads)
    redis_retry_after_s: float = 5.0  # Redis found down (channels, cache tiers): probed again after this
    warmup_interval_s: float = 240.0  # under the default 300 s TTL: warmed entries never lapse; 0 turns it off
    plugins_dir: Path = Field(default_factory=default_plugins_dir)
    http_allow_hosts: str = ""  # comma-separated hosts http_request may reach despite SSRF guards
    # the in-memory conversation store (used when no storage is configured): its bounds
    memory_conversation_sessions: int = Field(10_000, ge=1)  # sessions kept, least recently used dropped
    memory_conversation_session_messages: int = Field(200, ge=1)  # last messages kept per session
    memory_conversation_messages: int = Field(100_000, ge=1)  # messages kept in all
    secret_key: SecretStr = SecretStr("")
    cors_origins: str = ""
    allowed_origins: str = ""
    anthropic_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("ANTHROPIC_API_KEY", "AKIS_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str = Field("", validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "AKIS_ANTHROPIC_BASE_URL"))
    openai_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY", "AKIS_OPENAI_API_KEY")
    )
    openai_base_url: str = Field("", validation_alias=AliasChoices("OPENAI_BASE_URL", "AKIS_OPENAI_BASE_URL"))
    # observability (docs/observability.md): log lines as text or JSON; Prometheus /metrics is on
    # when a way to read it is set: a bearer token, or client addresses/networks allowed without one
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr = SecretStr("")
    metrics_allow: str = ""  # comma-separated addresses or networks (10.0.0.0/8, ::1)
    metrics_tenant_label: bool = False  # a tenant label on run and node metrics (one series per tenant)
    # a link to a run's trace in a tracing UI (Jaeger, Tempo, ...): {trace_id} is replaced; empty: no link
    trace_url: str = ""

    @field_validator("trace_url")
    @classmethod
    def _trace_url(cls, value: str) -> str:
        """A pattern the run pane, History and dashboard can turn into a link, or a clear refusal."""
        value = value.strip()
        if value and (not value.lower().startswith(("http://", "https://")) or "{trace_id}" not in value):
            raise ValueError("AKIS_TRACE_URL must be an http(s) URL containing {trace_id}, "
                             f"like https://jaeger.example.com/trace/{{trace_id}}; got {value!r}")
        return value

    def trace_link(self, trace_id: str) -> str | None:
        """The link to one trace, or None without ``AKIS_TRACE_URL``."""
        return self.trace_url.replace("{trace_id}", trace_id) if self.trace_url and trace_id else None

    @property
    def tiers(self) -> list[str]:
        return [t.strip() for t in self.cache_tiers.split(",") if t.strip()]

    @property
    def metrics_enabled(self) -> bool:
        return bool(self.metrics_token.get_secret_value() or self.metrics_allow.strip())

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or "sqlite:///akis.db"


@lru_cache(maxsize=1)
def get_settings() -> AkisSettings:
    return AkisSettings()
