"""Local stand-ins for the WeCom, DingTalk and Feishu robot endpoints and an SMTP server, on 127.0.0.1.

Each robot server checks a request the way its vendor documents it (path, key or token, JSON shape,
signature and timestamp) and answers as the vendor does: ``{"errcode": 0, "errmsg": "ok"}`` (WeCom,
DingTalk) or ``{"code": 0, "msg": "success"}`` (Feishu), and the vendor's error code otherwise.
``script`` forces answers for the first requests: ``"refuse"`` is not possible over HTTP, so the
tests use a closed port for that; here ``(status, body bytes)`` pairs are sent as they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pgserver import free_port

KEY = "wecom-key-5c3e0a2b-1111-2222-3333-444455556666"
TOKEN = "dingtalk-token-9f8e7d6c5b4a39281706"
HOOK_ID = "feishu-hook-0a1b2c3d-4e5f-6789"
DING_SECRET = "SECd1e2a3b4c5d6e7f8091a2b3c4d5e6f7"
FEISHU_SECRET = "feishu-secret-q9w8e7r6t5y4"


def _ding_sign(secret: str, ts: str) -> str:
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _feishu_sign(secret: str, ts: str) -> str:
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def check_wecom(path: str, q: dict[str, list[str]], body: dict[str, Any], secret: str) -> dict[str, Any]:
    """WeCom group robot: /cgi-bin/webhook/send?key=..., msgtype text (<= 2048 B) or markdown (<= 4096 B)."""
    if path != "/cgi-bin/webhook/send" or q.get("key") != [KEY]:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    kind = body.get("msgtype")
    limit = {"text": 2048, "markdown": 4096}.get(kind)
    part = body.get(kind) if limit else None
    if not isinstance(part, dict) or not isinstance(part.get("content"), str) or \
            len(part["content"].encode()) > limit or set(body) != {"msgtype", kind}:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if kind == "text" and not isinstance(part.get("mentioned_mobile_list", []), list):
        return {"errcode": 40058, "errmsg": "invalid mentioned_mobile_list"}
    return {"errcode": 0, "errmsg": "ok"}


def check_dingtalk(path: str, q: dict[str, list[str]], body: dict[str, Any], secret: str) -> dict[str, Any]:
    """DingTalk custom robot: /robot/send?access_token=&timestamp=<ms>&sign=<b64 HMAC>, text or markdown."""
    if path != "/robot/send" or q.get("access_token") != [TOKEN]:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    ts, sign = q.get("timestamp", [""])[0], q.get("sign", [""])[0]
    if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > 3600_000:
        return {"errcode": 310000, "errmsg": "sign not match, timestamp is invalid"}
    if not hmac.compare_digest(sign, _ding_sign(secret, ts)):
        return {"errcode": 310000, "errmsg": "sign not match"}
    kind = body.get("msgtype")
    part = body.get(kind)
    if kind == "text" and not (isinstance(part, dict) and isinstance(part.get("content"), str)):
        return {"errcode": 40035, "errmsg": "missing text.content"}
    if kind == "markdown" and not (isinstance(part, dict) and part.get("title") and isinstance(part.get("text"), str)):
        return {"errcode": 40035, "errmsg": "missing markdown.title or text"}
    if kind not in ("text", "markdown") or not isinstance(body.get("at", {}).get("atMobiles", []), list):
        return {"errcode": 40035, "errmsg": "bad msgtype or at"}
    return {"errcode": 0, "errmsg": "ok"}


def check_feishu(path: str, q: dict[str, list[str]], body: dict[str, Any], secret: str) -> dict[str, Any]:
    """Feishu custom bot: /open-apis/bot/v2/hook/<id>, body timestamp (s) + sign, msg_type text."""
    if path != f"/open-apis/bot/v2/hook/{HOOK_ID}":
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    ts, sign = body.get("timestamp", ""), body.get("sign", "")
    if not isinstance(ts, str) or not ts.isdigit() or abs(int(ts) - time.time()) > 3600 or \
            not hmac.compare_digest(str(sign), _feishu_sign(secret, ts)):
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
    if body.get("msg_type") != "text" or not isinstance(body.get("content", {}).get("text"), str):
        return {"code": 19002, "msg": "params error, msg_type need"}
    return {"code": 0, "msg": "success", "data": {}}


CHECKS = {"wecom": check_wecom, "dingtalk": check_dingtalk, "feishu": check_feishu}
URLS = {"wecom": "/cgi-bin/webhook/send?key=" + KEY, "dingtalk": "/robot/send?access_token=" + TOKEN,
        "feishu": "/open-apis/bot/v2/hook/" + HOOK_ID}
SECRETS = {"wecom": "", "dingtalk": DING_SECRET, "feishu": FEISHU_SECRET}


class RobotServer:
    """A real HTTP server that plays one vendor's robot (``kind``) and records what it was sent."""

    def __init__(self, kind: str, *, secret: str | None = None,
                 script: list[tuple[int, bytes]] | None = None) -> None:
        self.kind, self.secret = kind, SECRETS[kind] if secret is None else secret
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []  # path, query, headers, json, answer
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                q = parse_qs(parts.query)
                with outer.lock:
                    forced = outer.script.pop(0) if outer.script else None
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                if forced:
                    status, data = forced
                else:
                    answer = CHECKS[outer.kind](parts.path, q, body or {}, outer.secret) if isinstance(body, dict) \
                        else {"errcode": 40001, "errmsg": "invalid json"}
                    status, data = 200, json.dumps(answer).encode()
                with outer.lock:
                    outer.requests.append({"path": parts.path, "query": q, "headers": dict(self.headers.items()),
                                           "json": body, "status": status, "answer": data})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + URLS[kind]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        """The requests the vendor's checks accepted."""
        ok = {"wecom": b'"errcode": 0', "dingtalk": b'"errcode": 0', "feishu": b'"code": 0'}[self.kind]
        return [r for r in self.requests if r["status"] == 200 and ok in r["answer"]]

    def __enter__(self) -> RobotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class MailSink:
    """aiosmtpd handler that keeps each message (and checks a login, when one is configured)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), optionally requiring a login over the plain connection."""

    def __init__(self, *, user: str = "", password: str = "") -> None:
        self.sink = MailSink()
        self.port = free_port()

        def auth(server, session, envelope, mechanism, data) -> AuthResult:
            good = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=good, handled=False)

        kw: dict[str, Any] = {"authenticator": auth, "auth_required": True, "auth_require_tls": False} if user else {}
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **kw)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
