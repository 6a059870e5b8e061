"""RFC 9457 problem+json responses for every error."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.access.login import TooManyAttempts
from vigil.core.db import is_locked
from vigil.core.errors import (
    AccessDenied,
    AuthError,
    ConflictError,
    ImportBusy,
    ImportRejected,
    InputError,
    NotFoundError,
    NotReadyError,
    PreconditionFailed,
    VigilError,
)
from vigil.i18n import normalize, translate_line

log = logging.getLogger("vigil.api")
#: seconds a client should wait before retrying a request the database could not take now
RETRY_AFTER_S = 1

_STATUS: list[tuple[type[Exception], int, str]] = [
    (TooManyAttempts, 429, "too-many-requests"),
    (AuthError, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
    (PreconditionFailed, 412, "precondition-failed"),
    (ConflictError, 409, "conflict"),
    (ImportRejected, 422, "import-rejected"),
    (InputError, 422, "invalid-input"),
    (NotReadyError, 503, "not-ready"),
]


def problem_body(status: int, slug: str, title: str, detail: str, instance: str = "",
                 **extra: object) -> dict[str, object]:
    """The RFC 9457 document (also used by the ASGI middlewares, which answer before FastAPI)."""
    return {"type": f"https://vigil.invalid/problems/{slug}", "title": title, "status": status,
            "detail": detail, "instance": instance, **extra}


def problem(status: int, slug: str, title: str, detail: str, instance: str = "", *,
            headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    """Build a problem+json response."""
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(problem_body(status, slug, title, detail, instance, **extra), status_code=status,
                        media_type="application/problem+json", headers=headers or None)


def request_lang(accept_language: str | None) -> str:
    """The caller's language from an ``Accept-Language`` header: the most preferred one Vigil speaks, else ``en``.

    ``zh``, ``zh-CN`` and ``zh-Hans`` read as ``zh-CN``; ``q=0`` ranges and languages without a catalogue are skipped.
    """
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip() and q > 0:
            ranked.append((-q, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        try:
            return normalize(tag)
        except InputError:
            continue
    return "en"


def localised(detail: str, lang: str) -> tuple[str, dict[str, object]]:
    """``detail`` in ``lang``, and the extra members: ``detail_en`` (the English) when it was translated."""
    said = translate_line(detail, lang)
    return said, ({} if said == detail else {"detail_en": detail})


def _lang(request: Request) -> str:
    return request_lang(request.headers.get("accept-language"))


def _problem_in(request: Request, status: int, slug: str, title: str, detail: str, *,
                headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    """:func:`problem` with ``detail`` in the language the request's ``Accept-Language`` asks for."""
    said, english = localised(detail, _lang(request))
    return problem(status, slug, title, said, request.url.path, headers=headers, **extra, **english)


def _rejected(request: Request, exc: ImportRejected, status: int, slug: str, title: str,
              headers: dict[str, str] | None) -> JSONResponse:
    """An import's bad rows: each ``reason`` in the caller's language (``reason_en`` keeps the English)."""
    lang = _lang(request)
    errors: list[dict[str, object]] = []
    for e in exc.errors:
        reason = translate_line(e.reason, lang)
        errors.append({"line": e.line, "field": e.field, "reason": reason,
                       **({"reason_en": e.reason} if reason != e.reason else {})})
    detail, english = str(exc), {}
    if lang != "en":  # the same sentence as ImportRejected's, built from the translated rows
        rows = "；".join(translate_line(f"line {e['line']}: {e['field']}: {e['reason']}", lang) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        said = translate_line(f"{exc.source or 'import'}: {len(errors)} bad row(s), nothing stored: {rows}{more}",
                              lang)
        if said != detail:
            detail, english = said, {"detail_en": str(exc)}
    return problem(status, slug, title, detail, request.url.path, headers=headers, errors=errors, **english)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(VigilError)
    async def _vigil(request: Request, exc: VigilError) -> JSONResponse:
        for cls, status, slug in _STATUS:
            if isinstance(exc, cls):
                headers = {"Retry-After": str(exc.retry_after)} \
                    if isinstance(exc, TooManyAttempts | ImportBusy) else None
                title = slug.replace("-", " ").capitalize()
                if isinstance(exc, ImportRejected):
                    return _rejected(request, exc, status, slug, title, headers)
                return _problem_in(request, status, slug, title, str(exc), headers=headers)
        return _problem_in(request, 400, "error", "Error", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return _problem_in(request, 422, "invalid-input", "Invalid input", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem_in(request, exc.status_code, "http", str(exc.detail), str(exc.detail))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return _problem_in(request, 409, "conflict", "Conflict", "the object was changed by another request "
                           "meanwhile; read it again and retry")

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error on %s: %s", request.url.path, type(exc.orig).__name__)
        return _problem_in(request, 409, "conflict", "Conflict", "the change conflicts with stored data")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        return out_of_range(request.url.path, _lang(request))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return out_of_range(request.url.path, _lang(request))

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        return busy(request.url.path, _lang(request))

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if is_locked(exc):
            return busy(request.url.path, _lang(request))
        return internal(request.url.path, exc, _lang(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return internal(request.url.path, exc, _lang(request))


def out_of_range(path: str, lang: str = "en") -> JSONResponse:
    """422 for a value the database cannot hold (a safety net: the routes bound their numbers themselves)."""
    said, english = localised("a number or date in the request is out of range", lang)
    return problem(422, "invalid-input", "Invalid input", said, path, headers=None, **english)


def busy(path: str, lang: str = "en") -> JSONResponse:
    """503 + Retry-After: the database (pool or write lock) cannot take the request now."""
    said, english = localised("the server is busy; retry shortly", lang)
    return problem(503, "busy", "Busy", said, path, headers={"Retry-After": str(RETRY_AFTER_S)}, **english)


def internal(path: str, exc: BaseException, lang: str = "en") -> JSONResponse:
    """500, logged with its traceback, never shown to the caller."""
    log.error("unhandled error on %s", path, exc_info=exc)
    said, english = localised("an unexpected error occurred; it has been logged", lang)
    return problem(500, "internal", "Internal error", said, path, headers=None, **english)


class CatchAll:
    """Answer an unexpected exception with a problem+json 500 instead of letting it reach the server.

    Starlette re-raises what reaches its outermost layer, and uvicorn then closes the keep-alive
    connection, so a client's next request would fail too. Installed just outside the exception
    handlers, this layer also lets the metrics middleware count the 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            await internal(scope.get("path", ""), exc)(scope, receive, send)
