"""/settings shows what is in use and never a secret."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from nicegui.testing.user_simulation import user_simulation
from pydantic import SecretStr

from editor.pages.settings import describe, redact_url
from runtime.channels import ChannelHub
from tests.browser.run_pane_app import make_context

CANARY = "sk-canary-do-not-show-9f3b"


def test_redact_url_drops_user_and_password():
    assert redact_url("redis://user:" + CANARY + "@127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("") == "(not set)"


async def test_settings_page_shows_what_is_in_use_and_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING)
    context = make_context(tmp_path)
    context.settings.anthropic_api_key = SecretStr(CANARY)
    context.settings.redis_url = f"redis://:{CANARY}@127.0.0.1:6379/0"
    try:
        sections = dict(describe(context, "2"))
        assert dict(sections["Database"])["Dialect"] == "sqlite"
        assert dict(sections["Language models"])["Anthropic key"] == "set"
        assert dict(sections["Cache"])["Redis"] == "redis://127.0.0.1:6379/0"
        assert dict(sections["Runs"])["Where runs execute (AKIS_RUN_MODE)"] == "inline: in this process"
        assert isinstance(context.hub, ChannelHub)  # the default: no Redis in this context's settings
        assert dict(sections["Runs"])["Channels"] == (
            f"ChannelHub (in-process): keeps {context.hub.kept:,} events for resumes, at most 100,000 "
            "in all conversations (AKIS_CHANNEL_KEPT_EVENTS)")
        observability = dict(sections["Metrics and logs"])
        assert observability["Prometheus /metrics (AKIS_METRICS_TOKEN, AKIS_METRICS_ALLOW)"].startswith("off")
        assert observability["Log lines (AKIS_LOG_FORMAT)"] == "text"
        context.settings.metrics_token = SecretStr(CANARY)
        context.settings.worker_metrics_port = 9464
        observability = dict(dict(describe(context, "2"))["Metrics and logs"])
        assert observability["Prometheus /metrics (AKIS_METRICS_TOKEN, AKIS_METRICS_ALLOW)"] == \
            "on, read with the metrics token"
        assert observability["Workers' own /metrics (AKIS_WORKER_METRICS_PORT)"] == "127.0.0.1:9464"
        assert CANARY not in str(describe(context, "2"))
        drain = dict(sections["Runs"])["On SIGTERM (AKIS_DRAIN_DELAY_S, AKIS_DRAIN_TIMEOUT_S)"]
        assert drain == "not ready for 2 s, then in-flight runs and streams finish within 30 s of the signal"
        knowledge = dict(sections["Knowledge bases"])
        assert knowledge["Embeddings (AKIS_EMBEDDING_MODEL)"] == "not set: BM25 only (lexical search)"
        assert "payment_gateway" in dict(sections["Node types"])["Available to tenant 2"]  # tenant 2's plugin
        assert "payment_gateway" not in dict(dict(describe(context, "5"))["Node types"])["Available to tenant 5"]

        from editor.pages import settings as page

        async with user_simulation(root=lambda: None) as user:
            page.register(context)
            await user.open("/settings")
            await user.should_see("Settings")
            await user.should_see("Database")
            await user.should_see("sqlite")
            await user.should_see("set")
            rendered = " ".join(
                str(getattr(child, "text", "")) for element in user.find(marker="settings").elements
                for child in element.descendants()
            )
            assert CANARY not in rendered
            assert "redis://127.0.0.1:6379/0" in rendered
    finally:
        context.database.dispose()
