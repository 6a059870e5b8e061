"""The whole pipeline on real footage: people on vtest.avi (file and RTSP), nothing from tree.avi's foliage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.analytics.pipeline import AnalyzeOptions, analyze
from vigil.analytics.zones import parse_zones

VIGIL = str(Path(sys.executable).with_name("vigil"))
LOWER_HALF = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
LEFT_HALF = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
ZONES = {
    "zones": [{"name": "lower", "polygon": LOWER_HALF,
               "rules": [{"type": "intrusion", "labels": ["person"]},
                         {"type": "loitering", "labels": ["person"], "dwell_s": 5}]}],
    "lines": [{"name": "middle", "points": [[0.5, 0], [0.5, 1]], "labels": ["person"]}],
}


class Collect:
    def __init__(self):
        self.published = []

    def publish(self, event):
        self.published.append(event)


@pytest.fixture(scope="module")
def vtest_run(vtest, detector, tmp_path_factory):
    sink = Collect()
    an = analyze(str(vtest), detector, parse_zones(ZONES), sinks=[sink],
                 options=AnalyzeOptions(camera="cam1", snapshot_dir=tmp_path_factory.mktemp("snaps")))
    return an, sink


def test_people_are_detected_on_vtest(vtest_run):
    an, _ = vtest_run
    people = [e for e in an.events if e.type == "object" and e.label == "person"]
    assert len(people) >= 6
    for e in people:
        assert e.start < e.end and e.offset_s[0] < e.offset_s[1]
        x1, y1, x2, y2 = e.box
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and y2 - y1 < 0.4
        assert e.snapshot and Path(e.snapshot).is_file()
    vehicles = [e for e in an.events if e.type == "object" and e.label in ("car", "truck", "bus")]
    assert 1 <= len(vehicles) <= 3  # the parked van and car are reported once, not each time someone passes
    assert an.stats["frames"] == 795 and an.stats["detect_rounds"] <= 80 * 2 + 1


def test_vtest_zone_rules_fire(vtest_run):
    an, sink = vtest_run
    kinds = {e.type for e in an.events}
    assert {"intrusion", "loitering", "line_crossing"} <= kinds
    for e in an.events:
        if e.type != "object":
            assert e.zone in ("lower", "middle") and e.label == "person"
    crossings = [e for e in an.events if e.type == "line_crossing"]
    assert {e.direction for e in crossings} <= {"forward", "backward"}
    assert sum(an.rules.counts["middle"].values()) == len(crossings)
    # every lasting event was published at its start and again at its end
    started = {e.uid for e in sink.published if e.end is None}
    ended = {e.uid for e in sink.published if e.end is not None and e.type != "line_crossing"}
    assert started == ended


def test_no_person_events_from_foliage(tree, detector):
    an = analyze(str(tree), detector)
    assert an.stats["motion_frames"] > 0  # the leaves do move
    assert [e for e in an.events if e.label == "person"] == []


def test_privacy_mask_hides_people_and_blacks_out_snapshots(vtest, detector, tmp_path):
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    an = analyze(str(vtest), detector, masks=[whole], options=AnalyzeOptions(max_seconds=15))
    assert an.events == [] and an.stats["motion_frames"] == 0 and an.stats["detect_rounds"] == 0

    an = analyze(str(vtest), detector, masks=[LEFT_HALF],
                 options=AnalyzeOptions(max_seconds=20, snapshot_dir=tmp_path))
    assert an.events
    for e in an.events:
        assert (e.box[0] + e.box[2]) / 2 > 0.5
        img = cv2.imread(e.snapshot)
        h, w = img.shape[:2]
        assert np.mean(img[:, : int(w * 0.48)]) < 3  # blacked out (but for JPEG ringing and the box outline)


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_people_detected_over_rtsp(detector):
    from video_helpers_bridge import RtspServer

    from vigil.sim.media import healthy_clip

    clip = healthy_clip(source="vtest", start=0.0, duration=14.0)
    srv = RtspServer(clip).start()
    try:
        an = analyze(srv.url, detector, options=AnalyzeOptions(camera="rtsp-cam", max_seconds=12))
    finally:
        srv.kill()
    assert an.stats["frames"] >= 100
    assert len([e for e in an.events if e.label == "person"]) >= 3


def test_cli_prints_one_json_object_per_event(vtest, tmp_path):
    zones = tmp_path / "zones.yaml"
    zones.write_text(json.dumps(ZONES))
    out = subprocess.run([VIGIL, "analyze", str(vtest), "--zones", str(zones),
                          "--json", "--max-seconds", "12"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events and any(e["label"] == "person" for e in events)
    for e in events:
        assert {"type", "label", "start", "end", "zone", "box"} <= set(e)
        assert len(e["box"]) == 4 and e["start"] <= e["end"]


def test_cli_reports_bad_input_in_one_line(tmp_path):
    bad = tmp_path / "zones.yaml"
    bad.write_text("zones: [{name: a, polygon: [[0, 0], [1, 0]]}]")
    out = subprocess.run([VIGIL, "analyze", "/nonexistent.avi", "--zones", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "zone" in out.stderr


def test_cli_uses_the_cameras_privacy_masks_and_stores_its_events(sqlite_vigil, vtest):
    from factories import TOWN1, build_world
    from vigil.analytics.models import Event
    from vigil.video.models import PrivacyMask

    v = sqlite_vigil
    cam = build_world(v).cameras[TOWN1]
    with v.db.session() as s:
        s.add(PrivacyMask(camera_id=cam, name="all", polygon=[[0, 0], [1, 0], [1, 1], [0, 1]]))
    args = [VIGIL, "analyze", str(vtest), "--camera", cam, "--db", v.settings.db_url, "--home",
            str(v.settings.home), "--max-seconds", "8", "--json"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    with v.db.session() as s:
        s.query(PrivacyMask).update({"polygon": LEFT_HALF})
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    with v.db.session() as s:
        rows = s.query(Event).all()
        assert len(rows) == len(printed) > 0
        assert all(r.camera_id == cam and r.end is not None and (r.box[0] + r.box[2]) / 2 > 0.5 for r in rows)
        snaps = [Path(r.snapshot_path) for r in rows]
    assert all(p.is_file() and p.is_relative_to(v.settings.home) for p in snaps)
    img = cv2.imread(str(snaps[0]))
    assert np.mean(img[:, : int(img.shape[1] * 0.48)]) < 3


def test_unreachable_stream_is_not_ready_and_hides_the_password():
    import socket

    from vigil.analytics.pipeline import frames
    from vigil.core.errors import NotReadyError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotReadyError) as err:
        next(frames(f"rtsp://admin:hunter2@127.0.0.1:{port}/cam", timeout_s=2))
    assert "hunter2" not in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
