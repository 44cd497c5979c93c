"""Whether any user or live token exists (the bind-address check and the page guard ask)."""
from __future__ import annotations

from storage.db import Database
from storage.repos.tokens import any_live_tokens, create_token, revoke_token
from storage.repos.users import any_users, create_user

from .rows import delete_user


def test_any_users(db: Database) -> None:
    assert db.call(any_users) is False
    db.call(create_user, "5", "bob", "long enough password")
    assert db.call(any_users) is True
    db.call(delete_user, "5", "bob")
    assert db.call(any_users) is False


def test_any_live_tokens(db: Database) -> None:
    assert db.call(any_live_tokens) is False
    row, _ = db.call(create_token, "5", "ci")
    assert db.call(any_live_tokens) is True
    db.call(revoke_token, "5", row.id)
    assert db.call(any_live_tokens) is False
