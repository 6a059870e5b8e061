"""Signed webhook notifications through a durable outbox.

Producers call :func:`enqueue` inside their own transaction: one
:class:`WebhookDelivery` row is written per matching webhook, so an event is never
lost when the process stops and is never sent for a transaction that rolled back.
:func:`deliver_pending` (run by the health scheduler, or once by a CLI command)
POSTs the JSON bodies with httpx, retrying with exponential backoff inside the call
and again on later rounds; a delivery that keeps failing ends ``failed``. Failures
are logged and stored on the row; they never raise into the caller.

Each request carries::

    X-Vigil-Event: alarm.raised
    X-Vigil-Delivery: 42
    X-Vigil-Timestamp: 1764282000
    X-Vigil-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" with the webhook secret>

Receivers check the signature with :func:`verify_signature` (or the same three
lines in their language) and reject old timestamps to stop replays.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, region_visible
from vigil.core.context import Vigil
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.models import utcnow
from vigil.notify.channels import ROBOT_KINDS, render, send_robot
from vigil.notify.mail import send_email
from vigil.notify.models import Webhook, WebhookDelivery

__all__ = [
    "DeliveryReport",
    "add_webhook",
    "deliver_pending",
    "enqueue",
    "matches",
    "post_signed",
    "remove_webhook",
    "send_channel",
    "sign",
    "verify_signature",
]

log = logging.getLogger("vigil.notify")

MAX_ROUNDS = 6  # rounds of delivery (each with in-call retries) before a delivery is marked failed


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Vigil-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True if ``header`` is the valid signature of ``body`` at ``timestamp`` (constant-time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), header or "")


def hook_scope(hook: Webhook) -> Scope:
    """The regions a webhook receives events about: its subtree, or every region if it names none."""
    return Scope.of([hook.region_code]) if hook.region_code else Scope.everything()


def matches(hook: Webhook, event: str, region_code: str) -> bool:
    """True if ``hook`` wants ``event`` for an object in ``region_code`` (inside the hook's scope)."""
    if not hook.active:
        return False
    if not region_visible(hook_scope(hook), region_code):
        return False
    patterns = hook.events or ["*"]
    return any(fnmatch.fnmatchcase(event, p) for p in patterns)


def add_webhook(session: Session, vigil: Vigil, *, name: str, url: str, secret: str,
                events: list[str] | None = None, region_code: str = "", actor: str = "system") -> Webhook:
    """Register a webhook endpoint; its secret is sealed with the instance key."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"webhook URL {url!r} must be http(s)://host[:port]/path")
    if len(secret) < 16:
        raise InputError("webhook secret must have at least 16 characters")
    if session.scalar(select(Webhook.id).where(Webhook.name == name)) is not None:
        raise ConflictError(f"webhook {name!r} already exists")
    hook = Webhook(name=name, url=url, secret_enc=vigil.box.seal(secret), events=list(events or []),
                   region_code=region_code)
    session.add(hook)
    session.flush()
    from vigil.access.audit import record

    record(session, actor, "webhook.create", f"webhook:{name}", url=url, events=hook.events,
           region=region_code)
    return hook


def remove_webhook(session: Session, name: str, *, actor: str = "system") -> None:
    """Delete a webhook and its queued deliveries."""
    hook = session.scalar(select(Webhook).where(Webhook.name == name))
    if hook is None:
        raise NotFoundError(f"webhook {name!r} does not exist")
    session.delete(hook)
    from vigil.access.audit import record

    record(session, actor, "webhook.delete", f"webhook:{name}")


def enqueue(session: Session, event: str, payload: dict[str, Any], *, region_code: str = "",
            now: datetime | None = None) -> int:
    """Queue ``event`` for every matching webhook in the caller's transaction; returns how many."""
    now = now or utcnow()
    hooks = [h for h in session.scalars(select(Webhook).where(Webhook.active.is_(True)))
             if matches(h, event, region_code)]
    if not hooks:
        return 0
    body = json.dumps({"event": event, "ts": now.isoformat(), "region_code": region_code, "data": payload},
                      ensure_ascii=False, default=str, separators=(",", ":"))
    for h in hooks:
        session.add(WebhookDelivery(webhook_id=h.id, event=event, body=body, created_at=now,
                                    next_attempt_at=now))
    session.flush()
    return len(hooks)


@dataclass(frozen=True, slots=True)
class PostResult:
    """The outcome of one delivery attempt series."""

    ok: bool
    status: int | None
    error: str
    tries: int
    permanent: bool = False  # retrying will not help: the delivery ends ``failed`` at once


async def post_signed(client: httpx.AsyncClient, url: str, secret: str, event: str, delivery_id: int,
                      body: str, *, retries: int = 3, backoff: float = 0.5, timeout: float = 5.0) -> PostResult:
    """POST ``body`` signed with ``secret``; retry 5xx/429/network errors with exponential backoff."""
    data = body.encode()
    status: int | None = None
    error = ""
    for attempt in range(retries):
        if attempt:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
        ts = str(int(utcnow().timestamp()))
        headers = {"Content-Type": "application/json", "X-Vigil-Event": event,
                   "X-Vigil-Delivery": str(delivery_id), "X-Vigil-Timestamp": ts,
                   "X-Vigil-Signature": sign(secret, ts, data), "User-Agent": "vigil-webhook/1"}
        try:
            r = await client.post(url, content=data, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
            continue
        status = r.status_code
        if 200 <= status < 300:
            return PostResult(True, status, "", attempt + 1)
        error = f"HTTP {status}"
        if status < 500 and status != 429:  # the receiver rejected it: retrying will not help
            return PostResult(False, status, error, attempt + 1, permanent=True)
    return PostResult(False, status, error, retries)


async def send_channel(vigil: Vigil, client: httpx.AsyncClient, row: Any, *, retries: int = 3,
                       backoff: float = 0.5) -> PostResult:
    """Deliver one outbox ``row`` through its robot or e-mail channel (failures are retried on later rounds)."""
    options = dict(row.options or {})
    secret = vigil.box.open(row.secret_enc) if row.secret_enc else ""
    msg = render(row.body, lang=options.get("lang", "zh-CN"), zone=vigil.settings.zone)
    if row.kind in ROBOT_KINDS:
        ok, status, error, tries = await send_robot(client, row.kind, vigil.box.open(row.target_enc), secret, msg,
                                                    options, retries=retries, backoff=backoff)
    elif row.kind == "email":
        ok, status, error, tries = await send_email(msg, options, secret, retries=retries, backoff=backoff)
    else:
        return PostResult(False, None, f"unknown channel kind {row.kind!r}", 0, permanent=True)
    return PostResult(ok, status, error, tries)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :func:`deliver_pending` round did."""

    delivered: int
    retrying: int
    failed: int


async def deliver_pending(vigil: Vigil, *, now: datetime | None = None, limit: int = 500,
                          retries: int = 3, backoff: float = 0.5, round_backoff_s: float = 30.0,
                          concurrency: int = 8, only: Collection[int] | None = None) -> DeliveryReport:
    """Send every due delivery (or the due ones of ``only``); never raises for delivery problems (they are stored)."""
    now = now or utcnow()
    with vigil.db.session() as s:
        due = select(WebhookDelivery.id) if only is None else select(WebhookDelivery.id).where(
            WebhookDelivery.id.in_(list(only)))
        rows = s.execute(
            select(WebhookDelivery.id, WebhookDelivery.event, WebhookDelivery.body, Webhook.url,
                   Webhook.secret_enc, Webhook.id.label("hook_id"), Webhook.kind, Webhook.options,
                   Webhook.target_enc)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now,
                   WebhookDelivery.id.in_(due))
            .order_by(WebhookDelivery.id).limit(limit)
        ).all()
    if not rows:
        return DeliveryReport(0, 0, 0)
    groups: dict[str, list[Any]] = {}
    for r in rows:  # one queue per endpoint, in event order; endpoints are served concurrently
        groups.setdefault(str(r.hook_id), []).append(r)
    sem = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, row: Any) -> tuple[int, PostResult]:
        try:
            if (row.kind or "webhook") == "webhook":
                secret = vigil.box.open(row.secret_enc)
                res = await post_signed(client, row.url, secret, row.event, row.id, row.body,
                                        retries=retries, backoff=backoff)
            else:
                res = await send_channel(vigil, client, row, retries=retries, backoff=backoff)
        except Exception as exc:  # a broken row must not stop the others (the text names no secret)
            res = PostResult(False, None, f"{type(exc).__name__} while sending"[:500], 0)
        return row.id, res

    async def queue(client: httpx.AsyncClient, items: list[Any]) -> list[tuple[int, PostResult]]:
        async with sem:
            return [await one(client, row) for row in items]

    async with httpx.AsyncClient(follow_redirects=False) as client:
        done = await asyncio.gather(*(queue(client, items) for items in groups.values()))
    results = [x for part in done for x in part]
    return _store_results(vigil, results, now, round_backoff_s)


def _store_results(vigil: Vigil, results: list[tuple[int, PostResult]], now: datetime,
                   round_backoff_s: float) -> DeliveryReport:
    delivered = retrying = failed = 0
    with vigil.db.session() as s:
        for did, res in results:
            d = s.get(WebhookDelivery, did)
            if d is None:
                continue
            d.attempts += 1
            d.last_status, d.last_error = res.status, res.error
            if res.ok:
                d.state, d.delivered_at = "delivered", utcnow()
                delivered += 1
                continue
            if res.permanent or d.attempts >= MAX_ROUNDS:
                d.state = "failed"
                failed += 1
                log.warning("webhook delivery %s (%s) failed for good: %s", did, d.event, res.error)
            else:
                d.next_attempt_at = now + timedelta(seconds=round_backoff_s * 2 ** (d.attempts - 1))
                retrying += 1
                log.info("webhook delivery %s (%s) will be retried: %s", did, d.event, res.error)
    return DeliveryReport(delivered, retrying, failed)
