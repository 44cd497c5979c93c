"""Credentials encrypted at rest, API tokens stored hashed, users with argon2."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.crypto import SecretBox
from storage.errors import Conflict, NotFound, StorageError
from storage.repos import credentials, tokens, users

BOX = SecretBox(["test-key-one"])


def test_a_credential_is_never_stored_in_clear(db):
    db.call(credentials.set_credential, "2", "anthropic-main", "anthropic", "sk-ant-SECRET", box=BOX)
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT secret_encrypted FROM credentials")).scalar_one()
    assert "SECRET" not in stored
    assert db.call(credentials.get_secret, "2", "anthropic-main", box=BOX) == "sk-ant-SECRET"
    assert db.call(credentials.get_secret, "2", "missing", box=BOX) is None


def test_replacing_and_listing_and_deleting(db):
    db.call(credentials.set_credential, "2", "k", "openai", "one", box=BOX)
    db.call(credentials.set_credential, "2", "k", "openai_compatible", "two", box=BOX)
    listed = db.call(credentials.list_credentials, "2")
    assert [(c.name, c.provider) for c in listed] == [("k", "openai_compatible")]
    assert db.call(credentials.get_secret, "2", "k", box=BOX) == "two"
    assert db.call(credentials.delete_credential, "2", "k") and not db.call(credentials.delete_credential, "2", "k")


def test_a_wrong_key_is_a_clear_error_and_rotation_keeps_old_secrets(db):
    db.call(credentials.set_credential, "2", "k", "anthropic", "s3cret", box=BOX)
    with pytest.raises(StorageError, match="AKIS_SECRET_KEY"):
        db.call(credentials.get_secret, "2", "k", box=SecretBox(["another-key"]))
    rotated = SecretBox.from_setting("new-key,test-key-one")
    assert db.call(credentials.get_secret, "2", "k", box=rotated) == "s3cret"


def test_tokens_are_shown_once_stored_hashed_and_revocable(db):
    row, plaintext = db.call(tokens.create_token, "2", "ci")
    assert plaintext.startswith(f"akis_{row.id}_") and row.token_hash != plaintext
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT token_hash FROM api_tokens")).scalar_one() == tokens.hash_token(
            plaintext
        )
    assert db.call(tokens.verify_token, plaintext) == "2"
    assert db.call(tokens.list_tokens, "2")[0].last_used_at is not None
    assert db.call(tokens.verify_token, plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y")) is None
    assert db.call(tokens.verify_token, "garbage") is None
    assert db.call(tokens.revoke_token, "2", row.id) is True
    assert db.call(tokens.revoke_token, "2", row.id) is False
    assert db.call(tokens.verify_token, plaintext) is None


def test_users_have_argon2_hashes_and_unique_names_per_tenant(db):
    user = db.call(users.create_user, "2", "alice", "correct horse")
    assert user.password_hash.startswith("$argon2id$")
    assert db.call(users.authenticate, "2", "alice", "correct horse").id == user.id
    assert db.call(users.authenticate, "2", "alice", "wrong password") is None
    assert db.call(users.authenticate, "2", "bob", "correct horse") is None
    with pytest.raises(Conflict):
        db.call(users.create_user, "2", "alice", "another password")
    with pytest.raises(StorageError, match="too short"):
        db.call(users.create_user, "2", "carol", "short")
    db.call(users.create_user, "5", "alice", "tenant five pw")  # same name, other tenant: fine
    db.call(users.set_password, "2", "alice", "new password!")
    assert db.call(users.authenticate, "2", "alice", "new password!") is not None
    with pytest.raises(NotFound):
        db.call(users.set_password, "2", "nobody", "whatever123")
    assert [u.username for u in db.call(users.list_users, "2")] == ["alice"]
