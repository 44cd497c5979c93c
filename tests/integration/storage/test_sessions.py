"""Editor session records on each database: a live one names its user and tenant; a wrong
secret, a revoked or expired one, or one whose user is gone names nobody."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from storage.db import Database
from storage.repos import sessions, users
from storage.types import utcnow

from .rows import delete_user


def test_a_session_names_its_user_until_it_ends(db: Database) -> None:
    db.call(users.create_user, "2", "alice", "long enough password")
    row, secret = db.call(sessions.create_session, "2", "alice", user_agent="x" * 500, address="10.0.0.1")
    assert len(row.user_agent) == 300 and row.secret_hash != secret and secret not in row.secret_hash
    found = db.call(sessions.lookup_session, row.id, secret)
    assert (found.id, found.tenant_id, found.username) == (row.id, "2", "alice")
    assert db.call(sessions.lookup_session, row.id, secret + "x") is None
    assert db.call(sessions.lookup_session, "nope", secret) is None
    assert db.call(sessions.lookup_session, "x" * 5000, secret) is None
    assert db.call(sessions.revoke_session, "2", "alice", row.id) is True
    assert db.call(sessions.revoke_session, "2", "alice", row.id) is False  # already ended
    assert db.call(sessions.lookup_session, row.id, secret) is None


def test_expired_sessions_and_last_seen(db: Database) -> None:
    db.call(users.create_user, "2", "alice", "long enough password")
    old, old_secret = db.call(sessions.create_session, "2", "alice", max_age_s=-1)
    assert db.call(sessions.lookup_session, old.id, old_secret) is None
    assert [r.id for r in db.call(sessions.list_sessions, "2", "alice")] == []
    assert [r.id for r in db.call(sessions.list_sessions, "2", "alice", include_ended=True)] == [old.id]
    row, secret = db.call(sessions.create_session, "2", "alice")
    an_hour_ago = utcnow() - timedelta(hours=1)
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE editor_sessions SET last_seen_at = :t WHERE id = :i"),
                           {"t": an_hour_ago.replace(tzinfo=None) if db.dialect == "sqlite" else an_hour_ago,
                            "i": row.id})
    db.call(sessions.lookup_session, row.id, secret)
    (listed,) = db.call(sessions.list_sessions, "2", "alice")
    assert (utcnow() - listed.last_seen_at).total_seconds() < 60  # a lookup marks it seen


def test_revoking_all_and_a_password_change_end_every_session(db: Database) -> None:
    db.call(users.create_user, "2", "alice", "long enough password")
    db.call(users.create_user, "2", "bob", "long enough password")
    keep, keep_secret = db.call(sessions.create_session, "2", "alice")
    other, other_secret = db.call(sessions.create_session, "2", "alice")
    bobs, bobs_secret = db.call(sessions.create_session, "2", "bob")
    assert db.call(sessions.revoke_user_sessions, "2", "alice", keep=keep.id) == 1
    assert db.call(sessions.lookup_session, other.id, other_secret) is None
    assert db.call(sessions.lookup_session, keep.id, keep_secret) is not None
    db.call(users.set_password, "2", "alice", "another long password")
    assert db.call(sessions.lookup_session, keep.id, keep_secret) is None
    assert db.call(sessions.lookup_session, bobs.id, bobs_secret) is not None  # bob's own stay
    assert db.call(sessions.revoke_session, "2", "alice", bobs.id) is False  # not alice's
    kept, kept_secret = db.call(sessions.create_session, "2", "alice")
    db.call(users.set_password, "2", "alice", "yet another password", keep_session=kept.id)
    assert db.call(sessions.lookup_session, kept.id, kept_secret) is not None


def test_deleting_the_user_deletes_the_sessions(db: Database) -> None:
    db.call(users.create_user, "2", "alice", "long enough password")
    row, secret = db.call(sessions.create_session, "2", "alice")
    db.call(delete_user, "2", "alice")
    db.call(users.create_user, "2", "alice", "a new alice, same name")
    assert db.call(sessions.lookup_session, row.id, secret) is None
    assert db.call(sessions.list_sessions, "2", "alice", include_ended=True) == []
