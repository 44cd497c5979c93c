"""A flow document sent to the API: read as raw bytes and checked strictly before anything is stored.

FastAPI's own body parsing (``json.loads``) would keep the last of two equal keys, accept
``NaN`` and decode lone surrogates; the flow routes read the bytes themselves and hand the text
to the flows service, which checks it as ``akis validate`` does. The OpenAPI spec still
describes the body, with the document's JSON Schema inlined.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import HTTPException, Request

from editor.services.errors import FlowProblems
from runtime.errors import Problem
from runtime.flow.model import FlowDocument

from .models import FlowProblemsOut

PROBLEMS_RESPONSE: dict[int | str, dict[str, Any]] = {
    422: {"model": FlowProblemsOut, "description": "The document has problems; nothing was stored"},
}


async def body_text(request: Request) -> str:
    """The body as text: JSON (or no content type), UTF-8; 415 or 422 otherwise."""
    content_type = request.headers.get("content-type", "application/json")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise HTTPException(415, "send the flow document as JSON (content-type: application/json)")
    body = await request.body()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FlowProblems("the body is not UTF-8 text",
                           [Problem("encoding", f"the body is not UTF-8 text (byte {exc.start + 1})")]) from None


def flow_body_openapi() -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is a flow document."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": flow_document_schema()}}}}


@cache
def flow_document_schema() -> dict[str, Any]:
    """The flow document's JSON Schema with its ``$defs`` inlined (the models are not recursive)."""
    schema = FlowDocument.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return inline({**defs[ref.rsplit("/", 1)[-1]], **rest})
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)
