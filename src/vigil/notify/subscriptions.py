"""Notification subscriptions: one channel (webhook, robot or e-mail), its events and its region subtree.

:class:`ChannelIn` is the one options model of the CLI, the API and the library call. Secrets (the
webhook or signing secret, the SMTP password) and a robot's URL are sealed with the instance
:class:`~vigil.core.crypto.CredentialBox`; :func:`channel_public` never shows them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, ensure_visible, get_in_scope, region_visible
from vigil.core.context import Vigil
from vigil.core.errors import ConflictError, InputError
from vigil.core.models import utcnow
from vigil.i18n import normalize
from vigil.notify.channels import ROBOT_KINDS, redact_url
from vigil.notify.models import Webhook, WebhookDelivery
from vigil.notify.webhook import add_webhook, deliver_pending

__all__ = ["ChannelIn", "ChannelPublic", "TestResult", "add_channel", "channel_public", "list_channels",
           "channel_id_named", "remove_channel", "send_test"]

Kind = Literal["webhook", "wecom", "dingtalk", "feishu", "email"]
#: What a robot URL must carry: WeCom's key, DingTalk's access token (Feishu's hook id is in the path).
_ROBOT_PARAM = {"wecom": "key=", "dingtalk": "access_token="}


class ChannelIn(BaseModel):
    """A new subscription. ``secret`` is the webhook secret, a robot's signing secret or the SMTP password."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Kind = "webhook"
    url: str = Field("", max_length=500, description="webhook or robot URL (a robot's key is a credential)")
    secret: str = Field("", max_length=200, repr=False)
    events: list[str] = Field(default_factory=list, max_length=50, description="glob patterns, e.g. alarm.*")
    region_code: str = Field("", max_length=12, description="only events of this subtree ('' = every region)")
    format: Literal["text", "markdown"] = "markdown"
    mentions: list[str] = Field(default_factory=list, max_length=20, description="mobiles to @ (WeCom, DingTalk)")
    lang: str = Field("zh-CN", max_length=10, description="language of the messages")
    smtp_host: str = Field("", max_length=200)
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str = Field("", max_length=200)
    starttls: bool = False
    mail_from: str = Field("", max_length=200)
    mail_to: list[str] = Field(default_factory=list, max_length=50)


class ChannelPublic(BaseModel):
    """A subscription as shown back: no secret, a robot URL redacted."""

    id: int
    name: str
    kind: str
    url: str
    events: list[str]
    region_code: str
    active: bool
    has_secret: bool
    options: dict[str, Any]


def _check_url(body: ChannelIn) -> None:
    what = "webhook URL" if body.kind == "webhook" else f"{body.kind} robot URL"
    try:
        parts = urlsplit(body.url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise InputError(f"{what} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what} must be http(s)://host/...")


def _check(body: ChannelIn) -> None:
    if body.kind in ROBOT_KINDS:
        _check_url(body)
        need = _ROBOT_PARAM.get(body.kind)
        if need and need not in body.url:
            raise InputError(f"{body.kind} robot URL must carry its {need.rstrip('=')} parameter")
        if body.kind == "feishu" and not body.url.partition("/hook/")[2].strip("/"):
            raise InputError("feishu bot URL must end in /hook/<id>")
    if body.kind == "email":
        if not body.smtp_host or not body.mail_from or not body.mail_to:
            raise InputError("an e-mail channel needs smtp_host, mail_from and at least one mail_to")
        if any("@" not in a or any(c in a for c in "\r\n,;<> ") for a in (body.mail_from, *body.mail_to)):
            raise InputError("e-mail addresses must look like name@domain")
        if body.secret and not body.smtp_user:
            raise InputError("an SMTP password needs smtp_user")


def _options(body: ChannelIn) -> dict[str, Any]:
    opts: dict[str, Any] = {"lang": normalize(body.lang)}
    if body.kind in ROBOT_KINDS:
        opts |= {"format": body.format, "mentions": list(body.mentions)}
    if body.kind == "email":
        opts |= {"smtp_host": body.smtp_host, "smtp_port": body.smtp_port, "smtp_user": body.smtp_user,
                 "starttls": body.starttls, "mail_from": body.mail_from, "mail_to": list(body.mail_to)}
    return opts


def add_channel(session: Session, vigil: Vigil, body: ChannelIn, *, scope: Scope, actor: str) -> Webhook:
    """Create a subscription inside ``scope`` (an empty region means every region: the instance's scope only)."""
    if body.region_code:
        ensure_visible(scope, body.region_code, f"region {body.region_code}")
    elif not scope.all_regions:
        raise InputError("name a region_code inside your scope")
    if body.kind == "webhook":
        _check_url(body)
        hook = add_webhook(session, vigil, name=body.name, url=body.url, secret=body.secret, events=body.events,
                           region_code=body.region_code, actor=actor)
        hook.options = _options(body)
        return hook
    _check(body)
    if session.scalar(select(Webhook.id).where(Webhook.name == body.name)) is not None:
        raise ConflictError(f"channel {body.name!r} already exists")
    if body.kind == "email":
        shown, target = f"smtp://{body.smtp_host}:{body.smtp_port}", None
    else:
        shown, target = redact_url(body.url), vigil.box.seal(body.url)
    hook = Webhook(name=body.name, kind=body.kind, url=shown, target_enc=target, events=list(body.events),
                   secret_enc=vigil.box.seal(body.secret) if body.secret else None, region_code=body.region_code,
                   options=_options(body))
    session.add(hook)
    session.flush()
    record(session, actor, "notify.create", f"channel:{body.name}", kind=body.kind, url=shown,
           events=hook.events, region=body.region_code)
    return hook


def channel_public(hook: Webhook) -> ChannelPublic:
    """``hook`` as shown back (no secret, no robot key)."""
    return ChannelPublic(id=hook.id, name=hook.name, kind=hook.kind or "webhook", url=hook.url,
                         events=list(hook.events or []), region_code=hook.region_code, active=hook.active,
                         has_secret=hook.secret_enc is not None, options=dict(hook.options or {}))


def list_channels(session: Session, *, scope: Scope) -> list[Webhook]:
    """Every subscription whose region lies in ``scope`` (every-region ones for the instance scope only)."""
    rows = session.scalars(select(Webhook).order_by(Webhook.name))
    return [h for h in rows if region_visible(scope, h.region_code or None) or scope.all_regions]


def channel_id_named(session: Session, name: str, *, scope: Scope) -> int:
    """The id of the subscription called ``name`` (404 if missing or outside ``scope``)."""
    hook_id = session.scalar(select(Webhook.id).where(Webhook.name == name))
    return get_in_scope(session, Webhook, hook_id if hook_id is not None else -1, scope, what=f"channel {name}").id


@dataclass(frozen=True, slots=True)
class TestResult:
    """How a test notification went."""

    state: str
    error: str


async def send_test(vigil: Vigil, channel_id: int, *, scope: Scope) -> TestResult:
    """Queue one ``notify.test`` delivery for the channel and send it now (404 outside ``scope``)."""
    with vigil.db.session() as s:
        hook = get_in_scope(s, Webhook, channel_id, scope, what=f"channel {channel_id}")
        now = utcnow()
        body = json.dumps({"event": "notify.test", "ts": now.isoformat(), "region_code": hook.region_code,
                           "data": {"channel": hook.name}}, ensure_ascii=False, separators=(",", ":"))
        d = WebhookDelivery(webhook_id=hook.id, event="notify.test", body=body, created_at=now, next_attempt_at=now)
        s.add(d)
        s.flush()
        did = d.id
    await deliver_pending(vigil, now=now, only=[did], retries=1)
    with vigil.db.session() as s:
        done = s.get(WebhookDelivery, did)
        assert done is not None  # the delivery added above
        return TestResult("delivered" if done.state == "delivered" else "not delivered", done.last_error)


def remove_channel(session: Session, channel_id: int, *, scope: Scope, actor: str) -> None:
    """Delete a subscription in ``scope`` and its queued deliveries (404 outside it)."""
    hook = get_in_scope(session, Webhook, channel_id, scope, what=f"channel {channel_id}")
    session.delete(hook)
    record(session, actor, "notify.delete", f"channel:{hook.name}", kind=hook.kind)
