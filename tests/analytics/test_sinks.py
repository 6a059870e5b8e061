"""Event sinks against real servers: Mosquitto (Debian) for MQTT, a local HTTP server for webhooks; the events API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from notifykit import Subscriber, hook_receiver, mosquitto
from pgserver import free_port
from vigil.analytics.events import AnalyticsEvent, DatabaseSink, MqttSink, save_snapshot
from vigil.core.errors import NotReadyError

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def broker(tmp_path):
    with mosquitto(tmp_path / "mqtt") as port:
        yield port


def _event(**kw) -> AnalyticsEvent:
    base = {"camera": "cam1", "type": "object", "label": "person", "start": T0, "end": None,
            "box": (0.1, 0.2, 0.3, 0.6), "score": 0.8}
    return AnalyticsEvent(**(base | kw))


def test_mqtt_events_in_home_assistant_style(broker):
    sub = Subscriber(broker)
    sink = MqttSink("127.0.0.1", broker)
    sink.start()
    try:
        first, second = _event(), _event(box=(0.5, 0.2, 0.6, 0.6))
        sink.publish(first)
        sink.publish(second)
        sink.publish(first.ended(T0 + timedelta(seconds=4)))
        sink.publish(second.ended(T0 + timedelta(seconds=6)))
        msgs = sub.wait(lambda m: sum(t == "vigil/events" for t, _, _ in m) >= 4
                        and [p for t, p, _ in m if t == "vigil/cam1/person"] == [b"ON", b"OFF"])
    finally:
        sink.stop()
        sub.stop()
    topics = [t for t, _, _ in msgs]
    disco = [json.loads(p) for t, p, _ in msgs if t == "homeassistant/binary_sensor/vigil_cam1_person/config"]
    assert len(disco) == 1
    assert disco[0]["state_topic"] == "vigil/cam1/person" and disco[0]["device_class"] == "occupancy"
    assert disco[0]["payload_on"] == "ON" and disco[0]["availability_topic"] == "vigil/available"
    assert [p for t, p, _ in msgs if t == "vigil/cam1/person"] == [b"ON", b"OFF"]  # one object stays ON
    events = [json.loads(p) for t, p, _ in msgs if t == "vigil/events"]
    assert [e["phase"] for e in events] == ["start", "start", "end", "end"]
    assert events[2]["id"] == first.uid and events[2]["end"] == (T0 + timedelta(seconds=4)).isoformat()
    assert {"type", "label", "start", "end", "zone", "box", "camera", "clip_url"} <= set(events[0])
    assert (b"online" in [p for t, p, _ in msgs if t == "vigil/available"]) and topics.index(
        "homeassistant/binary_sensor/vigil_cam1_person/config") < topics.index("vigil/cam1/person")


def test_mqtt_sink_reports_an_absent_broker():
    with pytest.raises(NotReadyError, match="unreachable|did not accept"):
        MqttSink("127.0.0.1", free_port()).start(timeout=2)


@pytest.fixture
def hook_server():
    with hook_receiver() as got:
        yield got


def _world(v):
    from factories import TOWN1, build_world

    w = build_world(v)
    return w, w.cameras[TOWN1]


def test_events_are_stored_and_sent_by_webhook(vigil, hook_server):
    import asyncio

    from vigil.analytics.models import Event
    from vigil.analytics.service import camera_region
    from vigil.notify.webhook import add_webhook, deliver_pending, verify_signature

    url, received = hook_server
    w, cam = _world(vigil)
    with vigil.db.session() as s:
        add_webhook(s, vigil, name="ops", url=url, secret="s" * 20, events=["event.*"])
        region = camera_region(s, cam)
    sink = DatabaseSink(vigil, region)
    ev = _event(camera=cam, type="intrusion", zone="yard")
    sink.publish(ev)
    sink.publish(ev.ended(T0 + timedelta(seconds=9)))
    with vigil.db.session() as s:
        rows = s.query(Event).all()
        assert len(rows) == 1 and rows[0].end == T0 + timedelta(seconds=9) and rows[0].zone == "yard"
        assert rows[0].region_code == region and rows[0].clip_url.startswith(f"/api/v1/video/cameras/{cam}/")
    rep = asyncio.run(deliver_pending(vigil, now=T0 + timedelta(minutes=1)))
    assert rep.delivered == 2
    kinds = sorted(h["X-Vigil-Event"] for h, _ in received)
    assert kinds == ["event.intrusion.end", "event.intrusion.start"]
    for headers, body in received:
        assert verify_signature("s" * 20, headers["X-Vigil-Timestamp"], body, headers["X-Vigil-Signature"])
        data = json.loads(body)["data"]
        assert data["zone"] == "yard" and data["camera"] == cam and data["label"] == "person"


def test_events_api_filters_and_scopes(vigil, tmp_path):
    from fastapi.testclient import TestClient

    from factories import TOWN1, TOWN2
    from vigil.analytics.events import store_event
    from vigil.analytics.service import camera_region
    from vigil.api.app import create_app

    w, _ = _world(vigil)
    snap = save_snapshot(np.full((120, 160, 3), 200, np.uint8), (0.1, 0.1, 0.5, 0.9),
                         Path(vigil.settings.home) / "events" / "x.jpg", [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]])
    with vigil.db.session() as s:
        for town, label, minute in ((TOWN1, "person", 0), (TOWN1, "car", 5), (TOWN2, "person", 1)):
            cam = w.cameras[town]
            store_event(s, _event(camera=cam, label=label, start=T0 + timedelta(minutes=minute),
                                  snapshot=str(snap)), camera_region(s, cam))
    client = TestClient(create_app(vigil))
    h1 = {"Authorization": f"Bearer {w.tokens['duty_officer-' + TOWN1]}"}
    r = client.get("/api/v1/events", headers=h1)
    assert r.status_code == 200 and r.json()["total"] == 2
    assert [e["label"] for e in r.json()["items"]] == ["car", "person"]  # newest first
    assert client.get("/api/v1/events", params={"label": "person"}, headers=h1).json()["total"] == 1
    assert client.get("/api/v1/events", params={"region": TOWN2}, headers=h1).json()["total"] == 0
    since = (T0 + timedelta(minutes=2)).isoformat()
    assert client.get("/api/v1/events", params={"since": since}, headers=h1).json()["total"] == 1
    assert client.get("/api/v1/events", params={"type": "loitering"}, headers=h1).json()["total"] == 0
    root = {"Authorization": f"Bearer {w.tokens['root']}"}
    items = client.get("/api/v1/events", headers=root).json()["items"]
    other = next(e for e in items if e["camera_id"] == w.cameras[TOWN2])
    assert client.get(f"/api/v1/events/{other['id']}", headers=h1).status_code == 404
    assert client.get(f"/api/v1/events/{other['id']}/snapshot", headers=h1).status_code == 404
    mine = client.get("/api/v1/events", headers=h1).json()["items"][0]
    r = client.get(mine["snapshot_url"], headers=h1)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert client.get("/api/v1/events").status_code == 401
    assert client.get("/api/v1/events", params={"limit": 0}, headers=h1).status_code == 422
