"""``/settings``: what this Akis uses (database, cache tiers, Redis, channels, jobs, providers,
node types), read-only. Never a secret: URLs lose their passwords, keys show only whether set."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from nicegui import ui

from editor.auth import current_tenant, watch_page
from editor.context import AkisContext
from editor.theme import apply_theme, header


def redact_url(url: str) -> str:
    """The URL without user name or password (``redis://:pw@host:6379/0`` -> ``redis://host:6379/0``)."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe(context: AkisContext, tenant_id: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The sections of the page as (title, [(label, value)]), built from the live context."""
    settings = context.settings
    cache = context.cache
    tiers = cache.health() if cache is not None else {}
    key_set = {name: bool(getattr(settings, f"{name}_api_key").get_secret_value())
               for name in ("anthropic", "openai")}
    types = context.registry.types_for(tenant_id)
    return [
        ("Server", [("Address", f"{settings.host}:{settings.port}"), ("Data folder", str(settings.data_dir))]),
        ("Database", [("In use", context.database.describe()), ("Dialect", context.database.dialect)]),
        ("Cache", [("Tiers (in order)", ", ".join(settings.tiers) or "none")]
         + [(f"Tier {name}", ("available" if info.get("available") else "bypassed")
             + f", {info.get('outages', 0)} outage(s)") for name, info in tiers.items()]
         + [("Redis", redact_url(settings.redis_url)), ("Memcached", settings.memcached or "(not set)"),
            ("Warm-up", f"every {settings.warmup_interval_s:g} s" if settings.warmup_interval_s > 0 else "off")]),
        ("Runs", [("Channels", type(context.hub).__name__ if context.hub is not None else "none"),
                  ("Background jobs", type(context.engine.background).__name__)]),
        ("Language models", [
            ("Anthropic key", "set" if key_set["anthropic"] else "not set: the offline mock answers"),
            ("OpenAI key", "set" if key_set["openai"] else "not set: the offline mock answers"),
            ("OpenAI-compatible server", redact_url(settings.openai_base_url)),
        ]),
        ("Tracing", [("Trace links (AKIS_TRACE_URL)",
                      settings.trace_url or "not set: run trace ids are shown as text, not links")]),
        ("Node types", [("Available to tenant " + tenant_id, ", ".join(t.type_id for t in types)),
                        ("Plugins folder", str(settings.plugins_dir)),
                        ("Plugins not loaded", "; ".join(context.registry.load_errors) or "none")]),
    ]


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
            for title, rows in describe(context, tenant):
                with ui.card().classes("w-full q-pa-md"):
                    ui.label(title).classes("text-subtitle1 text-weight-medium")
                    with ui.grid(columns="220px 1fr").classes("w-full gap-y-1"):
                        for label, value in rows:
                            ui.label(label).classes("text-body2 text-grey-7")
                            ui.label(value).classes("text-body2").style("overflow-wrap: anywhere")
