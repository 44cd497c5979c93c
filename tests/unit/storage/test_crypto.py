"""Fernet keys from AKIS_SECRET_KEY, the generated key file, rotation."""
from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from storage.crypto import SecretBox, fernet_key, load_or_create_key
from storage.errors import StorageError


def test_a_fernet_key_is_used_as_is_and_a_passphrase_is_derived():
    key = Fernet.generate_key()
    assert fernet_key(key.decode()) == key
    derived = fernet_key("my passphrase")
    assert derived != b"my passphrase" and len(derived) == 44
    assert fernet_key("my passphrase") == derived  # stable across processes


def test_round_trip_and_unicode():
    box = SecretBox(["k"])
    token = box.encrypt("sk-ü-☃")
    assert token != "sk-ü-☃" and box.decrypt(token) == "sk-ü-☃"


def test_rotation_reencrypts_with_the_new_key():
    old = SecretBox(["old"])
    token = old.encrypt("secret")
    both = SecretBox.from_setting("new,old")
    rotated = both.rotate(token)
    assert SecretBox(["new"]).decrypt(rotated) == "secret"
    with pytest.raises(StorageError):
        old.decrypt(rotated)


def test_no_key_is_a_clear_error():
    with pytest.raises(StorageError, match="AKIS_SECRET_KEY"):
        SecretBox(["", " "])


def test_the_generated_key_is_kept_private_and_reused(tmp_path):
    first = load_or_create_key(tmp_path / "data")
    assert load_or_create_key(tmp_path / "data") == first
    mode = (tmp_path / "data" / "secret.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert SecretBox([first]).decrypt(SecretBox([first]).encrypt("x")) == "x"
