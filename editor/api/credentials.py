"""``/api/credentials``: the caller's tenant's provider keys and base URLs (what Settings edits).

Write-only: no answer ever holds a key, only whether one is stored. Stored encrypted; runs read
them before the server's environment (docs/providers.md).
"""
from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from editor.services.credentials import CredentialStatus
from editor.services.errors import NotFound

from .deps import ContextDep, PrincipalDep

router = APIRouter(prefix="/api/credentials", tags=["credentials"])
Provider = Literal["anthropic", "openai", "openai_compatible"]


class CredentialOut(BaseModel):
    provider: str
    key_stored: bool
    base_url: str

    @classmethod
    def of(cls, status: CredentialStatus) -> CredentialOut:
        return cls(provider=status.provider, key_stored=status.key_stored, base_url=status.base_url)


class CredentialIn(BaseModel):
    api_key: str | None = Field(None, max_length=4096, description="Empty or absent: keep the stored key.")
    base_url: str | None = Field(None, max_length=2048, description="Absent: keep; empty: clear.")


class TestIn(BaseModel):
    model: str | None = Field(None, max_length=200, description="The model to ask (a small one by default).")


class TestOut(BaseModel):
    ok: bool
    message: str


@router.get("", summary="The tenant's provider credentials (whether a key is stored, never the key)")
async def list_credentials(context: ContextDep, principal: PrincipalDep) -> list[CredentialOut]:
    rows = await asyncio.to_thread(context.credentials.list, principal.tenant_id)
    return [CredentialOut.of(r) for r in rows]


@router.put("/{provider}", summary="Store a provider's key and base URL for the tenant")
async def put_credential(provider: Provider, body: CredentialIn, context: ContextDep,
                         principal: PrincipalDep) -> CredentialOut:
    saved = await asyncio.to_thread(context.credentials.save, principal.tenant_id, provider, body.api_key,
                                    body.base_url)
    return CredentialOut.of(saved)


@router.delete("/{provider}", status_code=204, summary="Remove a stored credential (runs use the environment)")
async def delete_credential(provider: Provider, context: ContextDep, principal: PrincipalDep) -> Response:
    if not await asyncio.to_thread(context.credentials.remove, principal.tenant_id, provider):
        raise NotFound(f"stored credential {provider!r}")
    return Response(status_code=204)


@router.post("/{provider}/test", summary="Send one small request with the credential a run would get")
async def test_credential(provider: Provider, body: TestIn, context: ContextDep, principal: PrincipalDep) -> TestOut:
    outcome = await context.credentials.test(principal.tenant_id, provider, body.model)
    return TestOut(ok=outcome.ok, message=outcome.message)
