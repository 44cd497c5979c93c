"""Configuration from the environment (and a ``.env`` file), each value with a safe default."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.data import PLUGINS_DIR
from runtime.gc_policy import parse_thresholds


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
    # the in-process channel hub's events in all conversations (about 420 bytes each), for resumes
    channel_kept_events: int = Field(100_000, ge=1_000)
    # where runs execute (docs/architecture.md, "Durable runs"): inline in the web process, or
    # queued to `akis worker` processes; auto: queue when Redis is configured, else inline
    run_mode: Literal["auto", "inline", "queue"] = "auto"
    run_lease_s: float = Field(15.0, gt=0)  # a worker's hold on a run; a dead worker's runs are taken over after it
    run_max_attempts: int = Field(3, ge=1)  # a run interrupted this many times ends failed
    run_queue_limit: int = Field(10_000, ge=1)  # queued runs in all, over it POST .../runs answers 429
    run_queue_tenant_limit: int = Field(1_000, ge=1)  # queued runs per tenant, likewise
    # each node of a run recorded for inspection (its inputs, rendered config, output; docs/run_pane.md)
    run_inspection: bool = True
    queue_prefix: str = "akis:"  # the run queue's Redis keys start with it (one queue per prefix)
    warmup_interval_s: float = 240.0  # under the default 300 s TTL: warmed entries never lapse; 0 turns it off
    # a graceful stop (SIGTERM, docs/deploy.md): readiness fails at once, the instance keeps serving at least
    # drain_delay_s (the balancer's checks notice), then waits for its in-flight runs and streams, at most
    # drain_timeout_s after the signal, before it exits
    drain_delay_s: float = Field(2.0, ge=0)
    drain_timeout_s: float = Field(30.0, ge=0)
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
    # a worker's own /metrics (its runs, nodes, cache, tokens): served on this port when > 0
    worker_metrics_port: int = Field(0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # a link to a run's trace in a tracing UI (Jaeger, Tempo, ...): {trace_id} is replaced; empty: no link
    trace_url: str = ""
    # desktop mode (``akis desktop``, docs/desktop.md): the tenant the window's local user acts for
    desktop_tenant: str = Field("1", min_length=1, max_length=64)
    # the garbage collector's thresholds for a process with many runs in flight (runtime/gc_policy.py)
    gc_thresholds: str = "10000,10,10"
    # freeze what start-up made, so full collections skip it (runtime/gc_policy.py)
    gc_freeze: bool = True

    @field_validator("gc_thresholds")
    @classmethod
    def _gc_thresholds(cls, value: str) -> str:
        parse_thresholds(value)  # three whole numbers in range, or a refusal that says so
        return value.strip()

    @property
    def gc_threshold_values(self) -> tuple[int, int, int]:
        return parse_thresholds(self.gc_thresholds)

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
    def queued_runs(self) -> bool:
        """True when runs go to the worker queue (``AKIS_RUN_MODE``, by default: Redis is set)."""
        return self.run_mode == "queue" or (self.run_mode == "auto" and bool(self.redis_url))

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or "sqlite:///akis.db"


@lru_cache(maxsize=1)
def get_settings() -> AkisSettings:
    return AkisSettings()
