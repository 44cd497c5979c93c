"""Desktop mode's data folder: the operating system's per-user folder by default (platformdirs,
here pointed at a temporary HOME and XDG_DATA_HOME), the usual variables override it, and web
mode keeps its own defaults. Without the desktop extra, ``akis desktop`` says what to install."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from editor.desktop import missing
from runtime.settings import AkisSettings
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and XDG_DATA_HOME, no AKIS_ variable, and an empty working folder."""
    require(not missing(), "the desktop extra (pip install -e '.[desktop]')")
    for name in ("AKIS_DATA_DIR", "AKIS_DATABASE_URL", "AKIS_DESKTOP_TENANT", "AKIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_the_database_and_the_secret_key_land_in_the_per_user_folder(user_folders: Path):
    from editor.api import session_secret
    from editor.context import create_context
    from editor.desktop.paths import apply_desktop_defaults

    settings = apply_desktop_defaults(AkisSettings(_env_file=None))
    folder = user_folders / "xdg-data" / "akis"
    assert settings.data_dir == folder
    assert settings.sqlalchemy_url == f"sqlite:///{folder.as_posix()}/akis.db"
    assert settings.host == "127.0.0.1"
    context = create_context(settings)  # opens (and migrates) the database
    try:
        assert session_secret(settings)  # the generated key file
        assert context.database.dialect == "sqlite"
    finally:
        context.database.engine.dispose()
    assert {p.name for p in folder.iterdir()} >= {"akis.db", "secret.key"}
    assert list(Path.cwd().iterdir()) == []  # nothing in the working folder (web mode's place)


def test_the_usual_variables_win(user_folders: Path, monkeypatch: pytest.MonkeyPatch):
    from editor.desktop.paths import apply_desktop_defaults

    chosen = user_folders / "elsewhere"
    monkeypatch.setenv("AKIS_DATA_DIR", str(chosen))
    settings = apply_desktop_defaults(AkisSettings(_env_file=None))
    assert settings.data_dir == chosen and chosen.is_dir()
    assert settings.sqlalchemy_url == f"sqlite:///{chosen.as_posix()}/akis.db"  # the database follows the folder

    monkeypatch.setenv("AKIS_DATABASE_URL", "sqlite:///" + (user_folders / "mine.db").as_posix())
    settings = apply_desktop_defaults(AkisSettings(_env_file=None))
    assert settings.sqlalchemy_url.endswith("/mine.db")
    assert not (user_folders / "xdg-data").exists()  # the per-user folder is not even created


def test_web_mode_keeps_its_defaults(user_folders: Path):
    settings = AkisSettings(_env_file=None)
    assert settings.data_dir == Path(".akis")
    assert settings.sqlalchemy_url == "sqlite:///akis.db"
    assert settings.desktop_tenant == "1"


def test_without_the_extra_akis_desktop_says_what_to_install(tmp_path: Path):
    hide = "import sys; sys.modules['webview'] = None; from app import main; sys.argv[0] = 'akis'; main()"
    done = subprocess.run([sys.executable, "-c", hide, "desktop"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "webview" in lines[0] and "pip install" in lines[0] and ".[desktop]" in lines[0]
    assert list(tmp_path.iterdir()) == []  # it stopped before touching any data


def test_without_a_display_akis_desktop_says_so(tmp_path: Path):
    require(not missing(), "the desktop extra (pip install -e '.[desktop]')")
    done = subprocess.run([sys.executable, "-c", "import sys; from app import main; sys.argv[0] = 'akis'; main()",
                           "desktop"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
                               "XDG_DATA_HOME": str(tmp_path / "data")})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: no display to open the window on")


def test_python_app_py_desktop_is_akis_desktop(tmp_path: Path):
    require(not missing(), "the desktop extra (pip install -e '.[desktop]')")
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "desktop"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                       "XDG_DATA_HOME": str(tmp_path / "data")})
    assert done.returncode == 1  # not the web server: the desktop command, stopping for want of a display
    assert done.stderr.strip().splitlines()[-1].startswith("error: no display to open the window on")


async def test_another_desktop_tenant_starts_with_the_examples_too(user_folders: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    from editor.context import create_context
    from editor.desktop.launch import seed_local_examples
    from editor.desktop.paths import apply_desktop_defaults

    monkeypatch.setenv("AKIS_DESKTOP_TENANT", "7")
    settings = apply_desktop_defaults(AkisSettings(_env_file=None))
    assert settings.desktop_tenant == "7"
    context = create_context(settings)
    try:
        seed_local_examples(context, settings.desktop_tenant)
        flows = {summary.id for summary in await context.flows.summaries("7")}
        assert "pallet-assistant" in flows
        seed_local_examples(context, settings.desktop_tenant)  # the second start adds nothing
        assert {summary.id for summary in await context.flows.summaries("7")} == flows
        assert await context.flows.summaries("1") == []  # tenant 1 is the flows page's to seed, not touched here
    finally:
        context.database.engine.dispose()


def test_a_data_folder_that_cannot_be_made_is_named(tmp_path: Path):
    require(not missing(), "the desktop extra (pip install -e '.[desktop]')")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder's parent should be", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", "import sys; from app import main; sys.argv[0] = 'akis'; main()",
                           "desktop"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
                               "DISPLAY": ":999", "XDG_DATA_HOME": str(blocker)})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the data folder {blocker}") and "AKIS_DATA_DIR" in last, done.stderr
