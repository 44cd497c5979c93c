"""``akis desktop`` as a person uses it, under Xvfb: the window opens on the flows page without
a login, runs the demo flow, remembers its size and position, and closing it stops the app with
the run recorded in the per-user data folder. Screenshots in artifacts/desktop/."""
from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import DesktopApp

pytestmark = pytest.mark.timeout(360)

DEMO = "pallet-assistant"
SUCCEEDED = ("(document.querySelector('[data-testid=run-status]') || {}).textContent?.startsWith('Succeeded') "
             "&& document.querySelector('[data-testid=run-status]').textContent")


def served_port(app: DesktopApp) -> int:
    found = re.search(r"serving the window on http://127\.0\.0\.1:(\d+)", app.log())
    assert found, app.log()[-2000:]
    return int(found.group(1))


def status_without_key(port: int, path: str) -> int:
    """What another program on this machine gets, without the window's key."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def create_user(app: DesktopApp) -> None:
    """An editor user in the per-user folder's database: web mode would now ask for a login."""
    app.data_dir.mkdir(parents=True, exist_ok=True)
    env = app.environment(AKIS_DATABASE_URL=f"sqlite:///{(app.data_dir / 'akis.db').as_posix()}",
                          AKIS_DATA_DIR=str(app.data_dir))
    subprocess.run([sys.executable, "-c", "import sys; from app import main; sys.argv[0] = 'akis'; main()",
                    "user", "create", "--tenant", "1", "--username", "ann", "--password-stdin"],
                   input=b"a long enough password 1\n", cwd=Path(__file__).resolve().parents[2], env=env,
                   check=True, capture_output=True, timeout=120)


def test_the_window_runs_the_demo_flow_and_closing_it_stops_the_app(desktop: DesktopApp):
    create_user(desktop)
    desktop.start()
    page = desktop.window_page()
    try:
        # the window's own user: no login page although an editor user exists
        assert page.evaluate("location.pathname") == "/"
        assert page.evaluate(f"!!document.querySelector('[data-testid=flow-{DEMO}], a[href=\"/flows/{DEMO}\"]') "
                             f"|| document.body.innerText.includes('{DEMO}')")
        assert (256, 256) in desktop.icon_sizes()  # editor/desktop/icon.png, for the task bar
        shot = desktop.screenshot("window_flows")
        assert shot.stat().st_size > 10_000
        port = served_port(desktop)
        assert status_without_key(port, "/") == 303  # another program: the login page, as in web mode
        assert status_without_key(port, "/desktop/enter?key=guess") == 404

        page.evaluate(f"location.href = '/flows/{DEMO}'")
        page.wait_for("!!document.querySelector('.akis-canvas[data-ready]')", 60)
        page.evaluate("document.querySelector('[data-testid=tab-run]').click()")
        page.wait_for("!!document.querySelector('[data-testid=run-button]')")
        page.evaluate("document.querySelector('[data-testid=run-button]').click()")
        assert page.wait_for(SUCCEEDED, 90).startswith("Succeeded")
        answer = page.evaluate("document.querySelector('[data-testid=answer-node_6]').innerText")
        assert answer.startswith("Thanks for your message!"), answer
        desktop.screenshot("window_run")

        page.evaluate("location.href = '/dashboard'")
        # the run's node metrics reach the charts (the metrics buffer is written every few seconds)
        page.wait_for("document.querySelectorAll('[data-testid=chart-by_type] .bars .point').length > 0", 60)
        desktop.screenshot("window_dashboard")

        page.evaluate("location.href = '/settings'")
        text = page.wait_for("document.body.innerText.includes('Data folder') && document.body.innerText", 30)
        assert "desktop window: one person on this computer, no login" in text
        assert f"{desktop.data_dir} (AKIS_DATA_DIR overrides it)" in text
        desktop.screenshot("window_settings")
    finally:
        page.close()

    assert desktop.close_window() == 0
    assert "desktop: stopped (background jobs drained" in desktop.log()
    assert not desktop.windows()
    runs = desktop.runs()
    assert [(r["flow_id"], r["status"], r["tenant_id"]) for r in runs] == [(DEMO, "succeeded", "1")]
    # the data is in the per-user folder; the working folder stays empty
    assert (desktop.data_dir / "akis.db").is_file()
    assert (desktop.data_dir / "secret.key").is_file()
    assert list(desktop.work.iterdir()) == []


def test_the_window_opens_as_large_and_where_it_was_closed(desktop: DesktopApp):
    desktop.start()
    desktop.window_page().close()
    desktop.move_resize(40, 30, 1000, 700)
    page = desktop.window_page()
    try:  # the page saw the new size: the window process has handled the resize
        page.wait_for("window.innerWidth === 1000 && window.innerHeight === 700")
    finally:
        page.close()
    assert desktop.close_window() == 0
    saved = json.loads((desktop.data_dir / "window.json").read_text(encoding="utf-8"))
    assert saved == {"width": 1000, "height": 700, "x": 40, "y": 30}

    desktop.start()
    page = desktop.window_page()
    try:
        assert page.wait_for("window.innerWidth === 1000 && window.innerHeight === 700")
    finally:
        page.close()
    assert desktop.geometry() == (40, 30, 1000, 700)
    desktop.screenshot("window_remembered")

    # stopped from the terminal instead: the window closes with it, no process is left behind
    children = desktop.children()
    assert children
    desktop.terminate()
    assert desktop.log().count("desktop: stopped (background jobs drained") == 2
    assert not desktop.windows()
    assert desktop.gone(children), [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children
                                    if Path(f"/proc/{pid}").exists()]


@pytest.fixture
def typable_folder() -> Iterator[Path]:
    """A folder whose path a keyboard test can type (lower-case letters, digits, ``/``)."""
    folder = Path("/tmp") / f"akisdesktop{secrets.token_hex(6)}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_export_and_import_use_the_system_dialogs_in_the_window(desktop: DesktopApp, typable_folder: Path):
    exported = typable_folder / "exported.json"
    desktop.start()
    page = desktop.window_page()
    try:
        page.evaluate(f"location.href = '/flows/{DEMO}'")
        page.wait_for("!!document.querySelector('.akis-canvas[data-ready]')", 60)
        page.evaluate("document.querySelector('[data-testid=export]').click()")
        desktop.answer_dialog("Save file", exported)
        page.wait_for(f"document.body.innerText.includes({json.dumps(f'Saved {exported}')})")
        flow = json.loads(exported.read_text(encoding="utf-8"))
        assert flow["flow_id"] == DEMO

        flow.update(flow_id="from-disk", name="From the disk")
        mine = typable_folder / "fromdisk.json"
        mine.write_text(json.dumps(flow), encoding="utf-8")
        page.evaluate("location.href = '/'")
        page.wait_for("!!document.querySelector('[data-testid=import]')")
        page.evaluate("document.querySelector('[data-testid=import]').click()")
        page.wait_for("!!document.querySelector('[data-testid=import-open]')")
        assert page.evaluate("!document.querySelector('[data-testid=import-upload]')")  # no browser upload here
        page.evaluate("document.querySelector('[data-testid=import-open]').click()")
        desktop.answer_dialog("Open file", mine)
        page.wait_for("location.pathname === '/flows/from-disk'", 30)
        page.wait_for("!!document.querySelector('.akis-canvas[data-ready]')", 60)
        desktop.screenshot("window_imported")
    finally:
        page.close()
    assert desktop.close_window() == 0
    with sqlite3.connect(desktop.data_dir / "akis.db") as db:
        stored = db.execute("SELECT tenant_id, name FROM flows WHERE id = 'from-disk'").fetchall()
    assert stored == [("1", "From the disk")]
