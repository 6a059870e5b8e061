"""Webhook delivery to a real local HTTP server: signatures, retries with backoff, failures never raise."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta

import pytest
from healthkit import T0, HookServer
from sqlalchemy import select

from vigil.core.errors import ConflictError, InputError
from vigil.notify.models import WebhookDelivery
from vigil.notify.webhook import add_webhook, deliver_pending, enqueue, sign, verify_signature

SECRET = "another-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def test_signature_roundtrip():
    sig = sign(SECRET, "1700000000", b'{"a":1}')
    assert sig.startswith("sha256=") and len(sig) == 71
    assert verify_signature(SECRET, "1700000000", b'{"a":1}', sig)
    assert not verify_signature(SECRET, "1700000001", b'{"a":1}', sig)
    assert not verify_signature("other-secret-xxxxxxxx", "1700000000", b'{"a":1}', sig)


def test_retries_with_backoff_then_delivers(tree):
    with HookServer(fail_first=2, fail_status=503) as hook:
        with tree.db.session() as s:
            add_webhook(s, tree, name="h", url=hook.url, secret=SECRET, events=["alarm.*"])
            assert enqueue(s, "alarm.raised", {"id": 1}, region_code="53010201", now=T0) == 1
            assert enqueue(s, "event.motion", {"id": 2}, region_code="53010201", now=T0) == 0  # filtered
        rep = asyncio.run(deliver_pending(tree, now=T0, backoff=0.01))
    assert (rep.delivered, rep.retrying, rep.failed) == (1, 0, 0)
    assert len(hook.requests) == 3                                   # two 503s, then 204
    headers, body = hook.requests[-1]
    assert headers["X-Vigil-Event"] == "alarm.raised"
    assert verify_signature(SECRET, headers["X-Vigil-Timestamp"], body, headers["X-Vigil-Signature"])
    assert json.loads(body)["data"] == {"id": 1}


def test_rejected_delivery_fails_for_good(tree):
    with HookServer(fail_first=10, fail_status=400) as hook:
        with tree.db.session() as s:
            add_webhook(s, tree, name="h", url=hook.url, secret=SECRET)
            enqueue(s, "workorder.open", {"id": 5}, now=T0)
        rep = asyncio.run(deliver_pending(tree, now=T0, backoff=0.01))
    assert (rep.delivered, rep.failed, len(hook.requests)) == (0, 1, 1)
    with tree.db.session() as s:
        d = s.scalar(select(WebhookDelivery))
        assert d.state == "failed" and d.last_status == 400


def test_unreachable_endpoint_is_retried_later_and_never_raises(tree, caplog):
    url = f"http://127.0.0.1:{_free_port()}/hook"
    with tree.db.session() as s:
        add_webhook(s, tree, name="down", url=url, secret=SECRET, region_code="530102")
        enqueue(s, "alarm.raised", {"id": 1}, region_code="53010201", now=T0)
        assert enqueue(s, "alarm.raised", {"id": 2}, region_code="5302", now=T0) == 0   # out of scope
    rep = asyncio.run(deliver_pending(tree, now=T0, retries=2, backoff=0.01, round_backoff_s=60))
    assert (rep.delivered, rep.retrying, rep.failed) == (0, 1, 0)
    with tree.db.session() as s:
        d = s.scalar(select(WebhookDelivery))
        assert d.attempts == 1 and d.next_attempt_at == T0 + timedelta(seconds=60) and d.last_error
    # not due yet: nothing is sent; later rounds back off until the delivery is given up
    assert asyncio.run(deliver_pending(tree, now=T0 + timedelta(seconds=30))).retrying == 0
    t = T0
    for _ in range(10):
        t += timedelta(days=1)
        asyncio.run(deliver_pending(tree, now=t, retries=1, backoff=0.01))
    with tree.db.session() as s:
        assert s.scalar(select(WebhookDelivery)).state == "failed"
    assert any("failed for good" in r.message for r in caplog.records)


_BAD = [
    ({"url": "ftp://x/y"}, InputError, "http"),
    ({"secret": "short"}, InputError, "16 characters"),
    ({"name": "dup"}, ConflictError, "already exists"),
]


def test_add_webhook_rejects(tree):
    with tree.db.session() as s:
        add_webhook(s, tree, name="dup", url="http://127.0.0.1:9/x", secret=SECRET)
        for kwargs, exc, msg in _BAD:
            args = {"name": "new", "url": "http://127.0.0.1:9/x", "secret": SECRET} | kwargs
            with pytest.raises(exc, match=msg):
                add_webhook(s, tree, **args)
