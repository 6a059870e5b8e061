"""FastAPI dependencies: the instance, a DB session, the authenticated principal, permissions.

Nothing is built at import: :func:`vigil.api.app.create_app` stores the instance on
``app.state.vigil`` and tests may use ``dependency_overrides``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from vigil.access.guard import check_permission
from vigil.access.users import Principal, principal_for_token
from vigil.api.security import SAFE_METHODS, accepts_query_token, request_token, same_origin
from vigil.core.context import Vigil
from vigil.core.errors import AccessDenied, AuthError

__all__ = [
    "CurrentPrincipal",
    "ReadSessionDep",
    "SessionDep",
    "VigilDep",
    "accepts_query_token",
    "require",
]

_bearer = HTTPBearer(auto_error=False)


def get_vigil(request: Request) -> Vigil:
    """The instance this app serves."""
    return request.app.state.vigil


VigilDep = Annotated[Vigil, Depends(get_vigil)]


def get_session(v: VigilDep) -> Iterator[Session]:
    """A session per request: committed on success, rolled back on error."""
    with v.db.session() as s:
        yield s


# scope="function": the commit happens before the answer leaves, so a client that got its 200 reads
# its own write next, and a commit that fails is answered as the error it is (never after a 200).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(v: VigilDep) -> Iterator[Session]:
    """A read-only session per request (:meth:`~vigil.core.db.Database.read_session`): no write lock."""
    with v.db.read_session() as s:
        yield s


#: for routes (or the read part of a route) that only look things up; writes go through SessionDep
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def get_principal(request: Request,
                  cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """Resolve the caller's token to a principal.

    The token comes from the ``Authorization`` header or the console's ``vigil_token`` cookie;
    ``?token=`` is read only on the media routes marked with :func:`accepts_query_token`.
    A state change authenticated by the cookie must come from this server's own origin.
    """
    del cred  # declared for the OpenAPI security scheme; read by request_token
    pre = getattr(request.state, "principal", None)  # resolved by AuthBeforeBody for state changes
    if isinstance(pre, Principal):
        return pre
    token, source = request_token(request)
    if not token:
        raise AuthError("authentication required")
    if source == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
        raise AccessDenied("a cookie-authenticated change must come from this server's own pages")
    # A lookup on a read session: on SQLite it takes no write lock, so requests do not queue behind the
    # writers just to learn who is calling.
    with request.app.state.vigil.db.read_session() as rs:
        p = principal_for_token(rs, token)
    request.state.principal = p
    return p


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Principal]:
    """A dependency that checks, through the guard, that the caller's role grants ``permission``.

    Region scope is decided by the guard too (:mod:`vigil.access.guard`), in the library call.
    """

    def _check(p: CurrentPrincipal) -> Principal:
        check_permission(p, permission)
        return p

    return _check
