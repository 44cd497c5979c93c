"""What every API route needs: the caller's tenant (from the credential) and the context."""
from __future__ import annotations

from typing import Any, Callable, Coroutine

from fastapi import HTTPException, Request

from editor.auth.principal import Principal, authenticate

UNAUTHORIZED = HTTPException(
    status_code=401,
    detail="authentication required: send 'Authorization: Bearer <token>' (akis token create) or sign in",
    headers={"WWW-Authenticate": "Bearer"},
)


def principal_dependency(context: Any) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency answering the caller's :class:`Principal`, or 401."""

    async def require_principal(request: Request) -> Principal:
        principal = await authenticate(request, context.database)
        if principal is None:
            raise UNAUTHORIZED
        return principal

    return require_principal


def not_found(what: str) -> HTTPException:
    """Another tenant's thing and a thing that does not exist answer the same."""
    return HTTPException(status_code=404, detail=f"{what} not found")
