"""The bind-address safety check: Akis listens on 127.0.0.1 unless told otherwise, and refuses
to listen anywhere else while nobody could authenticate (no editor user, no API token)."""
from __future__ import annotations

import ipaddress

from storage.db import Database
from storage.repos.tokens import any_live_tokens
from storage.repos.users import any_users


class UnsafeBind(Exception):
    """Starting on this address would expose an app with no credentials configured."""


def is_loopback(host: str) -> bool:
    value = (host or "").strip().strip("[]")
    if value == "localhost":
        return True
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False


def check_bind(host: str, database: Database) -> None:
    """Raise :class:`UnsafeBind` naming the fix when ``host`` is not loopback and no user or
    token exists."""
    if is_loopback(host):
        return
    if database.call(any_users) or database.call(any_live_tokens):
        return
    raise UnsafeBind(
        f"refusing to listen on {host}: no editor users and no API tokens exist, so anyone who can reach "
        "this address could use Akis. Create one first (akis user create --tenant 1 --username NAME, "
        "or akis token create --tenant 1), or listen on 127.0.0.1 (AKIS_HOST)."
    )
