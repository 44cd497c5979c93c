"""Users of the editor, per tenant, with argon2id password hashes; their sessions are in ``sessions``."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from ..errors import Conflict, NotFound, StorageError
from ..models import User
from ._common import tenant_key
from .sessions import revoke_user_sessions
from .tenants import ensure_tenant

_hasher = PasswordHasher()
MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StorageError(f"password too short: at least {MIN_PASSWORD} characters")


def get_user(session: Session, tenant_id: str, username: str) -> User | None:
    query = select(User).where(User.tenant_id == tenant_key(tenant_id), User.username == username)
    return session.exec(query).first()


def create_user(session: Session, tenant_id: str, username: str, password: str) -> User:
    tenant = tenant_key(tenant_id)
    username = username.strip()
    if not username:
        raise StorageError("username must not be empty")
    _check_password(password)
    ensure_tenant(session, tenant)
    if get_user(session, tenant, username) is not None:
        raise Conflict(f"user {username!r} already exists for tenant {tenant}")
    user = User(tenant_id=tenant, username=username, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, tenant_id: str, username: str, password: str) -> User | None:
    """The user when the password matches; rehashes when argon2's parameters have changed."""
    user = get_user(session, tenant_id, username)
    if user is None:
        _hasher.hash(password)  # same work either way: no timing hint that the name exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
        session.flush()
    return user


def set_password(session: Session, tenant_id: str, username: str, password: str, *,
                 keep_session: str | None = None) -> User:
    """A new password; every session of the user ends with the old one (but ``keep_session``,
    the browser that changed it, if given)."""
    user = get_user(session, tenant_id, username)
    if user is None:
        raise NotFound(f"user {username!r} not found for tenant {tenant_key(tenant_id)}")
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    session.add(user)
    session.flush()
    revoke_user_sessions(session, tenant_id, username, keep=keep_session)
    return user


def list_users(session: Session, tenant_id: str) -> list[User]:
    return list(session.exec(select(User).where(User.tenant_id == tenant_key(tenant_id)).order_by(col(User.username))))


def tenants_with_user(session: Session, username: str, limit: int = 10) -> list[str]:
    """The tenants that have a user of this name (ids only): the sign-in form needs no tenant
    when the name and password fit one user. System use: it returns no row of a tenant."""
    query = select(User.tenant_id).where(User.username == username.strip()).order_by(col(User.tenant_id))
    return list(session.exec(query.limit(limit)))


def authenticate_by_name(session: Session, username: str, password: str, tenant_id: str = "") -> list[User]:
    """The users of this name whose password matches: in ``tenant_id`` when given, else in any
    tenant (a person rarely has one name and password in two; then the form asks the tenant)."""
    if tenant_id.strip():
        user = authenticate(session, tenant_id, username, password)
        return [user] if user is not None else []
    tenants = tenants_with_user(session, username)
    if not tenants:
        _hasher.hash(password)  # same work as a wrong password: no timing hint that the name is unknown
        return []
    return [user for tenant in tenants if (user := authenticate(session, tenant, username, password)) is not None]


def any_users(session: Session) -> bool:
    """Whether any tenant has an editor user: from then on the editor requires a login."""
    return session.exec(select(User.id).limit(1)).first() is not None
