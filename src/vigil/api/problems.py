"""RFC 9457 problem+json responses for every error."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import Headers
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
from vigil.i18n.validation import field_message, field_where

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


#: Builds a problem document in a language other than English (``None``: it reads the same in that language).
Localiser = Callable[[str], dict[str, object] | None]


class ProblemResponse(JSONResponse):
    """A problem+json answer that speaks the language of the request it answers.

    It is built in English (routes and middlewares need no language), and when it is sent it reads the
    request's ``Accept-Language`` and renders its document in that language: ``detail`` translated (English
    kept as ``detail_en``) and each ``errors[].msg`` (``msg_en``), or through the ``localise`` it was given.
    """

    media_type = "application/problem+json"

    def __init__(self, document: dict[str, object], status: int, *, headers: dict[str, str] | None = None,
                 localise: Localiser | None = None) -> None:
        super().__init__(document, status_code=status, headers=headers)
        self.document = document
        self.localise = localise or (lambda lang: _localised_document(document, lang))
        self.english = self.body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the document in the caller's language (an answer sent twice speaks to each caller)."""
        lang = request_lang(Headers(scope=scope).get("accept-language"))
        said = self.localise(lang) if lang != "en" else None
        self.body = self.english if said is None else self.render(said)
        self.raw_headers = [(k, str(len(self.body)).encode() if k == b"content-length" else v)
                            for k, v in self.raw_headers]
        await super().__call__(scope, receive, send)


def problem(status: int, slug: str, title: str, detail: str, instance: str = "", *,
            headers: dict[str, str] | None = None, localise: Localiser | None = None,
            **extra: object) -> ProblemResponse:
    """Build a problem+json response (it answers in the request's language: :class:`ProblemResponse`)."""
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return ProblemResponse(problem_body(status, slug, title, detail, instance, **extra), status,
                           headers=headers or None, localise=localise)


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


def caller_lang(request: Request) -> str:
    """The language the request asks for (:func:`request_lang` of its ``Accept-Language``)."""
    return request_lang(request.headers.get("accept-language"))


def localised(detail: str, lang: str) -> tuple[str, dict[str, object]]:
    """``detail`` in ``lang``, and the extra members: ``detail_en`` (the English) when it was translated."""
    said = translate_line(detail, lang)
    return said, ({} if said == detail else {"detail_en": detail})


def _translated(entry: dict[str, object], key: str, said: str) -> dict[str, object]:
    """``entry`` with ``key`` reading ``said`` and ``<key>_en`` the English, when they differ."""
    english = str(entry.get(key, ""))
    return entry if said == english else {**entry, key: said, f"{key}_en": english}


def document_for(document: dict[str, object], accept_language: str | None) -> dict[str, object]:
    """``document`` in the language an ``Accept-Language`` header asks for (for answers sent before FastAPI)."""
    lang = request_lang(accept_language)
    return (_localised_document(document, lang) if lang != "en" else None) or document


def _localised_document(document: dict[str, object], lang: str) -> dict[str, object] | None:
    """The document with ``detail`` and each ``errors[].msg`` in ``lang`` (``None`` when nothing reads otherwise).

    A document already in a language (it has ``detail_en``) is left as it is.
    """
    if "detail_en" in document:
        return None
    out = _translated(document, "detail", translate_line(str(document.get("detail", "")), lang))
    errors = document.get("errors")
    if isinstance(errors, list) and all(isinstance(e, dict) and "msg" in e for e in errors):
        out = {**out, "errors": [_translated(e, "msg", translate_line(str(e["msg"]), lang)) for e in errors]}
    return None if out == document else out


#: pydantic errors named in a 422's ``detail`` (the rest are counted; all are in ``errors``)
_NAMED_ERRORS = 5


def _sentence(head: str, rows: list[str], total: int, lang: str) -> str:
    """``head: row; row (and N more)`` in ``lang`` (the rows already in it)."""
    more = f" (and {total - len(rows)} more)" if total > len(rows) else ""
    return translate_line(f"{head}: {'；'.join(rows) if lang != 'en' else '; '.join(rows)}{more}", lang)


def _invalid(exc: RequestValidationError, instance: str) -> ProblemResponse:
    """A request pydantic refused: each field's message in the caller's language (``msg_en`` the English)."""
    raw = list(exc.errors())

    def document(lang: str) -> dict[str, object]:
        errors = [_translated({"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))}, "msg",
                              field_message(e, lang)) for e in raw]
        colon = ": " if lang == "en" else "："
        rows = [f"{field_where(e['loc'])}{colon}{e['msg']}" for e in errors[:_NAMED_ERRORS]]  # type: ignore[arg-type]
        return problem_body(422, "invalid-input", "Invalid input",
                            _sentence("the request is not valid", rows, len(errors), lang), instance, errors=errors)

    english = document("en")

    def localise(lang: str) -> dict[str, object]:
        said = document(lang)
        return {**said, "detail_en": english["detail"]} if said["detail"] != english["detail"] else said

    return problem(422, "invalid-input", "Invalid input", str(english["detail"]), instance,
                   errors=english["errors"], localise=localise)


def _rejected(request: Request, exc: ImportRejected, status: int, slug: str, title: str,
              headers: dict[str, str] | None) -> ProblemResponse:
    """An import's bad rows: each ``reason`` in the caller's language (``reason_en`` keeps the English)."""
    rows_en: list[dict[str, object]] = [{"line": e.line, "field": e.field, "reason": e.reason} for e in exc.errors]

    def document(lang: str) -> dict[str, object]:
        errors = [_translated(e, "reason", translate_line(str(e["reason"]), lang)) for e in rows_en]
        # the same sentence as ImportRejected's, built from the translated rows
        rows = [translate_line(f"line {e['line']}: {e['field']}: {e['reason']}", lang) for e in errors[:5]]
        said = _sentence(f"{exc.source or 'import'}: {len(errors)} bad row(s), nothing stored", rows,
                         len(errors), lang)
        english = {"detail_en": str(exc)} if said != str(exc) else {}
        return problem_body(status, slug, title, said if english else str(exc), request.url.path,
                            errors=errors, **english)

    return problem(status, slug, title, str(exc), request.url.path, headers=headers, errors=rows_en,
                   localise=document)


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
                return problem(status, slug, title, str(exc), request.url.path, headers=headers)
        return problem(400, "error", "Error", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid(exc, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http", str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem(409, "conflict", "Conflict", "the object was changed by another request meanwhile; read it "
                       "again and retry", request.url.path)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error on %s: %s", request.url.path, type(exc.orig).__name__)
        return problem(409, "conflict", "Conflict", "the change conflicts with stored data", request.url.path)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        return out_of_range(request.url.path)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return out_of_range(request.url.path)

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        return busy(request.url.path)

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if is_locked(exc):
            return busy(request.url.path)
        return internal(request.url.path, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return internal(request.url.path, exc)


def _fixed(status: int, slug: str, title: str, detail: str, path: str, lang: str, *,
           headers: dict[str, str] | None = None) -> ProblemResponse:
    """A problem with a fixed English ``detail``, in ``lang`` now (else in the request's language when sent)."""
    said, english = localised(detail, lang)
    return ProblemResponse(problem_body(status, slug, title, said, path, **english), status, headers=headers)


def out_of_range(path: str, lang: str = "en") -> JSONResponse:
    """422 for a value the database cannot hold (a safety net: the routes bound their numbers themselves)."""
    return _fixed(422, "invalid-input", "Invalid input", "a number or date in the request is out of range", path, lang)


def busy(path: str, lang: str = "en") -> JSONResponse:
    """503 + Retry-After: the database (pool or write lock) cannot take the request now."""
    return _fixed(503, "busy", "Busy", "the server is busy; retry shortly", path, lang,
                  headers={"Retry-After": str(RETRY_AFTER_S)})


def internal(path: str, exc: BaseException, lang: str = "en") -> JSONResponse:
    """500, logged with its traceback, never shown to the caller."""
    log.error("unhandled error on %s", path, exc_info=exc)
    return _fixed(500, "internal", "Internal error", "an unexpected error occurred; it has been logged", path, lang)


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
