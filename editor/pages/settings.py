"""``/settings``: what this Akis uses (database, cache tiers, Redis, channels, jobs, providers,
node types), read-only. Never a secret: URLs lose their passwords, keys show only whether set."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from nicegui import ui

from editor.auth import current_tenant, local, watch_page
from editor.context import AkisContext
from editor.desktop.window import STATE_FILE
from editor.pages.credentials_card import credentials_card
from editor.services.runs import Hub
from editor.theme import apply_theme, header
from runtime import gc_policy
from runtime.channels import ChannelHub
from storage.crypto import KEY_FILE


def redact_url(url: str) -> str:
    """The URL without user name or password (``redis://:pw@host:6379/0`` -> ``redis://host:6379/0``)."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe_hub(hub: Hub | None) -> str:
    """Which channel hub; the in-process one with what it keeps against its bound."""
    if hub is None:
        return "none"
    if isinstance(hub, ChannelHub):
        return (f"ChannelHub (in-process): keeps {hub.kept:,} events for resumes, at most {hub.max_kept:,} "
                "in all conversations (AKIS_CHANNEL_KEPT_EVENTS)")
    return type(hub).__name__


def describe(context: AkisContext, tenant_id: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections of the page as (title, [(label, value)]), built from the live context."""
    settings = context.settings
    cache = context.cache
    tiers = cache.health() if cache is not None else {}
    key_set = {name: bool(getattr(settings, f"{name}_api_key").get_secret_value())
               for name in ("anthropic", "openai")}
    types = context.registry.types_for(tenant_id)
    return [
        *desktop_section(context),
        ("Server", [("Address", f"{settings.host}:{settings.port}"), ("Data folder", str(settings.data_dir))]),
        ("Database", [("In use", context.database.describe()), ("Dialect", context.database.dialect)]),
        ("Cache", [("Tiers (in order)", ", ".join(settings.tiers) or "none")]
         + [(f"Tier {name}", ("available" if info.get("available") else "bypassed")
             + f", {info.get('outages', 0)} outage(s)") for name, info in tiers.items()]
         + [("Redis", redact_url(settings.redis_url)), ("Memcached", settings.memcached or "(not set)"),
            ("Warm-up", f"every {settings.warmup_interval_s:g} s" if settings.warmup_interval_s > 0 else "off")]),
        ("Runs", [("Channels", describe_hub(context.hub)),
                  ("Background jobs", type(context.engine.background).__name__),
                  ("Where runs execute (AKIS_RUN_MODE)", run_mode(context)),
                  ("On SIGTERM (AKIS_DRAIN_DELAY_S, AKIS_DRAIN_TIMEOUT_S)",
                   f"not ready for {settings.drain_delay_s:g} s, then in-flight runs and streams finish "
                   f"within {settings.drain_timeout_s:g} s of the signal"),
                  ("Garbage collection thresholds (AKIS_GC_THRESHOLDS)",
                   f"{gc_policy.describe()} in this process (Python's own: 700,10,10)"),
                  ("Garbage collection freeze (AKIS_GC_FREEZE)", gc_policy.describe_freeze(settings.gc_freeze))]),
        ("Language models", [
            ("Anthropic key", "set" if key_set["anthropic"] else "not set: the offline mock answers"),
            ("OpenAI key", "set" if key_set["openai"] else "not set: the offline mock answers"),
            ("OpenAI-compatible server", redact_url(settings.openai_base_url)),
        ]),
        ("Knowledge bases", knowledge_rows(context)),
        ("Tracing", [("Trace links (AKIS_TRACE_URL)",
                      settings.trace_url or "not set: run trace ids are shown as text, not links")]),
        ("Metrics and logs", metrics_rows(context)),
        ("Node types", [("Available to tenant " + tenant_id, ", ".join(t.type_id for t in types)),
                        ("Plugins folder", str(settings.plugins_dir)),
                        ("Plugins not loaded", "; ".join(context.registry.load_errors) or "none")]),
    ]


def knowledge_rows(context: AkisContext) -> list[tuple[str, str]]:
    """How knowledge_retrieval ranks, and the upload limit (docs/knowledge.md)."""
    embedder = context.knowledge.knowledge.embedder
    model = getattr(embedder, "model", None)
    return [("Embeddings (AKIS_EMBEDDING_MODEL)", model or "not set: BM25 only (lexical search)"),
            ("Vector search (AKIS_KNOWLEDGE_VECTOR_SEARCH)",
             getattr(context.knowledge.knowledge, "vector_engine", "exact cosine in this process (numpy)")
             if model else "off"),
            ("Largest upload (AKIS_KNOWLEDGE_MAX_FILE_BYTES)", f"{context.knowledge.max_file_bytes:,} bytes")]


def metrics_rows(context: AkisContext) -> list[tuple[str, str]]:
    """How /metrics is read (never the token itself), the workers' own port, the log format."""
    settings = context.settings
    ways = [w for w, on in (("the metrics token", bool(settings.metrics_token.get_secret_value())),
                            (f"addresses {settings.metrics_allow.strip()}", bool(settings.metrics_allow.strip())))
            if on]
    port = settings.worker_metrics_port
    return [("Prometheus /metrics (AKIS_METRICS_TOKEN, AKIS_METRICS_ALLOW)",
             "on, read with " + " or ".join(ways) if ways else "off: set a token or allowed addresses"),
            ("Tenant label (AKIS_METRICS_TENANT_LABEL)", "on" if settings.metrics_tenant_label else "off"),
            ("Workers' own /metrics (AKIS_WORKER_METRICS_PORT)",
             f"{settings.worker_metrics_host}:{port}" if port else "off (or akis worker --metrics-port)"),
            ("Log lines (AKIS_LOG_FORMAT)", settings.log_format)]


def run_mode(context: AkisContext) -> str:
    """Queue or inline, in words (docs/durable_runs.md)."""
    settings = context.settings
    if context.runs.queued is not None:
        return (f"queue: akis worker processes execute runs (lease {settings.run_lease_s:g} s, "
                f"{settings.run_max_attempts} attempts, at most {settings.run_queue_tenant_limit} waiting per tenant)")
    return "inline: in this process" + ("" if settings.redis_url else " (no Redis)")


def desktop_section(context: AkisContext) -> list[tuple[str, list[tuple[str, str]]]]:
    """In the desktop window: where its data is (the per-user folder unless a variable says
    otherwise) and who the window acts for. Nothing in web mode."""
    desktop = local.current()
    if desktop is None:
        return []
    folder = context.settings.data_dir
    return [("Desktop", [
        ("Mode", "desktop window: one person on this computer, no login"),
        ("Acts for", f"tenant {desktop.tenant_id} (AKIS_DESKTOP_TENANT)"),
        ("Data folder", f"{folder} (AKIS_DATA_DIR overrides it)"),
        ("Database", f"{context.database.describe()} (AKIS_DATABASE_URL overrides it)"),
        ("Secret key", "AKIS_SECRET_KEY (set)" if context.settings.secret_key.get_secret_value()
         else f"generated, in {folder / KEY_FILE}"),
        ("Window size and position", f"remembered in {folder / STATE_FILE}"),
    ])]


def register(context: AkisContext) -> None:
    @ui.page("/settings", title="Akis · Settings")
    def settings_page() -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Settings")
        with ui.column().classes("w-full q-pa-md gap-3").style("max-width: 920px; margin: 0 auto").mark("settings"):
            ui.label("Settings").classes("text-h5")
            ui.label("Read-only: set these with environment variables (or a .env file) and restart. "
                     "Secrets are never shown.").classes("text-body2 text-grey-7")
            credentials_card(context, tenant)  # the one editable part: this tenant's provider keys
            for title, rows in describe(context, tenant):
                with ui.card().classes("w-full q-pa-md"):
                    ui.label(title).classes("text-subtitle1 text-weight-medium")
                    with ui.grid(columns="220px 1fr").classes("w-full gap-y-1"):
                        for label, value in rows:
                            ui.label(label).classes("text-body2 text-grey-7")
                            ui.label(value).classes("text-body2").style("overflow-wrap: anywhere")
