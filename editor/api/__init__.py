"""The HTTP API: FastAPI routes on NiceGUI's app (OpenAPI at ``/docs``).

``register_api(context)`` mounts the routers, the login page, the body-size limit, the page
guard, CORS (only when ``AKIS_CORS_ORIGINS`` is set) and the example chat widget.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def session_secret(settings: Any) -> str:
    """The configured secret, else the generated key kept in the data folder."""
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    from storage.crypto import load_or_create_key

    return load_or_create_key(settings.data_dir)


def storage_secret(settings: Any) -> str:
    """The key NiceGUI signs its browser-storage cookie with: derived from the app secret,
    never a fixed string (anyone could forge that cookie otherwise)."""
    import hashlib
    import hmac

    return hmac.new(session_secret(settings).encode("utf-8"), b"akis-nicegui-storage", hashlib.sha256).hexdigest()


def register_api(context: Any, app: Any = None) -> None:
    from fastapi.responses import RedirectResponse

    from editor.auth import login, pages, sessions
    from editor.auth.bind import is_loopback
    from editor.auth.guard import PageGuard, UsersExist

    from . import channels, errors, flows, ops, runs
    from . import sessions as sessions_api
    from .active import ActiveRuns
    from .limits import BodyLimit, parse_origins

    if app is None:
        from nicegui import app as nicegui_app

        app = nicegui_app
    settings = context.settings
    sessions.configure(session_secret(settings), database=context.database,
                       allowed_origins=parse_origins(settings.allowed_origins))
    pages.use_database(context.database)
    active = ActiveRuns()
    context.active_runs = active
    users_exist = UsersExist(context.database)
    expose = not is_loopback(settings.host)

    async def login_required() -> bool:
        return expose or await users_exist()

    login_router = login.build_router(context)
    for router in (
        ops.build_health_router(context), login_router, flows.build_router(context),
        runs.build_router(context, active), channels.build_router(context), ops.build_router(context),
        sessions_api.build_router(context),
    ):
        app.include_router(router)
    app.on_shutdown(login_router.throttle.aclose)

    @app.get("/widget", include_in_schema=False)
    async def widget_page() -> RedirectResponse:
        return RedirectResponse("/widget/widget.html", status_code=307)

    app.add_static_files("/widget", STATIC_DIR)
    add_docs(app)
    app.on_startup(partial(learn_stored_cache_events, context))
    errors.install(app)
    async def identify(connection: Any, required: bool) -> Any:
        return await pages.resolve(connection, context.database, required)

    app.add_middleware(PageGuard, login_required=login_required, identify=identify)
    if settings.cors_origins.strip():
        from starlette.middleware.cors import CORSMiddleware

        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                           expose_headers=["X-Akis-Run-Id", "X-Akis-Channel"])
    app.add_middleware(BodyLimit)


async def learn_stored_cache_events(context: Any) -> None:
    """Every stored flow's ``settings.cache_events`` counts for ``POST /api/events`` after a
    restart, for the tenant that owns the flow only. A row that cannot be read is skipped (and
    named in the log); the others still count."""
    import logging

    from runtime.errors import FlowLoadError
    from runtime.flow.loader import load_flow
    from runtime.flow.model import FlowDocument

    if context.cache_events is None:
        return
    log = logging.getLogger("akis.api")

    def stored_mappings(session: Any) -> list[tuple[str, str, dict[str, Any] | None]]:
        from storage.repos.flows import get_version, list_flows
        from storage.repos.tenants import list_tenant_ids

        out = []
        for tenant in list_tenant_ids(session):
            for flow in list_flows(session, tenant):
                row = get_version(session, tenant, flow.id)
                out.append((str(tenant), flow.id, row.document if row is not None else None))
        return out

    try:
        rows = await context.database.run(stored_mappings)
    except Exception as exc:  # noqa: BLE001 - a database problem must not stop the app
        log.warning("stored cache event mappings not loaded: %s", type(exc).__name__)
        return
    for tenant, flow_id, data in rows:
        if data is None:
            continue
        try:
            document: FlowDocument = load_flow(data)
            context.cache_events.set_flow(tenant, flow_id, document.settings.cache_events)
        except (FlowLoadError, ValueError) as exc:
            log.warning("tenant %s flow %r: cache events not loaded: %s", tenant, flow_id, str(exc)[:200])


def api_routes(app: Any) -> list[Any]:
    """The API's routes (not NiceGUI's pages and assets), as FastAPI's route contexts."""
    from fastapi.routing import iter_route_contexts

    return [r for r in iter_route_contexts(app.routes)
            if (r.path or "").startswith("/api/") or r.path == "/healthz"]


def add_docs(app: Any) -> None:
    """NiceGUI turns FastAPI's docs off; serve the API's own spec at /openapi.json and /docs."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import HTMLResponse, JSONResponse

    cached: list[dict[str, Any]] = []

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        if not cached:
            schema = get_openapi(
                title="Akis API", version="1",
                description="Run chatbot flows over HTTP, SSE and WebSocket. Every route except /healthz needs "
                            "`Authorization: Bearer TOKEN` (`akis token create --tenant N` prints one) or an editor session.",
                routes=api_routes(app),
            )
            schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            for operation in schema.get("paths", {}).get("/healthz", {}).values():
                operation["security"] = []
            cached.append(schema)
        return JSONResponse(cached[0])

    from pathlib import Path

    import fastapi_offline  # ships current Swagger UI files (OpenAPI 3.1), served here: no CDN needed

    app.add_static_files("/docs/assets", Path(fastapi_offline.__file__).parent / "static")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Akis API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon.png")
