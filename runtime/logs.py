"""Log set-up for the app and the worker: plain text (the default) or one JSON object per line
(``AKIS_LOG_FORMAT=json``), each line written during a run carrying that run's ids.

A run's ids live in a context variable. The app's run service and the worker set it just
before a run's task (or a job) starts, so that task and every task it creates inherit it, and
a :class:`RunContextFilter` on the handler copies it onto each record: no call site passes ids.
Every secret the settings hold is masked in JSON lines, whatever logged it.
"""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from . import tracing
from .settings import AkisSettings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
MASK = "[secret]"
_MIN_SECRET = 6  # shorter values would mask ordinary words

# (run_id, tenant_id) of the run the current task belongs to, or None outside a run.
_RUN: ContextVar[tuple[str, str] | None] = ContextVar("akis_run", default=None)


def set_run(run_id: str, tenant_id: str) -> Token[tuple[str, str] | None]:
    """Mark what runs from here on (tasks created now included) as part of this run."""
    return _RUN.set((run_id, tenant_id))


def reset_run(token: Token[tuple[str, str] | None]) -> None:
    _RUN.reset(token)


@contextmanager
def run_context(run_id: str, tenant_id: str) -> Iterator[None]:
    token = _RUN.set((run_id, tenant_id))
    try:
        yield
    finally:
        _RUN.reset(token)


def current_run() -> tuple[str, str] | None:
    return _RUN.get()


class RunContextFilter(logging.Filter):
    """Adds ``run_id``, ``tenant_id``, ``trace_id`` and ``span_id`` to every record (None when
    unknown; trace and span are the current span's, None while tracing is off)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _RUN.get()
        record.run_id, record.tenant_id = ids if ids is not None else (None, None)
        record.trace_id, record.span_id = tracing.log_ids()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "run_id", "tenant_id", "trace_id", "span_id"}``
    (plus ``exception`` when there is one), with every known secret replaced by ``[secret]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # longest first: a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.mask(record.getMessage()),
            "run_id": getattr(record, "run_id", None),
            "tenant_id": getattr(record, "tenant_id", None),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
        }
        if record.exc_info:
            data["exception"] = self.mask(self.formatException(record.exc_info))
        if record.stack_info:
            data["stack"] = self.mask(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def secret_values(settings: AkisSettings) -> list[str]:
    """Every secret in the settings: the ``SecretStr`` fields and the passwords in the
    database and Redis URLs."""
    values = [value.get_secret_value() for name in type(settings).model_fields
              if isinstance(value := getattr(settings, name), SecretStr)]
    for url in (settings.database_url, settings.redis_url):
        try:
            password = urlsplit(url).password if url else None
        except ValueError:
            password = None
        if password:
            values.append(password)
    return [v for v in values if v]


def configure_logging(settings: AkisSettings, *, text_format: str = TEXT_FORMAT, level: int = logging.INFO) -> None:
    """Text: ``logging.basicConfig`` as before. JSON: one handler on the root logger, to stderr,
    with the run filter and the secret mask (every logger propagates to it)."""
    if settings.log_format != "json":
        logging.basicConfig(level=level, format=text_format)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secret_values(settings)))
    handler.addFilter(RunContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
