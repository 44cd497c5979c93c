"""What every API route depends on, as ``Annotated`` types: the app's context and the caller.

``register_api`` puts the context on ``app.state.akis``; a route asks for ``context: ContextDep``
and ``principal: PrincipalDep`` and never builds either itself.
"""
from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from editor.auth.principal import Principal, authenticate
from editor.context import AkisContext

UNAUTHORIZED = HTTPException(
    status_code=401,
    detail="authentication required: send 'Authorization: Bearer <token>' (akis token create) or sign in",
    headers={"WWW-Authenticate": "Bearer"},
)


async def get_context(connection: HTTPConnection) -> AkisContext:
    """The app's context (set once by ``register_api``). Async though it never waits: FastAPI
    runs a plain ``def`` dependency in a worker thread, a hop per request that under load
    queued behind the run recording (bench/bench_healthz.py)."""
    return cast(AkisContext, connection.app.state.akis)


ContextDep = Annotated[AkisContext, Depends(get_context)]


async def require_principal(connection: HTTPConnection, context: ContextDep) -> Principal:
    """The caller's :class:`Principal` (from a token or a session cookie), or 401."""
    principal = await authenticate(connection, context.database)
    if principal is None:
        raise UNAUTHORIZED
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]
