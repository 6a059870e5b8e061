"""RFC 9457 problem+json responses for every error."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.access.login import TooManyAttempts
from vigil.core.errors import (
    AccessDenied,
    AuthError,
    ConflictError,
    ImportRejected,
    InputError,
    NotFoundError,
    NotReadyError,
    VigilError,
)

_STATUS: list[tuple[type[Exception], int, str]] = [
    (TooManyAttempts, 429, "too-many-requests"),
    (AuthError, 401, "unauthenticated"),
    (AccessDenied, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(VigilError)
    async def _vigil(request: Request, exc: VigilError) -> JSONResponse:
        for cls, status, slug in _STATUS:
            if isinstance(exc, cls):
                extra = {}
                if isinstance(exc, ImportRejected):
                    extra["errors"] = [{"line": e.line, "field": e.field, "reason": e.reason} for e in exc.errors]
                headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
                return problem(status, slug, slug.replace("-", " ").capitalize(), str(exc), request.url.path,
                               headers=headers, **extra)
        return problem(400, "error", "Error", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(422, "invalid-input", "Invalid input", "the request is not valid", request.url.path,
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http", str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("vigil.api").exception("unhandled error on %s", request.url.path)
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged",
                       request.url.path)
