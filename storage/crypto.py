"""Credential secrets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from ``AKIS_SECRET_KEY``; when it is absent one is generated once and kept in
the data folder (``.akis/secret.key``, mode 600), so a fresh install works and restarts can
still decrypt. ``AKIS_SECRET_KEY`` may list several keys separated by commas: the first
encrypts, all decrypt, which is how a key is rotated.
"""
from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from runtime.settings import get_settings

from .errors import StorageError

KEY_FILE = "secret.key"


def fernet_key(secret: str) -> bytes:
    """A Fernet key from ``secret``: used as is when it already is one, else derived (HKDF)."""
    raw = secret.strip().encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32 and len(raw) == 44:
            return raw
    except (binascii.Error, ValueError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"akis", info=b"akis-credentials-v1").derive(raw)
    return base64.urlsafe_b64encode(derived)


class SecretBox:
    """Encrypts and decrypts credential secrets with the configured key(s)."""

    def __init__(self, secrets: list[str]) -> None:
        keys = [s for s in (x.strip() for x in secrets) if s]
        if not keys:
            raise StorageError("no secret key configured (set AKIS_SECRET_KEY)")
        self._fernet = MultiFernet([Fernet(fernet_key(k)) for k in keys])

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls(value.split(","))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise StorageError(
                "a stored credential cannot be decrypted: AKIS_SECRET_KEY is not the key it was "
                "saved with (to rotate keys, list the new key first, then the old one, comma-separated)"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt with the first key (after adding a new key in front)."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def load_or_create_key(data_dir: Path) -> str:
    """The key kept in the data folder, generated on first use."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def default_box() -> SecretBox:
    """The box for this process's settings: ``AKIS_SECRET_KEY`` or the generated key file."""
    settings = get_settings()
    configured = settings.secret_key.get_secret_value()
    return SecretBox.from_setting(configured or load_or_create_key(settings.data_dir))
