"""Where desktop mode keeps its data: the operating system's per-user data folder.

``platformdirs`` names it (``~/.local/share/akis`` on Linux, honouring ``XDG_DATA_HOME``;
``~/Library/Application Support/akis`` on macOS; ``%LOCALAPPDATA%\\akis`` on Windows). The
SQLite database, the secret key file and every file the app keeps go there. A setting given
by the usual variables (``AKIS_DATA_DIR``, ``AKIS_DATABASE_URL``, or a ``.env`` file) wins;
web mode never calls this and keeps its defaults (``.akis`` and ``akis.db`` in the working folder).
"""
from __future__ import annotations

from pathlib import Path

from runtime.settings import AkisSettings

APP_NAME = "akis"
DATABASE_FILE = "akis.db"


def user_data_dir() -> Path:
    """The per-user data folder (not created here)."""
    import platformdirs  # the desktop extra: only desktop mode needs it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{(folder / DATABASE_FILE).as_posix()}"


def apply_desktop_defaults(settings: AkisSettings) -> AkisSettings:
    """Point the settings not given explicitly at the per-user data folder, in place (so
    ``get_settings()`` answers the same everywhere), and create the folder. The window is
    always on loopback."""
    given = settings.model_fields_set
    if "data_dir" not in given:
        settings.data_dir = user_data_dir()
    settings.data_dir = settings.data_dir.expanduser()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if "database_url" not in given or not settings.database_url:
        settings.database_url = sqlite_url(settings.data_dir)
    settings.host = "127.0.0.1"
    return settings
