"""Errors as short JSON answers: a person-readable ``detail``, never a traceback.

Validation errors drop pydantic's ``input`` and ``ctx`` (they echo what was sent, which may be
large or sensitive) and keep where and what.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger("akis.api")


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_clean(e) for e in errors]}, status_code=422)


def install(app: Any) -> None:
    """Register the handlers on the app (NiceGUI's own 404/500 pages stay for pages)."""
    app.add_exception_handler(RequestValidationError, validation_error)
