"""Camera state changes reach webhooks on the scale-out path: worker probes -> writer -> alarms -> relay.

In a single process a camera going down or coming back is announced by the alarm webhooks
(``alarm.raised`` / ``alarm.cleared``, queued by the alarm sync); there is no MQTT message for
camera state. On the elected scheduler the same happens from a worker's probe batches: the
writer (a durable JetStream consumer) applies them, the housekeeping raises and clears the
alarm, and the relay, the leader's only webhook sender, delivers both to a real receiver, each
once and signed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from health.healthkit import T0, add_camera, add_regions
from notifykit import hook_receiver
from vigil.notify.relay import Relay
from vigil.notify.webhook import add_webhook, verify_signature
from vigil.worker.assign import shard_of
from vigil.worker.bus import SUBJECT, ProbeBatch, connect, ensure_stream
from vigil.worker.elect import Housekeeping
from vigil.worker.writer import Writer

SECRET = "relay-secret-0123456789"


async def _until(what, check, limit=40.0):
    for _ in range(int(limit / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


def _alarms(received):
    return [(h["X-Vigil-Event"], json.loads(b)["data"]["camera_id"], json.loads(b)["data"]["kind"])
            for h, b in received]


async def test_a_camera_going_down_and_back_is_webhooked_by_the_relay(vigil, nats_server):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 7)
    shard = shard_of(cam)
    seq = iter(range(1, 100))

    async def probe(js, ok: bool, dt: int) -> None:
        b = ProbeBatch(f"w1.1.{shard}.10.{next(seq)}", shard, 10, "w1", T0 + timedelta(seconds=dt),
                       ((cam, ok, "" if ok else "refused", 3.0),))
        await js.publish(f"{SUBJECT}.{shard}", b.encode(), headers={"Nats-Msg-Id": b.msg_id})

    with hook_receiver() as (url, received):
        with vigil.db.session() as s:
            add_webhook(s, vigil, name="ops", url=url, secret=SECRET, events=["alarm.*"])
        nc = await connect(nats_server.url, name="test")
        js = nc.jetstream()
        await ensure_stream(js)
        services = [Writer(vigil, js), Housekeeping(vigil, interval=0.5, deliver_webhooks=False), Relay(vigil, js)]
        try:
            for svc in services:
                await svc.start()
            for ok, dt in ((True, 0), (False, 10), (False, 20)):  # two failures: down
                await probe(js, ok, dt)
            await _until("alarm.raised at the receiver", lambda: _alarms(received))
            for dt in (30, 40, 50):  # up_after successes: online again
                await probe(js, True, dt)
            await _until("alarm.cleared at the receiver", lambda: len(received) >= 2)
            await asyncio.sleep(1.5)  # anything sent twice would arrive by now
        finally:
            for svc in reversed(services):
                await svc.stop()
            await nc.close()
    assert _alarms(received) == [("alarm.raised", cam, "offline"), ("alarm.cleared", cam, "offline")]
    for headers, body in received:
        assert verify_signature(SECRET, headers["X-Vigil-Timestamp"], body, headers["X-Vigil-Signature"])
