"""Web mode (``python app.py``) has no local user: ``/desktop/enter`` does not exist and a
desktop cookie opens nothing, whatever its value."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api.harness import AppServer, server_env


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[AppServer]:
    """The web app with one editor user (so pages need a login)."""
    database = f"sqlite:///{(tmp_path / 'akis.db').as_posix()}"
    subprocess.run([sys.executable, "-c", "import sys; from app import main; sys.argv[0] = 'akis'; main()",
                    "user", "create", "--tenant", "1", "--username", "ann", "--password-stdin"],
                   input=b"a long enough password 1\n", cwd=tmp_path, check=True, capture_output=True, timeout=120,
                   env=server_env({"AKIS_DATABASE_URL": database}))
    server = AppServer(tmp_path, env={"AKIS_DATABASE_URL": database}).start()
    try:
        yield server
    finally:
        server.stop()


def test_web_mode_has_no_local_user(web_app: AppServer):
    with httpx.Client(base_url=web_app.url, timeout=30, follow_redirects=False) as client:
        assert client.get("/desktop/enter", params={"key": "anything"}).status_code == 404
    for value in ("anything", ""):
        with httpx.Client(base_url=web_app.url, timeout=30, follow_redirects=False,
                          cookies={"akis_desktop": value}) as client:
            for path in ("/", "/settings"):
                refused = client.get(path)
                assert refused.status_code == 303 and refused.headers["location"].startswith("/login"), path
