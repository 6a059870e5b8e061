"""Webhooks and MQTT from the JetStream events stream, against a real nats-server, Mosquitto and webhook receiver.

A worker's analytics sink (:class:`StreamSink`, called from a thread as the analytics threads do)
publishes events; the relay (what the elected scheduler runs) sends them. Between two events the
relay is stopped, NATS is killed (SIGKILL) and restarted, and a new relay resumes from the durable
consumer: every notification arrives, and none twice.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from health.healthkit import T0, add_camera, add_regions
from notifykit import Subscriber, hook_receiver, mosquitto
from pgserver import free_port
from vigil.analytics.events import AnalyticsEvent
from vigil.analytics.models import Event
from vigil.analytics.worker import AnalyticsService
from vigil.notify.models import WebhookDelivery
from vigil.notify.relay import Relay
from vigil.notify.webhook import add_webhook, verify_signature
from vigil.worker.bus import EVENTS_STREAM, Note, connect, ensure_stream, publish_note
from vigil.worker.elect import Housekeeping, LeaderFence, scheduler_services
from vigil.worker.events import StreamSink
from vigil.worker.fence import FencedDatabase
from vigil.worker.runner import Worker

SECRET = "relay-secret-0123456789"


def _event(cam: str, **kw) -> AnalyticsEvent:
    base = {"camera": cam, "type": "intrusion", "label": "person", "start": T0, "end": None,
            "box": (0.1, 0.2, 0.3, 0.6), "score": 0.8, "zone": "yard"}
    return AnalyticsEvent(**(base | kw))


async def _until(what, check, limit=30.0):
    for _ in range(int(limit / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


def _hooks(received):
    return [(h["X-Vigil-Event"], json.loads(b)["data"]["id"]) for h, b in received]


def _mqtt_events(sub):
    return [(e["phase"], e["id"]) for e in (json.loads(p) for t, p, _ in sub.messages if t == "vigil/events")]


async def test_worker_events_reach_webhook_and_mqtt_through_the_stream_across_a_nats_restart(
        vigil, nats_server, tmp_path):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
    first, second = _event(cam), _event(cam, label="car", start=T0 + timedelta(seconds=30))
    with mosquitto(tmp_path / "mqtt") as port, hook_receiver() as (url, received):
        with vigil.db.session() as s:
            add_webhook(s, vigil, name="ops", url=url, secret=SECRET, events=["event.*"])
        sub = Subscriber(port)
        worker_nc = await connect(nats_server.url, name="test-worker")
        relay_nc = await connect(nats_server.url, name="test-scheduler")
        try:
            js = worker_nc.jetstream()
            await ensure_stream(js)
            sink = StreamSink(js, asyncio.get_running_loop(), region_code="53010201", within=30.0)
            relay = Relay(vigil, relay_nc.jetstream(), mqtt=("127.0.0.1", port))
            await relay.start()
            await asyncio.to_thread(sink.publish, first)
            await _until("the first event at the receivers",
                         lambda: _hooks(received) and _mqtt_events(sub))
            await relay.stop()  # the scheduler goes away; the worker goes on
            await asyncio.to_thread(sink.publish, first.ended(T0 + timedelta(seconds=9)))
            nats_server.stop(kill=True)
            publishing = asyncio.create_task(asyncio.to_thread(sink.publish, second))  # retried meanwhile
            await asyncio.sleep(1.0)
            nats_server.start()
            await publishing
            relay = Relay(vigil, relay_nc.jetstream(), mqtt=("127.0.0.1", port))  # a new leader
            await relay.start()
            try:
                await _until("every notification at the receivers",
                             lambda: len(received) >= 3 and len(_mqtt_events(sub)) >= 3)
                await asyncio.sleep(1.5)  # anything sent twice would arrive by now
            finally:
                await relay.stop()
        finally:
            sub.stop()
            await worker_nc.close()
            await relay_nc.close()
    want = [("event.intrusion.start", first.uid), ("event.intrusion.end", first.uid),
            ("event.intrusion.start", second.uid)]
    assert _hooks(received) == want, (_hooks(received), _mqtt_events(sub))  # each once, in order
    assert _mqtt_events(sub) == [("start", first.uid), ("end", first.uid), ("start", second.uid)]
    assert [p for t, p, _ in sub.messages if t == f"vigil/{cam}/person"] == [b"ON", b"OFF"]
    for headers, body in received:
        assert verify_signature(SECRET, headers["X-Vigil-Timestamp"], body, headers["X-Vigil-Signature"])
        assert json.loads(body)["data"]["zone"] == "yard"
    with vigil.db.session() as s:
        states = s.scalars(select(WebhookDelivery.state)).all()
    assert states == ["delivered"] * 3


async def test_relay_waits_for_mqtt_and_ignores_duplicates(vigil, nats_server, tmp_path):
    """With the broker down nothing is taken off the stream; a note published twice is sent once."""
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 2)
    ev = _event(cam)
    note = Note(f"{ev.uid}.start", "event.intrusion.start", "53010201", T0, ev.to_json())
    dup = Note(note.msg_id, note.event, note.region_code, note.ts, note.data)
    port = free_port()
    nc = await connect(nats_server.url, name="test")
    relay = Relay(vigil, nc.jetstream(), mqtt=("127.0.0.1", port), mqtt_wait_s=2.0)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        await publish_note(js, note)
        await relay.start()
        await asyncio.sleep(2.0)
        assert relay.stats.relayed == 0
        with vigil.db.session() as s:
            assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        with mosquitto(tmp_path / "mqtt", port=port):
            sub = Subscriber(port)
            try:
                await _until("the note relayed once the broker is up", lambda: _mqtt_events(sub), limit=20)
                await js.publish(dup.subject, dup.encode())  # no Nats-Msg-Id: the stream keeps it
                await _until("the duplicate seen", lambda: relay.stats.duplicates >= 1)
            finally:
                sub.stop()
    finally:
        await relay.stop()
        await nc.close()
    assert _mqtt_events(sub) == [("start", ev.uid)] and relay.stats.relayed == 1


@pytest.mark.parametrize("raw", [b"not json", b'{"id": "x"}', b'{"id": "x", "event": "e", "region_code": "",'
                                 b' "ts": "2026-01-01T00:00:00+00:00", "data": [1]}'])
def test_malformed_notes_are_refused(raw):
    with pytest.raises((ValueError, KeyError, TypeError)):
        Note.decode(raw)


def test_the_leader_runs_the_relay_and_leaves_the_outbox_to_it(sqlite_vigil):
    async def holds():
        return True

    elector = SimpleNamespace(js=object(), holds=holds, fence_holds=lambda session: True)
    services = scheduler_services(sqlite_vigil, mqtt=("127.0.0.1", 1883))(elector)
    relay = next(s for s in services if isinstance(s, Relay))
    assert relay.mqtt == ("127.0.0.1", 1883) and relay.gate is holds
    assert isinstance(services[0], LeaderFence)  # the fence is raised before anything writes
    assert isinstance(relay.vigil.db, FencedDatabase) and relay.vigil.db.gate == elector.fence_holds
    assert [s.deliver_webhooks for s in services if isinstance(s, Housekeeping)] == [False]  # one sender


async def test_a_workers_analytics_store_the_row_and_put_the_notification_on_the_stream(vigil, nats_server):
    """On a worker an event is stored without queuing a webhook; its notification goes to the stream."""
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 3)
        add_webhook(s, vigil, name="all", url="http://127.0.0.1:9/hook", secret=SECRET)  # every event
    w = Worker(vigil, nats_url=nats_server.url, name="w1", ttl=3.0, probe_interval=60.0, analytics_streams=2)
    await w.start()
    try:
        (ana,) = [x for x in w.services if isinstance(x, AnalyticsService)]
        assert ana.keep == w.holds and ana.mqtt == ""  # its shards' cameras; MQTT is the relay's
        for _ in range(120):  # a worker stores events only for the cameras of the shards it holds (fenced)
            if w.holds(cam):
                break
            await asyncio.sleep(0.25)
        ev = _event(cam)
        for sink in w.event_sinks(SimpleNamespace(region_code="53010201", camera_id=cam)):
            await asyncio.to_thread(sink.publish, ev)
        info = await w._js.stream_info(EVENTS_STREAM)
    finally:
        await w.stop()
    assert info.state.messages == 1
    with vigil.db.session() as s:
        assert s.scalars(select(Event.uid)).all() == [ev.uid]
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0  # the relay queues it


async def test_a_relay_that_does_not_lead_leaves_the_notes_to_the_leader(vigil, nats_server):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 4)
        add_webhook(s, vigil, name="ops", url=f"http://127.0.0.1:{free_port()}/hook", secret=SECRET)
    ev = _event(cam)
    leading = False

    async def gate():
        return leading

    nc = await connect(nats_server.url, name="test")
    relay = Relay(vigil, nc.jetstream(), gate=gate)
    try:
        await ensure_stream(nc.jetstream())
        await publish_note(nc.jetstream(), Note(f"{ev.uid}.start", "event.intrusion.start", "53010201", T0,
                                                ev.to_json()))
        await relay.start()
        await asyncio.sleep(2.0)
        assert relay.stats.relayed == 0
        leading = True  # elected: the same note is now taken
        await _until("the note relayed by the leader", lambda: relay.stats.relayed == 1)
    finally:
        await relay.stop()
        await nc.close()
    with vigil.db.session() as s:
        assert s.scalars(select(WebhookDelivery.event)).all() == ["event.intrusion.start"]
