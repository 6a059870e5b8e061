"""WeCom, DingTalk and Feishu robots and SMTP e-mail, each against a real local server that checks the vendor's format."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from robotkit import DING_SECRET, FEISHU_SECRET, HOOK_ID, KEY, TOKEN, RobotServer, SmtpServer
from sqlalchemy import select

from pgserver import free_port
from vigil.access.guard import Scope
from vigil.core.errors import InputError, NotFoundError
from vigil.notify.models import Webhook, WebhookDelivery
from vigil.notify.subscriptions import ChannelIn, add_channel, channel_public, list_channels
from vigil.notify.webhook import MAX_ROUNDS, deliver_pending, enqueue

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
ALARM = {"id": 7, "camera_id": "53010201001320000007", "camera": "金色家园 东门", "kind": "offline"}
ALL = Scope.everything()


def _add(v, **kw) -> Webhook:
    with v.db.session() as s:
        hook = add_channel(s, v, ChannelIn(**kw), scope=ALL, actor="test")
        return hook.id


def _queue(v, event: str = "alarm.raised", region: str = "53010201") -> None:
    with v.db.session() as s:
        enqueue(s, event, ALARM, region_code=region, now=T0)


def _deliveries(v) -> list[WebhookDelivery]:
    with v.db.session() as s:
        rows = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        s.expunge_all()
        return rows


def test_wecom_markdown_and_text(sqlite_vigil):
    v = sqlite_vigil
    with RobotServer("wecom") as srv:
        _add(v, name="wecom-md", kind="wecom", url=srv.url)
        _add(v, name="wecom-text", kind="wecom", url=srv.url, format="text", mentions=["13800000000"], lang="en")
        _queue(v)
        rep = asyncio.run(deliver_pending(v, now=T0))
    assert (rep.delivered, rep.retrying, rep.failed) == (2, 0, 0)
    assert len(srv.accepted()) == 2 == len(srv.requests)
    by_type = {r["json"]["msgtype"]: r["json"] for r in srv.requests}
    md = by_type["markdown"]["markdown"]["content"]
    assert md.startswith("### [Vigil] 告警产生") and "> 区域: 53010201" in md and "金色家园 东门" in md
    text = by_type["text"]["text"]
    assert text["content"].startswith("[Vigil] Alarm raised\nEvent: alarm.raised")
    assert text["mentioned_mobile_list"] == ["13800000000"]
    assert srv.requests[0]["headers"]["Content-Type"].startswith("application/json")


def test_dingtalk_signed_markdown(sqlite_vigil):
    v = sqlite_vigil
    with RobotServer("dingtalk") as srv:
        _add(v, name="ding", kind="dingtalk", url=srv.url, secret=DING_SECRET, mentions=["13900000000"])
        _queue(v)
        rep = asyncio.run(deliver_pending(v, now=T0))
    assert rep.delivered == 1 and len(srv.accepted()) == 1
    req = srv.requests[0]
    assert set(req["query"]) == {"access_token", "timestamp", "sign"}      # the server checked the HMAC
    body = req["json"]
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "[Vigil] 告警产生"
    assert body["at"] == {"atMobiles": ["13900000000"], "isAtAll": False}


def test_feishu_signed_text(sqlite_vigil):
    v = sqlite_vigil
    with RobotServer("feishu") as srv:
        _add(v, name="feishu", kind="feishu", url=srv.url, secret=FEISHU_SECRET)
        _queue(v, event="workorder.breached")
        rep = asyncio.run(deliver_pending(v, now=T0))
    assert rep.delivered == 1 and len(srv.accepted()) == 1
    body = srv.requests[0]["json"]
    assert set(body) == {"timestamp", "sign", "msg_type", "content"}
    assert body["content"]["text"].startswith("[Vigil] 工单超出时限")


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_wrong_signing_secret_is_a_vendor_error_retried_and_never_logged(sqlite_vigil, kind, caplog):
    v = sqlite_vigil
    wrong = "SEC-not-the-robots-secret-000111"
    caplog.set_level(logging.DEBUG)
    with RobotServer(kind) as srv:
        _add(v, name="bad", kind=kind, url=srv.url, secret=wrong)
        _queue(v)
        rep = asyncio.run(deliver_pending(v, now=T0, round_backoff_s=60))
    assert (rep.delivered, rep.retrying, rep.failed) == (0, 1, 0)
    assert len(srv.requests) == 1 and not srv.accepted()                  # a vendor refusal: no in-call retry
    d = _deliveries(v)[0]
    code = "310000" if kind == "dingtalk" else "19021"
    assert f"errcode {code}" in d.last_error and d.next_attempt_at == T0 + timedelta(seconds=60)
    for secret in (wrong, TOKEN, HOOK_ID):
        assert secret not in d.last_error and secret not in caplog.text


def test_channel_errors_are_recorded_retried_with_backoff_then_failed(sqlite_vigil, caplog):
    """Refused, 4xx, an answer that is not JSON, errcode != 0: recorded, retried later, never raised."""
    v = sqlite_vigil
    caplog.set_level(logging.DEBUG)
    refused = f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key={KEY}"
    with RobotServer("wecom", script=[(400, b'{"errcode": 40008, "errmsg": "bad"}'), (200, b"<html>busy</html>"),
                                      (200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')]) as srv:
        _add(v, name="a-refused", kind="wecom", url=refused)
        _add(v, name="b-scripted", kind="wecom", url=srv.url)
        _queue(v)
        _queue(v, event="alarm.cleared")
        _queue(v, event="alarm.escalated")
        rep = asyncio.run(deliver_pending(v, now=T0, retries=2, backoff=0.01, round_backoff_s=30))
        assert (rep.delivered, rep.retrying, rep.failed) == (0, 6, 0)
        errors = [d.last_error for d in _deliveries(v)]
        assert all(e.startswith("ConnectError") for e in errors[0::2])  # the refused channel
        assert sorted(errors[1::2]) == sorted(["HTTP 400: wecom errcode 40008: bad",
                                               "HTTP 200: the answer is not JSON",
                                               "HTTP 200: wecom errcode 45009: api freq out of limit"])
        assert all(d.next_attempt_at == T0 + timedelta(seconds=30) for d in _deliveries(v))
        # the script is spent: the next round delivers the scripted channel's three; the refused one backs off
        rep = asyncio.run(deliver_pending(v, now=T0 + timedelta(seconds=30), retries=1, round_backoff_s=30))
        assert (rep.delivered, rep.retrying) == (3, 3)
        t = T0
        for _ in range(MAX_ROUNDS):
            t += timedelta(days=1)
            asyncio.run(deliver_pending(v, now=t, retries=1))
    states = [d.state for d in _deliveries(v)]
    assert states.count("delivered") == 3 and states.count("failed") == 3
    assert KEY not in caplog.text and all(KEY not in d.last_error for d in _deliveries(v))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_over_smtp_with_login(sqlite_vigil):
    v = sqlite_vigil
    with SmtpServer(user="vigil", password="smtp-pass-123456") as smtp:
        _add(v, name="mail", kind="email", smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_user="vigil",
             secret="smtp-pass-123456", mail_from="vigil@city.example", mail_to=["duty@city.example", "mt@x.example"])
        _queue(v)
        rep = asyncio.run(deliver_pending(v, now=T0))
    assert rep.delivered == 1 and len(smtp.sink.messages) == 1
    sender, rcpts, raw = smtp.sink.messages[0]
    assert sender == "vigil@city.example" and rcpts == ["duty@city.example", "mt@x.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[Vigil] 告警产生"
    assert msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert "区域: 53010201" in body and "金色家园 东门" in body
    with v.db.session() as s:
        hook = s.scalar(select(Webhook).where(Webhook.name == "mail"))
        assert b"smtp-pass-123456" not in hook.secret_enc and "smtp-pass" not in json.dumps(hook.options)
        assert v.box.open(hook.secret_enc) == "smtp-pass-123456"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_bad_login_is_recorded_and_retried(sqlite_vigil, caplog):
    v = sqlite_vigil
    caplog.set_level(logging.DEBUG)
    with SmtpServer(user="vigil", password="the-right-one") as smtp:
        _add(v, name="mail", kind="email", smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_user="vigil",
             secret="a-wrong-password", mail_from="vigil@city.example", mail_to=["duty@city.example"])
        _queue(v)
        rep = asyncio.run(deliver_pending(v, now=T0, backoff=0.01))
    assert (rep.delivered, rep.retrying) == (0, 1) and not smtp.sink.messages
    d = _deliveries(v)[0]
    assert d.last_error.startswith("SMTP 535") and "a-wrong-password" not in d.last_error + caplog.text


def test_secrets_sealed_and_never_shown(vigil):
    with vigil.db.session() as s:
        hook = add_channel(s, vigil, ChannelIn(name="r", kind="dingtalk", url=f"https://oapi.dingtalk.com/robot/send?"
                                               f"access_token={TOKEN}", secret=DING_SECRET, region_code="530102"),
                           scope=ALL, actor="t")
        shown = channel_public(hook).model_dump_json()
        assert TOKEN not in shown and DING_SECRET not in shown and "access_token=%2A%2A%2A" in shown
        assert TOKEN.encode() not in hook.target_enc and vigil.box.open(hook.target_enc).endswith(TOKEN)
        assert [h.name for h in list_channels(s, scope=Scope.of(["530102"]))] == ["r"]
        assert list_channels(s, scope=Scope.of(["530103"])) == []


@pytest.mark.parametrize(("kw", "msg"), [
    ({"kind": "wecom", "url": "ftp://x/cgi-bin/webhook/send?key=k"}, r"must be http\(s\)"),
    ({"kind": "wecom", "url": "http://[::1/cgi-bin/webhook/send?key=k"}, "not a valid URL"),
    ({"kind": "dingtalk", "url": "http://h:x/robot/send?access_token=t"}, "not a valid URL"),
    ({"kind": "webhook", "url": "http://[/hook", "secret": "s" * 16}, "webhook URL is not a valid URL"),
    ({"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "its key parameter"),
    ({"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send"}, "its access_token parameter"),
    ({"kind": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/"}, "/hook/<id>"),
    ({"kind": "email", "smtp_host": "127.0.0.1", "mail_from": "a@b"}, "at least one mail_to"),
    ({"kind": "email", "smtp_host": "h", "mail_from": "nobody", "mail_to": ["a@b"]}, "name@domain"),
    ({"kind": "email", "smtp_host": "h", "mail_from": "a@b", "mail_to": ["c@d\nBcc:e@f"]}, "name@domain"),
    ({"kind": "email", "smtp_host": "h", "mail_from": "a@b", "mail_to": ["c@d"], "secret": "pw"}, "needs smtp_user"),
    ({"kind": "wecom", "url": "https://h/cgi-bin/webhook/send?key=k", "lang": "fr"}, "unknown language"),
])
def test_bad_channel_is_a_clear_error(sqlite_vigil, kw, msg):
    with sqlite_vigil.db.session() as s, pytest.raises(InputError, match=msg):
        add_channel(s, sqlite_vigil, ChannelIn(name="x", **kw), scope=ALL, actor="t")


def test_channel_region_must_be_in_scope(sqlite_vigil):
    body = ChannelIn(name="x", kind="wecom", url="https://h/cgi-bin/webhook/send?key=k", region_code="530103")
    with sqlite_vigil.db.session() as s, pytest.raises(NotFoundError):
        add_channel(s, sqlite_vigil, body, scope=Scope.of(["530102"]), actor="t")
    with sqlite_vigil.db.session() as s, pytest.raises(InputError, match="inside your scope"):
        add_channel(s, sqlite_vigil, body.model_copy(update={"region_code": ""}), scope=Scope.of(["530102"]),
                    actor="t")
