"""Knowledge bases of the caller's tenant: create, list, read, delete; upload, list and delete
documents; try a search. Another tenant's base answers 404 like a missing one; a file that is
too large, of an unsupported type or unreadable answers 422 naming the file and the rule.

A document is uploaded as the raw request body (``curl --data-binary @faq.pdf``) to
``PUT /api/knowledge/{base}/documents/{filename}``; the same name again replaces it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from editor.services.knowledge import BaseSummary, DocumentInfo
from runtime.knowledge.port import KB_ID_PATTERN, SearchMode

from .deps import ContextDep, PrincipalDep

router = APIRouter(prefix="/api/knowledge", tags=["knowledge"])
BaseId = Annotated[str, Path(pattern=KB_ID_PATTERN, description="The knowledge base's id.")]


class BaseIn(BaseModel):
    id: str = Field(pattern=KB_ID_PATTERN, description="Letters, digits, '_', '.', '-'; at most 54.")
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    chunk_size: int = Field(800, ge=100, le=8000, description="Characters per chunk.")
    chunk_overlap: int = Field(100, ge=0, le=4000, description="Characters shared by neighbouring chunks.")


class BaseOut(BaseModel):
    id: str
    name: str
    description: str
    chunk_size: int
    chunk_overlap: int
    revision: int = Field(description="Grows with every document change.")
    documents: int
    chunks: int
    updated_at: datetime

    @classmethod
    def of(cls, base: BaseSummary) -> BaseOut:
        return cls(**{name: getattr(base, name) for name in cls.model_fields})


class DocumentOut(BaseModel):
    id: str
    filename: str
    kind: str = Field(description="text, markdown, html or pdf.")
    size_bytes: int
    chunks: int
    characters: int
    embedding_model: str | None
    updated_at: datetime
    replaced: bool = Field(False, description="True when an upload replaced a document of the same name.")

    @classmethod
    def of(cls, document: DocumentInfo) -> DocumentOut:
        return cls(**{name: getattr(document, name) for name in cls.model_fields})


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    knowledge_bases: list[str] | None = Field(None, max_length=20, description="Also search these bases.")
    top_k: int = Field(5, ge=1, le=50)
    min_score: float = Field(0.0, ge=0)
    mode: SearchMode = "auto"


class PassageOut(BaseModel):
    knowledge_base: str
    document_id: str
    document: str
    position: int
    score: float
    text: str


@router.get("", summary="List the tenant's knowledge bases")
async def list_bases(context: ContextDep, principal: PrincipalDep) -> list[BaseOut]:
    return [BaseOut.of(b) for b in await context.knowledge.bases(principal.tenant_id)]


@router.post("", status_code=201, summary="Create a knowledge base")
async def create_base(body: BaseIn, context: ContextDep, principal: PrincipalDep) -> BaseOut:
    return BaseOut.of(await context.knowledge.create(principal.tenant_id, body.id, body.name, body.description,
                                                     body.chunk_size, body.chunk_overlap))


@router.get("/{base_id}", summary="Read a knowledge base")
async def read_base(base_id: BaseId, context: ContextDep, principal: PrincipalDep) -> BaseOut:
    return BaseOut.of(await context.knowledge.base(principal.tenant_id, base_id))


@router.delete("/{base_id}", status_code=204, summary="Delete a knowledge base with its documents")
async def delete_base(base_id: BaseId, context: ContextDep, principal: PrincipalDep) -> Response:
    await context.knowledge.delete(principal.tenant_id, base_id)
    return Response(status_code=204)


@router.get("/{base_id}/documents", summary="List a knowledge base's documents")
async def list_documents(base_id: BaseId, context: ContextDep, principal: PrincipalDep) -> list[DocumentOut]:
    return [DocumentOut.of(d) for d in await context.knowledge.documents(principal.tenant_id, base_id)]


@router.put("/{base_id}/documents/{filename}", summary="Upload a document (the raw body); the same name replaces it",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
            responses={422: {"description": "Too large, unsupported type, unreadable: the message says which"}})
async def upload_document(base_id: BaseId, filename: Annotated[str, Path(max_length=200)], request: Request,
                          context: ContextDep, principal: PrincipalDep, response: Response) -> DocumentOut:
    data = await request.body()
    document = await context.knowledge.upload(principal.tenant_id, base_id, filename, data,
                                              request.headers.get("content-type"))
    response.status_code = 200 if document.replaced else 201
    return DocumentOut.of(document)


@router.delete("/{base_id}/documents/{document_id}", status_code=204, summary="Delete a document and its chunks")
async def delete_document(base_id: BaseId, document_id: Annotated[str, Path(max_length=64)], context: ContextDep,
                          principal: PrincipalDep) -> Response:
    await context.knowledge.delete_document(principal.tenant_id, base_id, document_id)
    return Response(status_code=204)


class ReindexOut(BaseModel):
    chunks: int = Field(description="Chunks embedded again with the configured model.")


@router.post("/{base_id}/reindex", summary="Embed every chunk again with the configured embedding model",
             responses={422: {"description": "No embedding model configured, or the embedding server refused"}})
async def reindex(base_id: BaseId, context: ContextDep, principal: PrincipalDep) -> ReindexOut:
    return ReindexOut(chunks=await context.knowledge.reindex(principal.tenant_id, base_id))


@router.post("/{base_id}/search", summary="Try a search: the passages knowledge_retrieval would return")
async def search(base_id: BaseId, body: SearchIn, context: ContextDep, principal: PrincipalDep) -> list[PassageOut]:
    bases = [base_id, *(b for b in body.knowledge_bases or [] if b != base_id)]
    found = await context.knowledge.search(principal.tenant_id, bases, body.query, body.top_k, body.min_score,
                                           body.mode)
    return [PassageOut(**p.to_dict()) for p in found]


