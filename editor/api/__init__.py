"""The HTTP API: FastAPI routes on NiceGUI's app (OpenAPI at ``/docs``).

``register_api(context)`` mounts the routers, the login page, the body-size limit, the page
guard, CORS (only when ``AKIS_CORS_ORIGINS`` is set) and the example chat widget.
"""
from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import fastapi_offline  # ships current Swagger UI files (OpenAPI 3.1), served here: no CDN needed
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import iter_route_contexts
from nicegui import App
from nicegui import app as nicegui_app
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from editor.auth import login
from editor.auth import pages as auth_pages
from editor.auth import sessions as auth_sessions
from editor.auth.bind import is_loopback
from editor.auth.guard import PageGuard
from editor.auth.pages import PageIdentity, UsersExist
from editor.context import AkisContext
from runtime.settings import AkisSettings
from storage.crypto import load_or_create_key

from . import (
    channels,
    credentials,
    errors,
    evaluations,
    experiments,
    flows,
    inspection,
    knowledge,
    metrics_route,
    ops,
    publishing,
    runs,
)
from .limits import BodyLimit, parse_origins
from .sessions import router as sessions_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def session_secret(settings: AkisSettings) -> str:
    """The configured secret, else the generated key kept in the data folder."""
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    return load_or_create_key(settings.data_dir)


def storage_secret(settings: AkisSettings) -> str:
    """The key NiceGUI signs its browser-storage cookie with: derived from the app secret,
    never a fixed string (anyone could forge that cookie otherwise)."""
    return hmac.new(session_secret(settings).encode("utf-8"), b"akis-nicegui-storage", hashlib.sha256).hexdigest()


def register_api(context: AkisContext, app: App = nicegui_app) -> None:
    """Put the context on ``app.state.akis`` (what ``ContextDep`` reads) and mount the routers."""
    app.state.akis = context
    settings = context.settings
    auth_sessions.configure(session_secret(settings), database=context.database,
                       allowed_origins=parse_origins(settings.allowed_origins))
    auth_pages.use_database(context.database)
    users_exist = UsersExist(context.database)
    expose = not is_loopback(settings.host)

    async def login_required() -> bool:
        return expose or await users_exist()

    for router in (ops.health_router, login.router, flows.router, runs.router, channels.router, ops.router,
                   sessions_router, metrics_route.router):
        app.include_router(router)
    app.include_router(experiments.router)  # A/B tests (issue 17)
    app.include_router(experiments.feedback_router)
    app.include_router(evaluations.router)  # datasets and evaluations (issue 22)
    app.include_router(knowledge.router)  # knowledge bases (issue 19)
    app.include_router(credentials.router)  # provider credentials per tenant (issue 18)
    app.include_router(publishing.router)  # publishable keys and the chat widget's run (issue 18)
    app.include_router(inspection.router)  # a run's nodes inspected; one node run alone (issue 18)
    app.on_startup(context.flows.learn_stored_events)

    @app.get("/widget", include_in_schema=False)
    async def widget_page() -> RedirectResponse:
        return RedirectResponse("/widget/widget.html", status_code=307)

    app.add_static_files("/widget", STATIC_DIR)
    add_docs(app)
    errors.install(app)

    async def identify(connection: HTTPConnection, required: bool) -> PageIdentity | None:
        return await auth_pages.resolve(connection, context.database, required)

    app.add_middleware(PageGuard, login_required=login_required, identify=identify)
    if settings.cors_origins.strip():
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "traceparent",
                                          "tracestate"],
                           expose_headers=["X-Akis-Run-Id", "X-Akis-Channel"])
    app.add_middleware(BodyLimit)


def api_routes(app: App) -> list[Any]:
    """The API's routes (not NiceGUI's pages and assets), as FastAPI's route contexts."""
    return [r for r in iter_route_contexts(app.routes)
            if (r.path or "").startswith(("/api/", "/healthz/")) or r.path == "/healthz"]


def add_docs(app: App) -> None:
    """NiceGUI turns FastAPI's docs off; serve the API's own spec at /openapi.json and /docs."""
    cached: list[dict[str, Any]] = []

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        if not cached:
            schema = get_openapi(
                title="Akis API", version="1",
                description="Run chatbot flows over HTTP, SSE and WebSocket. Every route except /healthz needs "
                            "`Authorization: Bearer TOKEN` (`akis token create --tenant N` prints one) "
                            "or an editor session.",
                routes=api_routes(app),
            )
            schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            for path in ("/healthz", "/healthz/live", "/healthz/ready"):
                for operation in schema.get("paths", {}).get(path, {}).values():
                    operation["security"] = []
            cached.append(schema)
        return JSONResponse(cached[0])

    app.add_static_files("/docs/assets", Path(fastapi_offline.__file__).parent / "static")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Akis API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon.png")
