"""Analytics events: the value object, snapshots, storage, and sinks (database + webhook, MQTT).

An :class:`AnalyticsEvent` is published twice: when it starts (``end`` is None) and when it ends.
Sinks implement ``publish(event)``. The MQTT sink follows Home Assistant's conventions:

* ``<prefix>/<camera>/<label>``: ``ON``/``OFF`` (retained) while objects of ``label`` are seen;
* ``<prefix>/events``: the event as JSON, with ``"phase": "start" | "end"``;
* ``<prefix>/available``: ``online``/``offline`` (last will);
* ``homeassistant/binary_sensor/<prefix>_<camera>_<label>/config``: discovery (retained).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.analytics.motion import Polygon, mask_image
from vigil.analytics.roadrules import QueueMinute
from vigil.core.errors import NotReadyError

__all__ = [
    "CLIP_URL",
    "AnalyticsEvent",
    "DatabaseSink",
    "EventSink",
    "MqttSink",
    "clip_url",
    "save_snapshot",
    "store_event",
    "store_queue_minute",
]

log = logging.getLogger("vigil.analytics")

# The video API's recorded spans of one camera for a time range. Watching them needs a retrieval request
# (POST /api/v1/video/retrievals with the same camera, start, end and a reason), so the link never bypasses
# the retrieval rules; the console offers that request from the event.
CLIP_URL = "/api/v1/video/cameras/{camera}/recordings"
CLIP_PAD = timedelta(seconds=5)  # pre- and post-roll around the event


def clip_url(camera: str, start: datetime, end: datetime | None) -> str:
    """A link to the recorded clip of ``camera`` around an event (padded by :data:`CLIP_PAD`)."""
    q = {"start": (start - CLIP_PAD).astimezone(UTC).isoformat()}
    if end is not None:
        q["end"] = (end + CLIP_PAD).astimezone(UTC).isoformat()
    return CLIP_URL.format(camera=quote(camera, safe="")) + "?" + urlencode(q)


@dataclass(frozen=True)
class AnalyticsEvent:
    """One event of one camera. ``box`` is normalised (x1, y1, x2, y2); times are aware UTC."""

    camera: str
    type: str
    label: str
    start: datetime
    end: datetime | None
    box: tuple[float, float, float, float]
    score: float
    zone: str | None = None
    direction: str | None = None
    snapshot: str | None = None
    offset_s: tuple[float, float | None] = (0.0, None)  # start/end in seconds from the start of the stream
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    value: float | None = None  # queue events: the longest queue in metres

    @property
    def clip_url(self) -> str:
        return clip_url(self.camera, self.start, self.end)

    def ended(self, end: datetime, **changes: Any) -> AnalyticsEvent:
        return replace(self, end=end, **changes)

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data (``type``, ``label``, ``start``, ``end``, ``zone``, ``box`` first)."""
        d = asdict(self)
        out = {k: d[k] for k in ("type", "label")}
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat() if self.end else None
        out["zone"] = self.zone
        out["box"] = [round(float(v), 4) for v in self.box]
        out.update(camera=self.camera, t_start=round(self.offset_s[0], 2),
                   t_end=None if self.offset_s[1] is None else round(self.offset_s[1], 2), score=round(float(self.score), 3), direction=self.direction,
                   snapshot=self.snapshot, clip_url=self.clip_url, id=self.uid)
        if self.value is not None:
            out["value"] = round(float(self.value), 2)
        if self.end is not None:
            out["duration_s"] = round((self.end - self.start).total_seconds(), 2)
        return out


def save_snapshot(frame: np.ndarray, box: tuple[float, float, float, float], path: Path,
                  masks: list[Polygon] | tuple[Polygon, ...] = ()) -> Path:
    """Write a JPEG of ``frame`` (BGR) with privacy ``masks`` blacked out and the event box drawn."""
    img = mask_image(frame, masks)
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (int(round(v * s)) for v, s in zip(box, (w, h, w, h), strict=True))
    cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"cannot write snapshot {path}")
    return path


class EventSink(Protocol):
    """Where events go; ``publish`` is called at the start and at the end of each event."""

    def publish(self, event: AnalyticsEvent) -> None: ...


def store_event(session: Session, event: AnalyticsEvent, region_code: str, *, webhooks: bool = True) -> int:
    """Insert or update the row of ``event``; on insert and on end, queue the matching webhooks.

    ``webhooks=False`` stores the row only: on a scale-out worker the event's notification goes to the
    JetStream events stream instead, and the elected relay queues the webhooks (``vigil.notify.relay``).
    """
    from vigil.analytics.models import Event

    row = session.scalar(select(Event).where(Event.uid == event.uid))
    phase = "start" if event.end is None else "end"
    if row is None:
        row = Event(uid=event.uid, camera_id=event.camera, region_code=region_code, type=event.type,
                    label=event.label, start=event.start, end=event.end, zone=event.zone,
                    direction=event.direction, box=[float(v) for v in event.box], score=float(event.score),
                    snapshot_path=event.snapshot, clip_url=event.clip_url)
        session.add(row)
    else:
        row.end, row.score, row.box = event.end, float(event.score), [float(v) for v in event.box]
        row.snapshot_path, row.clip_url = event.snapshot or row.snapshot_path, event.clip_url
    session.flush()
    if not webhooks:
        return row.id
    try:
        from vigil.notify.webhook import enqueue
    except ModuleNotFoundError:  # pragma: no cover - notify package absent
        return row.id
    enqueue(session, f"event.{event.type}.{phase}", {"id": row.id, **event.to_json()}, region_code=region_code,
            now=event.end or event.start)
    return row.id


def store_queue_minute(session: Session, sample: QueueMinute, region_code: str) -> None:
    """Keep one minute of a lane's queue length (the larger of two writes of the same minute)."""
    from vigil.analytics.models import QueueSample

    row = session.scalar(select(QueueSample).where(QueueSample.camera_id == sample.camera,
                                                   QueueSample.zone == sample.zone, QueueSample.minute == sample.minute))
    if row is None:
        session.add(QueueSample(camera_id=sample.camera, region_code=region_code, zone=sample.zone,
                                minute=sample.minute, max_m=float(sample.max_m), vehicles=int(sample.vehicles)))
    else:
        row.max_m, row.vehicles = max(row.max_m, float(sample.max_m)), max(row.vehicles, int(sample.vehicles))
    session.flush()


@dataclass
class DatabaseSink:
    """Stores events (and queues webhooks) in the instance's database, and the lanes' queue lengths."""

    vigil: Any  # vigil.core.context.Vigil
    region_code: str
    webhooks: bool = True  # False on a scale-out worker: the events stream carries the notification

    def publish(self, event: AnalyticsEvent) -> None:
        with self.vigil.db.session() as s:
            store_event(s, event, self.region_code, webhooks=self.webhooks)

    def record_queue(self, sample: QueueMinute) -> None:
        with self.vigil.db.session() as s:
            store_queue_minute(s, sample, self.region_code)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


class MqttSink:
    """Publishes events to an MQTT broker in Home Assistant's style (see the module docstring)."""

    def __init__(self, host: str, port: int = 1883, *, prefix: str = "vigil", discovery_prefix: str = "homeassistant",
                 client_id: str = "", username: str = "", password: str = "") -> None:
        self.host, self.port = host, port
        self.prefix, self.discovery_prefix = prefix, discovery_prefix
        self.client_id = client_id or f"vigil-{uuid.uuid4().hex[:8]}"
        self.username, self.password = username, password
        self._client: Any = None
        self._active: dict[tuple[str, str], set[str]] = {}
        self._announced: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def start(self, timeout: float = 5.0) -> None:
        """Connect (raises :class:`NotReadyError` if the broker does not answer)."""
        import paho.mqtt.client as mqtt

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self.username:
            c.username_pw_set(self.username, self.password)
        c.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        connected = threading.Event()
        c.on_connect = lambda *_a, **_k: connected.set()
        try:
            c.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise NotReadyError(f"MQTT broker {self.host}:{self.port} unreachable: {exc}") from None
        c.loop_start()
        if not connected.wait(timeout):
            c.loop_stop()
            raise NotReadyError(f"MQTT broker {self.host}:{self.port} did not accept the connection")
        c.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        self._client = c

    def stop(self) -> None:
        if self._client is not None:
            self._client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True).wait_for_publish(2)
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def discovery(self, camera: str, label: str) -> tuple[str, dict[str, Any]]:
        """The Home Assistant discovery topic and config of the ``camera``/``label`` binary sensor."""
        obj = f"{_slug(self.prefix)}_{_slug(camera)}_{_slug(label)}"
        cfg = {"name": f"{camera} {label}", "unique_id": obj, "state_topic": f"{self.prefix}/{camera}/{label}",
               "payload_on": "ON", "payload_off": "OFF", "device_class": "occupancy",
               "availability_topic": f"{self.prefix}/available",
               "device": {"identifiers": [f"{_slug(self.prefix)}_{_slug(camera)}"], "name": f"Vigil {camera}",
                          "manufacturer": "Vigil"}}
        return f"{self.discovery_prefix}/binary_sensor/{obj}/config", cfg

    def publish(self, event: AnalyticsEvent) -> None:
        self.publish_data(event.to_json())

    def publish_data(self, data: dict[str, Any], *, wait_s: float = 0.0) -> None:
        """Publish an event given as :meth:`AnalyticsEvent.to_json` data (how the stream relay calls it).

        With ``wait_s`` > 0, wait that long for the broker to acknowledge the event message (QoS 1)
        and raise :class:`NotReadyError` if it did not.
        """
        if self._client is None:
            raise NotReadyError("MQTT sink is not started")
        camera, label, uid = str(data["camera"]), str(data["label"]), str(data["id"])
        ended = data.get("end") is not None
        key = (camera, label)
        with self._lock:
            if key not in self._announced:
                topic, cfg = self.discovery(*key)
                self._client.publish(topic, json.dumps(cfg), qos=1, retain=True)
                self._announced.add(key)
            active = self._active.setdefault(key, set())
            before = bool(active)
            unknown = ended and uid not in active  # it started before this sink did (a relay restarted)
            if ended:
                active.discard(uid)
            else:
                active.add(uid)
            phase = "end" if ended else "start"
            info = self._client.publish(f"{self.prefix}/events", json.dumps({"phase": phase, **data}), qos=1)
            if bool(active) != before or (unknown and not active):
                self._client.publish(f"{self.prefix}/{camera}/{label}", "ON" if active else "OFF",
                                     qos=1, retain=True)
        if wait_s > 0:
            try:
                info.wait_for_publish(wait_s)
            except (RuntimeError, ValueError) as exc:
                raise NotReadyError(f"MQTT broker {self.host}:{self.port}: {exc}") from None
            if not info.is_published():
                raise NotReadyError(f"MQTT broker {self.host}:{self.port} did not acknowledge within {wait_s:.0f} s")
