r"""Notification channels beside signed webhooks: WeCom, DingTalk and Feishu group robots, and e-mail.

Each sender takes one queued delivery (the outbox body written by :func:`vigil.notify.webhook.enqueue`),
renders it as a short message and sends it as the vendor documents:

* **WeCom (企业微信) group robot**: ``POST <url with ?key=...>`` with
  ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (or ``text`` with ``mentioned_mobile_list``);
  the answer is ``{"errcode": 0, "errmsg": "ok"}``.
* **DingTalk (钉钉) custom robot**: ``POST <url with ?access_token=...>&timestamp=<ms>&sign=<sign>`` where
  ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp>\n<secret>")))`` (only when the robot
  has a signing secret), with ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}``;
  the answer is ``{"errcode": 0, "errmsg": "ok"}``.
* **Feishu (飞书) custom bot**: ``POST <url .../bot/v2/hook/<id>>`` with ``{"timestamp": "<s>", "sign": <sign>,
  "msg_type": "text", "content": {"text": ...}}`` where ``sign = base64(HMAC-SHA256(key="<timestamp>\n<secret>",
  msg=""))``; the answer is ``{"code": 0, ...}``.
* **E-mail**: one UTF-8 message over SMTP (STARTTLS and login when configured), see :mod:`vigil.notify.mail`.

A robot's URL carries its key or token, so it is a credential: it is sealed at rest, shown redacted
(:func:`redact_url`), and scrubbed from every error text (:func:`scrub`). Failures (refused, HTTP
errors, an answer that is not JSON, a vendor ``errcode`` other than 0) come back as a
:class:`~vigil.notify.webhook.PostResult`; the outbox retries them with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx

from vigil.i18n import translator

__all__ = [
    "ROBOT_KINDS",
    "Message",
    "dingtalk_sign",
    "feishu_sign",
    "redact_http_logs",
    "redact_url",
    "render",
    "scrub",
    "send_robot",
]

ROBOT_KINDS = ("wecom", "dingtalk", "feishu")
#: The query parameter or path segment that makes a robot URL a credential.
_URL_SECRET_PARAMS = {"key", "access_token", "token"}
_MAX_TEXT = 2000  # bytes: under WeCom's 2,048-byte text limit (DingTalk and Feishu allow more)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    r"""DingTalk's ``sign``: base64 HMAC-SHA256 (key ``secret``) of ``"<timestamp>\n<secret>"`` (not yet URL-encoded)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    r"""Feishu's ``sign``: base64 HMAC-SHA256 keyed with ``"<timestamp>\n<secret>"`` over an empty message."""
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def redact_url(url: str) -> str:
    """``url`` with its key or token (query value, or a Feishu hook id) replaced by ``***``."""
    parts = urlsplit(url)
    query = urlencode([(k, "***" if k in _URL_SECRET_PARAMS else v) for k, v in parse_qsl(parts.query)])
    path = parts.path
    if "/hook/" in path:
        path = path.rsplit("/hook/", 1)[0] + "/hook/***"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and each robot key inside a URL) replaced by ``***``."""
    for s in secrets:
        if not s:
            continue
        text = text.replace(s, "***")
        parts = urlsplit(s)
        for k, v in parse_qsl(parts.query):
            if k in _URL_SECRET_PARAMS and v:
                text = text.replace(v, "***")
        if "/hook/" in parts.path:
            hook_id = parts.path.rsplit("/hook/", 1)[1]
            if hook_id:
                text = text.replace(hook_id, "***")
    return text


_LOGGED_SECRET = re.compile(r"((?:[?&](?:key|access_token|token|sign|timestamp))=)[^&\s\"']+|(/hook/)[^?\s\"']+")


class _RedactUrls(logging.Filter):
    """Rewrites httpx's "HTTP Request: POST <url>" lines without the robot keys, tokens and signatures."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = _LOGGED_SECRET.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


_REDACTOR = _RedactUrls()


def redact_http_logs() -> None:
    """Make httpx's request log lines safe to keep: a robot URL's key is a credential (idempotent)."""
    logger = logging.getLogger("httpx")
    if _REDACTOR not in logger.filters:
        logger.addFilter(_REDACTOR)


@dataclass(frozen=True, slots=True)
class Message:
    """A delivery rendered for people: a title and the lines of its body."""

    title: str
    lines: tuple[str, ...]

    def text(self) -> str:
        """Plain text, cut to what every robot accepts."""
        return _cut("\n".join((self.title, *self.lines)))

    def markdown(self) -> str:
        """Markdown (a heading, then one line per fact), cut to what every robot accepts."""
        return _cut("\n".join((f"### {self.title}", *(f"> {ln}" for ln in self.lines))))


def _cut(text: str) -> str:
    data = text.encode()
    if len(data) <= _MAX_TEXT:
        return text
    return data[:_MAX_TEXT - 3].decode(errors="ignore") + "..."


def render(body: str, *, lang: str = "zh-CN", zone: ZoneInfo | None = None) -> Message:
    """The outbox ``body`` (``{"event", "ts", "region_code", "data"}``) as a message in ``lang``."""
    _ = translator(lang).gettext
    doc = json.loads(body)
    event = str(doc.get("event", ""))
    titles = {"alarm.raised": _("Alarm raised"), "alarm.cleared": _("Alarm cleared"),
              "alarm.escalated": _("Alarm escalated"), "workorder.breached": _("Work order past its SLA"),
              "workorder.open": _("Work order opened"), "notify.test": _("Test notification")}
    title = f"[Vigil] {titles.get(event, event)}"
    ts = str(doc.get("ts", ""))
    try:
        when = datetime.fromisoformat(ts)
        ts = (when.astimezone(zone) if zone else when).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        pass
    lines = [f"{_('Event')}: {event}", f"{_('Time')}: {ts}"]
    if doc.get("region_code"):
        lines.append(f"{_('Region')}: {doc['region_code']}")
    data = doc.get("data") or {}
    if isinstance(data, dict):
        lines += [f"{k}: {v}" for k, v in data.items() if not isinstance(v, dict | list)]
    return Message(title, tuple(lines))


# ----------------------------------------------------------------------------- robots
def _payload(kind: str, msg: Message, options: dict[str, Any], secret: str, now_s: float) -> dict[str, Any]:
    fmt = options.get("format", "markdown")
    mentions = [str(m) for m in options.get("mentions", [])]
    if kind == "wecom":
        if fmt == "text":
            return {"msgtype": "text", "text": {"content": msg.text(), "mentioned_mobile_list": mentions}}
        return {"msgtype": "markdown", "markdown": {"content": msg.markdown()}}
    if kind == "dingtalk":
        at = {"atMobiles": mentions, "isAtAll": False}
        if fmt == "text":
            return {"msgtype": "text", "text": {"content": msg.text()}, "at": at}
        return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": msg.markdown()}, "at": at}
    out: dict[str, Any] = {"msg_type": "text", "content": {"text": msg.text()}}  # feishu
    if secret:
        ts = int(now_s)
        out = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **out}
    return out


def _url(kind: str, url: str, secret: str, now_s: float) -> str:
    if kind != "dingtalk" or not secret:
        return url
    ts = int(now_s * 1000)
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + urlencode({"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)})


def _answer_error(kind: str, r: httpx.Response) -> str:
    """'' if the vendor accepted the message, else why not (its errcode and errmsg)."""
    try:
        doc = r.json()
    except ValueError:
        return f"HTTP {r.status_code}: the answer is not JSON"
    if not isinstance(doc, dict):
        return f"HTTP {r.status_code}: the answer is not a JSON object"
    if kind == "feishu":
        code = doc.get("code", doc.get("StatusCode"))
        text = doc.get("msg", doc.get("StatusMessage", ""))
    else:
        code, text = doc.get("errcode"), doc.get("errmsg", "")
    if code == 0 and 200 <= r.status_code < 300:
        return ""
    return f"HTTP {r.status_code}: {kind} errcode {code}: {str(text)[:200]}"


async def send_robot(client: httpx.AsyncClient, kind: str, url: str, secret: str, msg: Message,
                     options: dict[str, Any], *, retries: int = 3, backoff: float = 0.5,
                     timeout: float = 5.0) -> tuple[bool, int | None, str, int]:
    """Send ``msg`` to a WeCom, DingTalk or Feishu robot: (ok, HTTP status, error, tries).

    Network errors, 5xx and 429 are retried here with exponential backoff; a vendor refusal is
    returned at once (the outbox retries it on a later round). Errors never hold the URL's key or
    the secret.
    """
    redact_http_logs()
    status: int | None = None
    error = ""
    for attempt in range(retries):
        if attempt:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
        now_s = datetime.now().timestamp()
        body = json.dumps(_payload(kind, msg, options, secret, now_s), ensure_ascii=False).encode()
        try:
            r = await client.post(_url(kind, url, secret, now_s), content=body, timeout=timeout,
                                  headers={"Content-Type": "application/json; charset=utf-8",
                                           "User-Agent": "vigil-notify/1"})
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
            continue
        status, error = r.status_code, _answer_error(kind, r)
        if not error:
            return True, status, "", attempt + 1
        if status < 500 and status != 429:
            return False, status, scrub(error, (url, secret))[:500], attempt + 1
    return False, status, scrub(error, (url, secret))[:500], retries
