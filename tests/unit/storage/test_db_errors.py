"""Opening a database that cannot be opened is one clear sentence, never a traceback."""
from __future__ import annotations

import pytest

from storage.db import init_db, normalise_url
from storage.errors import StorageError


def test_the_urls_people_paste_mean_psycopg_3():
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("") == "sqlite:///akis.db"


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://x/y", "unsupported database URL"),
        ("sqlite:////no/such/folder/akis.db", "the folder /no/such/folder does not exist"),
        (
            "postgresql://postgres@127.0.0.1:1/x",
            r"cannot open the database postgresql\+psycopg://postgres@127\.0\.0\.1:1/x: connection",
        ),
    ],
)
def test_errors_name_the_problem(url, message, tmp_path):
    with pytest.raises(StorageError, match=message):
        init_db(url)


def test_a_new_sqlite_file_is_created_in_wal_mode(tmp_path):
    database = init_db(f"sqlite:///{tmp_path / 'fresh.db'}", seed_demo=False)
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()
    assert (tmp_path / "fresh.db").exists()
