"""HTTP hardening, attacked the way a client would: login guessing, tokens in URLs, unauthenticated
uploads, oversized bodies, cross-site cookie requests, /metrics, and the pages' headers."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.formparsers import MultiPartParser

from factories import TOWN1, build_world
from test_access_throttle import Clock
from vigil.access.throttle import LoginThrottle
from vigil.api.app import create_app
from vigil.api.security import MAX_BODY_BYTES, BodyLimit, SecurityHeaders
from vigil.core.models import AuditEntry

IMPORT = "/api/v1/import/cameras"


@pytest.fixture
def api(sqlite_vigil):
    w = build_world(sqlite_vigil)
    app = create_app(sqlite_vigil)
    return TestClient(app, raise_server_exceptions=False), w, sqlite_vigil


@pytest.fixture
def api_any_db(vigil):
    """Like ``api``, on SQLite and on PostgreSQL (the failure audit writes in its own transaction)."""
    w = build_world(vigil)
    return TestClient(create_app(vigil), raise_server_exceptions=False), w, vigil


def h(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def _login(c: TestClient, user: str, password: str) -> httpx.Response:
    return c.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_login_guessing_is_throttled_and_every_failure_audited(api_any_db):
    c, w, v = api_any_db
    clock = Clock()
    c.app.state.login_throttle = LoginThrottle(clock=clock)
    codes = [_login(c, "admin", f"guess-{i}-secret").status_code for i in range(5)]
    assert codes == [401] * 5
    r = _login(c, "admin", w.admin_password)  # even the right password waits out the lockout
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) >= 1 and r.json()["status"] == 429
    assert "token" not in r.json()
    clock.t += int(r.headers["Retry-After"])
    assert _login(c, "admin", w.admin_password).status_code == 200
    with v.db.session() as s:
        failed = s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")).all()
    assert len(failed) == 6
    assert {e.target for e in failed} == {"user:admin"} and failed[0].region_code == "5301"
    assert {e.detail["reason"] for e in failed} == {"wrong user name or password", "locked out"}
    assert all(e.detail["address"] == "testclient" for e in failed)
    dump = repr([(e.actor, e.target, e.detail) for e in failed])
    assert "guess-" not in dump and w.admin_password not in dump


def test_one_address_spraying_many_names_is_throttled(api):
    c, w, _ = api
    for i in range(20):
        assert _login(c, f"nobody-{i}", "wrong-password-x").status_code == 401
    assert _login(c, "admin", w.admin_password).status_code == 429


def test_query_string_tokens_only_on_media_routes(api):
    c, w, _ = api
    tok = w.tokens["root"]
    assert c.get("/api/v1/cameras", headers=h(tok)).status_code == 200
    assert c.get("/api/v1/cameras", params={"token": tok}).status_code == 401
    assert c.get("/api/v1/auth/me", params={"token": tok}).status_code == 401
    # a <video> element cannot send a header: the playback clip takes ?token= (404: no such request)
    assert c.get("/api/v1/video/retrievals/999/playback.mp4").status_code == 401
    assert c.get("/api/v1/video/retrievals/999/playback.mp4", params={"token": tok}).status_code == 404
    cam = w.cameras[TOWN1]
    assert c.get(f"/api/v1/video/live/{cam}/seg1.ts").status_code == 401
    assert c.get(f"/api/v1/video/live/{cam}/seg1.ts", params={"token": tok}).status_code == 404


class CountingBody:
    """A request body of ``total`` bytes that records how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\nid,name\r\n'
        self.sent += len(head)
        yield head
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"x" * self.chunk


def _asgi(app, coro):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as cl:
            return await coro(cl)
    return asyncio.run(run())


def test_unauthenticated_upload_is_refused_before_its_body_is_read(api, monkeypatch):
    c, w, _ = api
    parsed: list[int] = []
    real_parse = MultiPartParser.parse

    async def spy(self):  # type: ignore[no-untyped-def]
        parsed.append(1)
        return await real_parse(self)

    monkeypatch.setattr(MultiPartParser, "parse", spy)
    body = CountingBody(50 * 2**20)
    ctype = {"Content-Type": "multipart/form-data; boundary=xx"}
    r = _asgi(c.app, lambda cl: cl.post(IMPORT, content=body, headers=ctype))  # chunked, no token
    assert r.status_code == 401 and r.json()["status"] == 401
    assert body.sent < 256 * 1024, body.sent  # at most the first chunks were pulled, not 50 MiB
    bad = CountingBody(50 * 2**20)
    r = _asgi(c.app, lambda cl: cl.post(IMPORT, content=bad, headers={**ctype, **h("vgl_not-a-token")}))
    assert r.status_code == 401 and bad.sent < 256 * 1024
    assert parsed == []  # the multipart parser never ran (nothing spooled to disk)
    small = c.post(IMPORT, headers=h(w.tokens["root"]), files={"file": ("c.csv", b"id,name\n", "text/csv")})
    assert parsed == [1] and small.status_code != 401  # the spy does see a parse when one happens


def test_oversized_bodies_get_413_declared_or_streamed(api):
    c, w, _ = api
    tok = h(w.tokens["root"])
    big = {**tok, "Content-Length": str(MAX_BODY_BYTES + 1), "Content-Type": "application/json"}
    body = CountingBody(MAX_BODY_BYTES + 1)
    r = _asgi(c.app, lambda cl: cl.post("/api/v1/cameras", content=body, headers=big))
    assert r.status_code == 413 and body.sent < 256 * 1024  # refused from Content-Length alone
    streamed = CountingBody(8 * MAX_BODY_BYTES)
    r = _asgi(c.app, lambda cl: cl.post("/api/v1/cameras", content=streamed,
                                        headers={**tok, "Content-Type": "application/json"}))
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert streamed.sent <= MAX_BODY_BYTES + 2 * streamed.chunk  # counted, and stopped at the limit
    # the upload routes have the larger limit: a 3 MiB CSV is parsed (and rejected for its rows)
    csv = b"id,name,region,lon,lat\n" + b",Cam,53018101201,102.7,25.0\n" * (3 * 2**20 // 28)
    r = c.post(IMPORT, headers=tok, files={"file": ("c.csv", csv, "text/csv")}, params={"dry_run": True})
    assert r.status_code != 413, r.text


def test_body_limit_counts_chunks_without_content_length():
    seen: list[int] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        n = 0
        while True:
            m = await receive()
            n += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        seen.append(n)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = BodyLimit(app, max_body=1000, max_upload=5000, upload_prefixes=("/up",))

    async def post(path: str, n: int) -> int:
        async def gen() -> AsyncIterator[bytes]:
            for _ in range(n // 100):
                yield b"x" * 100
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t") as cl:
            return (await cl.post(path, content=gen())).status_code

    assert asyncio.run(post("/x", 1000)) == 200
    assert asyncio.run(post("/x", 1100)) == 413
    assert asyncio.run(post("/up", 4000)) == 200
    assert seen == [1000, 1000, 4000]  # the app never saw the chunk over the limit (and its 200 was dropped)


def test_cookie_state_changes_need_our_own_origin(api):
    c, w, _ = api
    assert _login(c, "admin", w.admin_password).status_code == 200  # the client now holds the cookie
    assert c.get("/api/v1/auth/me").status_code == 200  # reads need no Origin
    mask = [{"name": "door", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]}]
    url = f"/api/v1/video/cameras/{w.cameras[TOWN1]}/masks"
    for hdrs in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}, {},
                 {"Origin": "http://testserver:8080"}, {"Origin": "null"}):
        r = c.put(url, json=mask, headers=hdrs)
        assert r.status_code == 403, (hdrs, r.text)
    assert c.put(url, json=mask, headers={"Origin": "http://testserver"}).status_code == 200
    assert c.put(url, json=mask, headers={"Referer": "http://testserver/ui/"}).status_code == 200
    # a bearer header is not sent by a browser on its own, so it needs no Origin
    assert c.put(url, json=mask, headers=h(w.tokens["root"])).status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"Origin": "http://evil.example"}).status_code == 403
    assert c.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"}).status_code == 200


def test_metrics_need_admin_or_the_metrics_token(api):
    c, w, v = api
    v.settings = replace(v.settings, metrics_token="m-" + "7" * 40)
    app = TestClient(create_app(v), raise_server_exceptions=False)
    assert app.get("/metrics").status_code == 401
    assert app.get("/metrics", headers=h(w.tokens[f"duty_officer-{TOWN1}"])).status_code == 403
    assert app.get("/metrics", headers=h("m-" + "7" * 39 + "8")).status_code == 401
    ok = app.get("/metrics", headers=h("m-" + "7" * 40))
    assert ok.status_code == 200 and "vigil_http_requests_total" in ok.text
    assert app.get("/metrics", headers=h(w.tokens["root"])).status_code == 200
    assert app.get("/metrics", params={"token": "m-" + "7" * 40}).status_code == 401


def test_security_headers_on_every_answer(api):
    c, w, _ = api
    for path, status in (("/ui/", 200), ("/ui/login.html", 200), ("/api/v1/cameras", 401), ("/docs", 200),
                         ("/api/v1/nope", 404), ("/openapi.json", 200)):
        r = c.get(path)
        assert r.status_code == status, path
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin" and r.headers["X-Frame-Options"] == "DENY"
    ui = c.get("/ui/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in ui and "style-src 'self';" in ui
    assert c.get("/api/v1/cameras").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_console_pages_have_no_inline_scripts(api):
    c, _, _ = api
    for page in ("index.html", "login.html", "live.html", "playback.html"):
        html = c.get(f"/ui/{page}").text
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), page
        assert not re.search(r"\son[a-z]+\s*=", html), page  # no inline event handlers
        assert " style=" not in html and "<style" not in html, page


def test_api_docs_are_served_from_vendored_files(api):
    c, _, _ = api
    for path in ("/docs", "/redoc"):
        html = c.get(path).text
        assert not re.search(r"https?://", html), html
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs
        for ref in refs:
            assert ref.startswith("/") and c.get(ref).status_code == 200, ref
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html)  # no inline script: the CSP holds
    assert "SwaggerUIBundle" in c.get("/ui/vendor/swagger-ui/swagger-ui-bundle.js").text[:200000]


@contextmanager
def _uvicorn(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_real_server_answers_401_before_a_huge_upload_is_sent(api):
    c, _, _ = api
    with _uvicorn(c.app) as addr, socket.create_connection(tuple(addr.split(":"))) as s:  # type: ignore[arg-type]
        s.settimeout(20)  # a server that waited for the body would never answer: the test fails, not hangs
        s.sendall((f"POST {IMPORT} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                   f"Content-Length: {200 * 2**20}\r\n\r\n").encode() + b"--xx\r\n" + b"x" * 65536)
        answer = s.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    assert "application/problem+json" in answer and "nosniff" in answer


@pytest.mark.parametrize(("tile_url", "source"), [
    ("", None),
    ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
    ("http://{s}.tile.example:8080/{z}/{x}/{y}.png", "http://*.tile.example:8080"),
])
def test_console_images_may_come_from_the_configured_tile_server_only(tile_url, source):
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    r = _asgi(SecurityHeaders(app, tile_url=tile_url), lambda cl: cl.get("/ui/"))
    img = next(d for d in r.headers["content-security-policy"].split("; ") if d.startswith("img-src"))
    assert img.split()[1:] == ["'self'", "data:", "blob:", *([source] if source else [])]


def test_the_openapi_document_is_revalidated_by_its_etag(api):
    """Every console page fetches /openapi.json at start: while it is unchanged the answer is a bodiless 304."""
    c, _, _ = api
    first = c.get("/openapi.json")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    assert first.json()["paths"]["/api/v1/cameras"]  # the document itself, as FastAPI builds it
    tag = first.headers["ETag"]
    again = c.get("/openapi.json", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    assert c.get("/openapi.json", headers={"If-None-Match": '"stale"'}).status_code == 200
