"""The signed-in user's own editor sessions: list them, end one, end all.

Sessions belong to editor users; an API token has none (its list is empty, and ending a session
by id answers 404 as for anyone else's). A session of another user or tenant answers 404.
Ending sessions is a state change authenticated by the cookie: a request from another site's
page is refused (403) before it gets here (``editor.auth.principal.check_same_origin``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from editor.auth.sessions import SessionStore, store, use_database
from editor.services.errors import NotFound
from storage.repos import sessions as repo

from .deps import ContextDep, PrincipalDep


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    address: str
    current: bool


class SessionsRevoked(BaseModel):
    revoked: int


router = APIRouter(prefix="/api/sessions", tags=["sessions"])


def session_store(context: ContextDep) -> SessionStore:
    return store() or use_database(context.database)


SessionsDep = Annotated[SessionStore, Depends(session_store)]


@router.get("", summary="Your live editor sessions, newest first")
async def list_sessions(context: ContextDep, principal: PrincipalDep) -> list[SessionOut]:
    if principal.kind != "user":
        return []
    rows = await context.database.run(repo.list_sessions, principal.tenant_id, principal.name)
    return [SessionOut(id=r.id, created_at=r.created_at, last_seen_at=r.last_seen_at, expires_at=r.expires_at,
                       user_agent=r.user_agent, address=r.address, current=r.id == principal.session_id)
            for r in rows]


@router.delete("/{session_id}", status_code=204, summary="End one of your sessions")
async def revoke_session(session_id: str, sessions: SessionsDep, principal: PrincipalDep) -> Response:
    if principal.kind != "user" or len(session_id) > 32:
        raise NotFound("session")
    if not await sessions.revoke(principal.tenant_id, principal.name, session_id):
        raise NotFound("session")
    return Response(status_code=204)


@router.delete("", summary="End all your sessions (sign out everywhere)")
async def revoke_all(sessions: SessionsDep, principal: PrincipalDep,
                     keep_current: Annotated[bool, Query(description="Keep the session making this request.")] = False,
                     ) -> SessionsRevoked:
    if principal.kind != "user":
        return SessionsRevoked(revoked=0)
    keep = principal.session_id if keep_current else None
    return SessionsRevoked(revoked=await sessions.revoke_all(principal.tenant_id, principal.name, keep=keep))
