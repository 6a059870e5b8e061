"""Sign-in with throttling: every failed or refused login is audited (never with the password)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.throttle import LoginThrottle
from vigil.access.users import authenticate
from vigil.core.db import Database
from vigil.core.errors import AuthError
from vigil.core.models import User, UserRegion

__all__ = ["TooManyAttempts", "sign_in"]


class TooManyAttempts(AuthError):
    """Too many failed logins for this user name or address: retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"too many failed logins; try again in {self.retry_after} s")


def sign_in(session: Session, db: Database, name: str, password: str, *, address: str,
            throttle: LoginThrottle) -> User:
    """Authenticate ``name``, unless it or ``address`` is locked out.

    Failures are written to the audit log in their own transaction (``db``), so they stay
    recorded although the request itself fails.
    """
    wait = throttle.retry_after(name, address)
    if wait > 0:
        session.rollback()  # end the caller's transaction first: on SQLite it holds the write lock
        _audit_failure(db, name, address, "locked out")
        raise TooManyAttempts(wait)
    try:
        user = authenticate(session, name, password)
    except AuthError:
        throttle.failure(name, address)
        session.rollback()
        _audit_failure(db, name, address, "wrong user name or password")
        raise
    throttle.success(name, address)
    return user


def _audit_failure(db: Database, name: str, address: str, reason: str) -> None:
    with db.session() as s:
        region = s.scalar(select(UserRegion.region_code).join(User, User.id == UserRegion.user_id)
                          .where(User.name == name).order_by(UserRegion.region_code).limit(1))
        record(s, "anonymous", "auth.login_failed", f"user:{name[:100]}", region=region, address=address,
               reason=reason)
