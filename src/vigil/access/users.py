"""Users, argon2 password hashes, bearer tokens and region scopes."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.access.policy import has_permission
from vigil.core.errors import AuthError, ConflictError, InputError, NotFoundError
from vigil.core.ids import validate_region_code
from vigil.core.models import ApiToken, Region, Role, User, UserRegion, utcnow

if TYPE_CHECKING:
    from vigil.core.db import Database

__all__ = [
    "LOCALES",
    "Principal",
    "add_user",
    "authenticate",
    "check_user_change",
    "generate_password",
    "issue_token",
    "principal_for_token",
    "related_accounts",
    "reset_password",
    "revoke_token",
    "set_locale",
    "update_user",
    "user_locale",
]

def _make_hasher() -> PasswordHasher:
    """argon2id with RFC 9106's low-memory profile; ``VIGIL_ARGON2_PROFILE=test`` (tests only) is cheap."""
    if os.environ.get("VIGIL_ARGON2_PROFILE") == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


_hasher = _make_hasher()
# Verifying against this keeps the timing of unknown-user logins like known-user ones.
@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so both answers take the same time (made once, lazily)."""
    return _hasher.hash("vigil-timing-equaliser")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who, with which role, over which region subtrees."""

    user_id: int
    name: str
    role: Role
    scopes: tuple[str, ...]
    team: str = ""

    @property
    def scope(self) -> Scope:
        """The caller's scope as the guard's one :class:`Scope` value."""
        return Scope.of(self.scopes)

    def can(self, permission: str) -> bool:
        """True if the caller's role grants ``permission``."""
        return has_permission(self.role, permission)


def generate_password(nbytes: int = 15) -> str:
    """A random URL-safe password (120 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def add_user(session: Session, name: str, password: str, role: Role | str, regions: list[str], *,
             team: str = "", actor: Principal | str = "system") -> User:
    """Create a user with an argon2 hash of ``password`` scoped to ``regions`` (audited).

    ``actor`` is the account creating it (recorded as its creator, see :func:`related_accounts`)
    or, outside any account, the name of the tool (``vigil-init``, ``cli:<os user>``).
    """
    name = name.strip()
    if not name:
        raise InputError("user name must not be empty")
    if len(password) < 10:
        raise InputError("password must have at least 10 characters")
    try:
        role = Role(role)
    except ValueError as exc:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from exc
    if not regions:
        raise InputError("a user needs at least one region")
    codes = [validate_region_code(c) for c in regions]
    for c in codes:
        if session.get(Region, c) is None:
            raise NotFoundError(f"region {c} does not exist")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    creator = actor.user_id if isinstance(actor, Principal) else None
    user = User(name=name, password_hash=_hasher.hash(password), role=role.value, team=team, created_by=creator,
                regions=[UserRegion(region_code=c) for c in codes])
    session.add(user)
    session.flush()
    record(session, actor.name if isinstance(actor, Principal) else actor, "user.create", f"user:{name}",
           region=codes[0], role=role.value, regions=codes, created_by=creator)
    return user


def related_accounts(session: Session, a: str, b: str) -> str:
    """Why accounts ``a`` and ``b`` are not two independent people, or "" if they are.

    They are the same account, or one created the other (directly or through accounts it created).
    """
    if a == b:
        return f"{a} is the same account"
    users = {u.name: u for u in session.scalars(select(User).where(User.name.in_([a, b])))}
    if a not in users or b not in users:
        return ""
    ida, idb = users[a].id, users[b].id
    if ida in _creators(session, users[b]):
        return f"{a} created the account {b}"
    if idb in _creators(session, users[a]):
        return f"{b} created the account {a}"
    return ""


def _creators(session: Session, user: User, depth: int = 32) -> set[int]:
    """The ids of the accounts that created ``user``, its creator's creator, and so on."""
    seen: set[int] = set()
    cur = user.created_by
    while cur is not None and cur not in seen and len(seen) < depth:
        seen.add(cur)
        cur = session.scalar(select(User.created_by).where(User.id == cur))
    return seen


def check_user_change(session: Session, actor: Principal | str, user: User, *, role: Role | str | None = None,
                      active: bool | None = None) -> None:
    """Refuse a change that would lock people out: deactivating oneself, or losing the last active admin."""
    if active is False and isinstance(actor, Principal) and user.id == actor.user_id:
        raise ConflictError("you cannot deactivate your own account; ask another admin")
    loses_admin = active is False or (role is not None and Role(role) != Role.ADMIN)
    if not (user.active and user.role == Role.ADMIN.value and loses_admin):
        return
    stmt = select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    if session.scalars(stmt).first() is None:
        raise ConflictError(f"{user.name} is the last active admin: make another admin first")


def update_user(session: Session, actor: Principal | str, user: User, *, role: Role | str | None = None,
                regions: list[str] | None = None, team: str | None = None, active: bool | None = None) -> User:
    """Change a user's role, region subtrees, team or active flag (API and CLI); audited as ``user.update``.

    A change that would lock people out is refused (:func:`check_user_change`); deactivating an account also
    revokes its tokens. Region codes are checked here; whether ``actor`` may grant them is the caller's check.
    """
    changes: dict[str, object] = {}
    if role is not None:
        try:
            changes["role"] = Role(role).value
        except ValueError as exc:
            raise InputError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from exc
    if regions is not None:
        if not regions:
            raise InputError("a user needs at least one region")
        codes = sorted({validate_region_code(c) for c in regions})
        changes["regions"] = codes
        for c in codes:
            if session.get(Region, c) is None:
                raise NotFoundError(f"region {c} does not exist")
    if team is not None:
        changes["team"] = team.strip()
    if active is not None:
        changes["active"] = active
    check_user_change(session, actor, user, role=role, active=active)
    if "regions" in changes:
        user.regions = [UserRegion(region_code=c) for c in codes]
    for k in ("role", "team", "active"):
        if k in changes:
            setattr(user, k, changes[k])
    if active is False:
        session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
                        .values(revoked=True))
    session.flush()
    record(session, actor.name if isinstance(actor, Principal) else actor, "user.update" if active is not False
           else "user.deactivate", f"user:{user.name}", region=user.region_codes[0], **changes)
    return user


def reset_password(session: Session, actor: Principal | str, name: str) -> str:
    """Give ``name`` a new generated password (returned once) and revoke its tokens; audited."""
    password = generate_password()
    set_password(session, name, password, actor=actor.name if isinstance(actor, Principal) else actor)
    return password


def set_password(session: Session, name: str, password: str, *, actor: str) -> None:
    """Replace a user's password and revoke every token the user holds."""
    if len(password) < 10:
        raise InputError("password must have at least 10 characters")
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError(f"user {name!r} does not exist")
    user.password_hash = _hasher.hash(password)
    done = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
                           .values(revoked=True))
    revoked = cast(CursorResult[Any], done).rowcount
    record(session, actor, "user.password", f"user:{name}", region=user.region_codes[0] if user.regions else None,
           tokens_revoked=revoked)


def authenticate(session: Session, name: str, password: str) -> User:
    """Check a name and password; raise :class:`AuthError` on any mismatch."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        raise AuthError("wrong user name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthError("wrong user name or password") from exc
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, ttl_hours: float = 12.0) -> str:
    """Create a bearer token for ``user``; only its hash is stored."""
    token = "vgl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_sha256=_sha(token),
                         expires_at=utcnow() + timedelta(hours=ttl_hours)))
    record(session, user.name, "auth.login", f"user:{user.name}",
           region=user.region_codes[0] if user.regions else None)
    return token


def revoke_token(session: Session, token: str) -> None:
    """Revoke a token (logout)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha(token)))
    if row is not None:
        row.revoked = True


# One statement per request: the token, its user and the user's regions (a row per region). Checked
# against the database every time (no cache), so a revocation, a deactivation or a new scope made by
# any process holds from the next request on; loading ORM objects here cost ten times as much.
_PRINCIPAL_ROWS = (
    select(ApiToken.expires_at, User.id, User.name, User.role, User.team, UserRegion.region_code)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(UserRegion, UserRegion.user_id == User.id)
    .where(ApiToken.token_sha256 == bindparam("sha"), ApiToken.revoked.is_(False), User.active.is_(True))
)


def principal_for_token(session: Session, token: str) -> Principal:
    """Resolve a bearer token to its principal or raise :class:`AuthError`."""
    rows = session.connection().execute(_PRINCIPAL_ROWS, {"sha": _sha(token)}).all()
    if not rows or rows[0].expires_at < utcnow():
        raise AuthError("invalid or expired token")
    first = rows[0]
    codes = sorted(r.region_code for r in rows if r.region_code is not None)
    return Principal(first.id, first.name, Role(first.role), tuple(codes), first.team)


def lookup_principal(db: Database, token: str) -> Principal:
    """:func:`principal_for_token` in a read session of its own (blocking: call it in a worker thread).

    A read session takes no write lock on SQLite, so requests do not queue behind the writers just to
    learn who is calling.
    """
    with db.read_session() as rs:
        return principal_for_token(rs, token)


LOCALES = ("zh-CN", "en")


def user_locale(session: Session, user_id: int) -> str:
    """The console language a user chose (``""``: none yet, the browser's is used)."""
    user = session.get(User, user_id)
    return user.locale if user is not None else ""


def set_locale(session: Session, principal: Principal, locale: str) -> User:
    """Remember the console language ``principal`` chose ("zh-CN", "en"; "" follows the browser); audited."""
    if locale and locale not in LOCALES:
        raise InputError(f"unknown language {locale!r}; languages: {', '.join(LOCALES)}")
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFoundError(f"user {principal.name} not found")
    if user.locale != locale:
        user.locale = locale
        record(session, principal.name, "user.locale", f"user:{user.name}", region=user.region_codes[0],
               locale=locale)
    return user


def principal_of(user: User) -> Principal:
    """The principal view of a stored user."""
    return Principal(user.id, user.name, Role(user.role), tuple(user.region_codes), user.team)
