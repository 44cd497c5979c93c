"""``AKIS_TRACE_URL``: an http(s) pattern with ``{trace_id}``, refused clearly otherwise, shown on /settings."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.settings import AkisSettings

ROOT = Path(__file__).resolve().parents[2]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def settings(**values: str) -> AkisSettings:
    return AkisSettings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings' own argument


def test_a_pattern_becomes_the_link_of_a_trace():
    jaeger = settings(trace_url=" https://jaeger.example.com/trace/{trace_id} ")
    assert jaeger.trace_url == "https://jaeger.example.com/trace/{trace_id}"
    assert jaeger.trace_link(TRACE) == f"https://jaeger.example.com/trace/{TRACE}"
    grafana = settings(trace_url="http://grafana:3000/explore?left={\"queries\":[{\"query\":\"{trace_id}\"}]}")
    assert grafana.trace_link(TRACE) == f"http://grafana:3000/explore?left={{\"queries\":[{{\"query\":\"{TRACE}\"}}]}}"
    assert settings().trace_url == "" and settings().trace_link(TRACE) is None
    assert jaeger.trace_link("") is None


@pytest.mark.parametrize("bad", ["https://jaeger.example.com/trace/", "jaeger.example.com/trace/{trace_id}",
                                 "javascript:alert(1)//{trace_id}", "ftp://files/{trace_id}", "{trace_id}"])
def test_anything_else_is_refused_naming_the_setting(bad: str):
    with pytest.raises(ValidationError) as refused:
        settings(trace_url=bad)
    assert "AKIS_TRACE_URL must be an http(s) URL containing {trace_id}" in str(refused.value)


def test_the_environment_variable_sets_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AKIS_TRACE_URL", "https://tempo.example.com/t/{trace_id}")
    assert settings().trace_link(TRACE) == f"https://tempo.example.com/t/{TRACE}"


@pytest.mark.parametrize("command", [["-c", "import app; app.main()", "serve", "--port", "1"], [str(ROOT / "app.py")]],
                         ids=["akis serve", "python app.py"])
def test_the_server_stops_with_one_error_line_for_a_bad_pattern(tmp_path: Path, command: list[str]):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIS_")}
    env["AKIS_TRACE_URL"] = "ftp://jaeger/{trace_id}"
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, *command], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: AKIS_TRACE_URL must be an http(s) URL containing {trace_id}, like "
        "https://jaeger.example.com/trace/{trace_id}; got 'ftp://jaeger/{trace_id}'"]
    assert "Traceback" not in done.stderr


def test_the_settings_page_shows_it(tmp_path: Path):
    from editor.pages.settings import describe
    from tests.browser.run_pane_app import make_context

    context = make_context(tmp_path)
    try:
        assert "not set" in dict(dict(describe(context, "1"))["Tracing"])["Trace links (AKIS_TRACE_URL)"]
        context.settings.trace_url = "https://jaeger.example.com/trace/{trace_id}"
        shown = dict(dict(describe(context, "1"))["Tracing"])["Trace links (AKIS_TRACE_URL)"]
        assert shown == "https://jaeger.example.com/trace/{trace_id}"
    finally:
        context.database.dispose()
