"""HTTP hardening: token sources, same-origin checks, body limits, auth first, security headers.

The three middlewares are plain ASGI classes; :func:`vigil.api.app.create_app` installs them.

- :class:`BodyLimit` refuses a body over :data:`MAX_BODY_BYTES` (JSON) or :data:`MAX_UPLOAD_BYTES`
  (the CSV/GeoJSON import and plan upload routes under :data:`UPLOAD_PREFIXES`) with 413, from
  ``Content-Length`` before anything is read, and by counting the bytes of a chunked body.
- :class:`AuthBeforeBody` resolves the token of a state-changing request before its body is read,
  so an unauthenticated upload is answered 401 without being parsed; a request authenticated by the
  console cookie must come from this server's own origin (403 otherwise).
- :class:`SecurityHeaders` adds CSP, ``nosniff``, ``Referrer-Policy`` and frame denial.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from vigil.access.users import lookup_principal
from vigil.api.problems import document_for, problem_body
from vigil.core.db import Database
from vigil.core.errors import AuthError

__all__ = [
    "COOKIE",
    "MAX_BODY_BYTES",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_PREFIXES",
    "AuthBeforeBody",
    "BodyLimit",
    "SecurityHeaders",
    "accepts_query_token",
    "request_token",
    "same_origin",
    "token_matches",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "vigil_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest JSON (or other) request body: 2 MiB."""
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
"""Largest body on the import and plan routes: 256 MiB (a file of up to 200 MiB plus its multipart framing)."""
UPLOAD_PREFIXES = ("/api/v1/import/", "/api/v1/plans")
PUBLIC_WRITES = frozenset({"/api/v1/auth/login"})

_QUERY_TOKEN_ENDPOINTS: set[Callable[..., Any]] = set()


def accepts_query_token(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a media route (HLS, clip download) that also takes ``?token=``: a <video> element sends no header."""
    _QUERY_TOKEN_ENDPOINTS.add(endpoint)
    return endpoint


def request_token(request: Request) -> tuple[str, str]:
    """The caller's token and where it came from: ``header``, ``cookie`` or ``query`` (media routes only)."""
    scheme, _, cred = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and cred.strip():
        return cred.strip(), "header"
    if cookie := request.cookies.get(COOKIE):
        return cookie, "cookie"
    if request.scope.get("endpoint") in _QUERY_TOKEN_ENDPOINTS and (q := request.query_params.get("token")):
        return q, "query"
    return "", ""


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    default = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
    host = parts.netloc.lower()
    return parts.scheme.lower(), host.removesuffix(default)


def same_origin(request: Request) -> bool:
    """True if the request's ``Origin`` (or, without one, its ``Referer``) is this server's own origin."""
    claimed = request.headers.get("origin") or request.headers.get("referer") or ""
    own = _origin_of(str(request.base_url))
    return own is not None and _origin_of(claimed) == own


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the configured one (empty never matches)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def _answer(send: Send, status: int, slug: str, title: str, detail: str, scope: Scope) -> None:
    """A problem+json answer sent before FastAPI sees the request, in the caller's language."""
    accept = dict(scope["headers"]).get(b"accept-language", b"").decode("latin-1")
    body = json.dumps(document_for(problem_body(status, slug, title, detail, scope["path"]), accept),
                      ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over the limit of their route (413), before and while they are read."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES, max_upload: int = MAX_UPLOAD_BYTES,
                 upload_prefixes: tuple[str, ...] = UPLOAD_PREFIXES) -> None:
        self.app, self.max_body, self.max_upload, self.upload_prefixes = app, max_body, max_upload, upload_prefixes

    def limit_for(self, path: str) -> int:
        """The byte limit of a request to ``path``."""
        return self.max_upload if path.startswith(self.upload_prefixes) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _answer(send, 400, "bad-request", "Bad request", "invalid Content-Length", scope)
            if int(declared) > limit:
                return await _answer(send, 413, "too-large", "Request body too large",
                                     f"the body may have at most {limit} bytes", scope)
        seen, refused, started = 0, False, False

        async def counted() -> MutableMapping[str, Any]:
            # Over the limit: answer 413 now and tell the app the client left (it stops reading and
            # its own answer is dropped). Raising here instead would reach FastAPI wrapped in an
            # ExceptionGroup by any BaseHTTPMiddleware and come out as a 400.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _answer(send, 413, "too-large", "Request body too large",
                                      f"the body may have at most {limit} bytes", scope)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        await self.app(scope, counted, guarded)


class AuthBeforeBody:
    """Authenticate state-changing API requests before their body is read."""

    def __init__(self, app: ASGIApp, *, db: Database, public: frozenset[str] = PUBLIC_WRITES) -> None:
        self.app, self.db, self.public = app, db, public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in SAFE_METHODS or not scope["path"].startswith("/api/")
                or scope["path"] in self.public):
            return await self.app(scope, receive, send)
        request = Request(scope)
        token, source = request_token(request)
        if not token:
            return await _answer(send, 401, "unauthenticated", "Unauthenticated", "authentication required", scope)
        try:
            principal = await run_in_threadpool(lookup_principal, self.db, token)
        except AuthError as exc:
            return await _answer(send, 401, "unauthenticated", "Unauthenticated", str(exc), scope)
        if source == "cookie" and not same_origin(request):
            return await _answer(send, 403, "forbidden", "Forbidden",
                                 "a cookie-authenticated change must come from this server's own pages", scope)
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _csp(path: str, img_sources: str) -> str:
    """The Content-Security-Policy of a response to ``path``."""
    frame = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    if path.startswith("/api/"):  # JSON, files, and generated reports (inline styles, embedded charts)
        return f"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; {frame}"
    style = "'self' 'unsafe-inline'" if path in ("/docs", "/redoc") else "'self'"  # both inject <style>
    # the map library fetches a configured tile server's images with fetch(): its origin is also a connect-src
    return (f"default-src 'self'; script-src 'self'; style-src {style}; img-src 'self' data: blob:{img_sources}; "
            f"media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'{img_sources}; object-src 'none'; "
            f"{frame}")


class SecurityHeaders:
    """Add CSP, ``nosniff``, a referrer policy and frame denial to every HTTP response."""

    def __init__(self, app: ASGIApp, *, tile_url: str = "") -> None:
        self.app = app
        tile = _origin_of(tile_url.replace("{s}", "*"))  # "{s}.tile.example" -> any subdomain
        self.img_sources = f" {tile[0]}://{tile[1]}" if tile else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = [(b"content-security-policy", _csp(scope["path"], self.img_sources).encode()),
                 (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                 (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)
