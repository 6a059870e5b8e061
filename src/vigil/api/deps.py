"""FastAPI dependencies: the instance, a DB session, the authenticated principal, permissions.

Nothing is built at import: :func:`vigil.api.app.create_app` stores the instance on
``app.state.vigil`` and tests may use ``dependency_overrides``.

The dependencies are ``async`` where they do no I/O, and hand only their database work to a thread:
FastAPI runs every plain ``def`` dependency on AnyIO's thread pool, and under load each such hop
waits for the GIL and for a thread (a camera read took eight of them). The sessions are opened on
the event loop (no connection is made before the first statement) and committed or rolled back in
a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.access.guard import check_permission
from vigil.access.users import Principal, lookup_principal, principal_for_token
from vigil.api.security import SAFE_METHODS, accepts_query_token, request_token, same_origin
from vigil.core.context import Vigil
from vigil.core.errors import AccessDenied, AuthError

__all__ = [
    "Caller",
    "CallerDep",
    "CurrentPrincipal",
    "ReadSessionDep",
    "SessionDep",
    "VigilDep",
    "accepts_query_token",
    "require",
    "stopping",
]

_bearer = HTTPBearer(auto_error=False)


async def get_vigil(request: Request) -> Vigil:
    """The instance this app serves."""
    return request.app.state.vigil


VigilDep = Annotated[Vigil, Depends(get_vigil)]


def stopping(request: Request) -> bool:
    """True once the server that serves ``request`` is shutting down (``vigil serve`` keeps it on the app).

    An answer that never ends by itself (an event stream) checks it and ends: uvicorn's graceful shutdown
    waits for open answers, and cancels them with a traceback in the log only after ``GRACEFUL_SHUTDOWN_S``.
    """
    server = getattr(request.app.state, "server", None)
    return bool(server is not None and server.should_exit)


@asynccontextmanager
async def _exit_in_thread(cm: AbstractContextManager[Session]) -> AsyncIterator[Session]:
    """Enter ``cm`` here (it makes no connection) and leave it in a thread: commit or rollback, then close.

    As FastAPI does for a ``def`` generator: the exit is shielded from cancellation (a session always
    ends, and on SQLite gives the write lock back) and does not wait for a free thread of the pool.
    """
    session = cm.__enter__()
    own_thread = anyio.CapacityLimiter(1)
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            swallowed = await anyio.to_thread.run_sync(cm.__exit__, type(exc), exc, exc.__traceback__,
                                                       limiter=own_thread)
        if not swallowed:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(cm.__exit__, None, None, None, limiter=own_thread)


async def get_session(v: VigilDep) -> AsyncIterator[Session]:
    """A session per request: committed on success, rolled back on error."""
    async with _exit_in_thread(v.db.session()) as s:
        yield s


# scope="function": the commit happens before the answer leaves, so a client that got its 200 reads
# its own write next, and a commit that fails is answered as the error it is (never after a 200).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_read_session(v: VigilDep) -> AsyncIterator[Session]:
    """A read-only session per request (:meth:`~vigil.core.db.Database.read_session`): no write lock."""
    async with _exit_in_thread(v.db.read_session()) as s:
        yield s


#: for routes (or the read part of a route) that only look things up; writes go through SessionDep
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


class Caller:
    """A caller whose credentials were checked on the loop and whose token is resolved where it is needed.

    :func:`get_caller` settles everything that needs no database (a token present, a cookie-authenticated
    change from this server's own origin); :meth:`principal`, called in the handler's own worker thread,
    looks the token up, so a hot route spends no thread hop on it (:mod:`vigil.api.answers`). An unknown,
    expired or revoked token is the same 401 as through :data:`CurrentPrincipal`.
    """

    __slots__ = ("_principal", "_token", "_vigil")

    def __init__(self, vigil: Vigil, token: str, principal: Principal | None = None) -> None:
        self._vigil, self._token, self._principal = vigil, token, principal

    def principal(self, session: Session | None = None) -> Principal:
        """The caller's principal (one lookup per request: it blocks, so call it in a worker thread).

        The lookup runs in ``session`` when given (a read session the route opened anyway), else in its own.
        """
        if self._principal is None:
            self._principal = (principal_for_token(session, self._token) if session is not None
                               else lookup_principal(self._vigil.db, self._token))
        return self._principal


async def get_caller(request: Request,
                     cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The caller's token, checked without the database.

    The token comes from the ``Authorization`` header or the console's ``vigil_token`` cookie;
    ``?token=`` is read only on the media routes marked with :func:`accepts_query_token`.
    A state change authenticated by the cookie must come from this server's own origin.
    """
    del cred  # declared for the OpenAPI security scheme; read by request_token
    v = request.app.state.vigil
    pre = getattr(request.state, "principal", None)  # resolved by AuthBeforeBody for state changes
    if isinstance(pre, Principal):
        return Caller(v, "", pre)
    token, source = request_token(request)
    if not token:
        raise AuthError("authentication required")
    if source == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
        raise AccessDenied("a cookie-authenticated change must come from this server's own pages")
    return Caller(v, token)


#: for a route that resolves the principal in its own thread (``caller.principal()``) before anything else
CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_principal(request: Request,
                        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """Resolve the caller's token to a principal (:func:`get_caller`, then one lookup in a worker thread)."""
    caller = await get_caller(request, cred)
    p = await run_in_threadpool(caller.principal)
    request.state.principal = p
    return p


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that checks, through the guard, that the caller's role grants ``permission``.

    Region scope is decided by the guard too (:mod:`vigil.access.guard`), in the library call.
    """

    async def _check(p: CurrentPrincipal) -> Principal:
        check_permission(p, permission)
        return p

    return _check
