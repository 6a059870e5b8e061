"""Motion detection and privacy masks on synthetic frames; the detector on a real vtest.avi frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.analytics.detect import Detections, Detector, crop_regions
from vigil.analytics.motion import MotionConfig, MotionDetector, mask_image, polygon_mask
from vigil.core.errors import InputError

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LEFT_HALF = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]


def _scene(x: int, *, size=(360, 640)) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = (rng.integers(90, 110, size, dtype=np.uint8))
    cv2.rectangle(img, (x, 150), (x + 40, 250), 230, -1)
    return img


def _run(det: MotionDetector, xs) -> list[np.ndarray]:
    return [det.detect(_scene(x)) for x in xs]


def test_moving_block_is_found_where_it_is():
    out = _run(MotionDetector(), [400, 400, 420, 440, 460])
    assert len(out[0]) == 0 and len(out[1]) == 0  # first frame calibrates, then nothing moves
    boxes = out[-1]
    assert len(boxes) >= 1
    x1, y1, x2, y2 = boxes[np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
    assert 380 <= x1 <= 470 and 440 <= x2 <= 530 and 120 <= y1 <= 170 and 230 <= y2 <= 280


def test_privacy_mask_excludes_motion():
    masked = MotionDetector(masks=[LEFT_HALF])
    plain = MotionDetector()
    xs = [100, 100, 120, 140, 160]
    assert len(_run(plain, xs)[-1]) >= 1
    assert all(len(b) == 0 for b in _run(masked, xs))
    # the same mask does not hide motion in the right half
    assert len(_run(MotionDetector(masks=[LEFT_HALF]), [400, 400, 420, 440])[-1]) >= 1


def test_sudden_global_change_recalibrates_instead_of_reporting_motion():
    det = MotionDetector(MotionConfig(improve_contrast=False))
    base = np.full((360, 640), 60, np.uint8)
    assert len(det.detect(base)) == 0
    assert len(det.detect(base)) == 0
    assert len(det.detect(np.full((360, 640), 200, np.uint8))) == 0  # lights on: whole picture changed
    assert len(det.detect(np.full((360, 640), 200, np.uint8))) == 0  # the background was relearnt


def test_motion_rejects_colour_frames_and_bad_config():
    with pytest.raises(InputError, match="2-D"):
        MotionDetector().detect(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        MotionConfig(frame_height=5)
    with pytest.raises(ValueError):
        MotionConfig(speed=3)


def test_polygon_mask_and_blackout():
    m = polygon_mask((100, 200), [LEFT_HALF])
    assert m[:, :95].all() and not m[:, 105:].any()
    img = np.full((100, 200, 3), 255, np.uint8)
    out = mask_image(img, [LEFT_HALF])
    assert out[:, :95].max() == 0 and out[:, 105:].min() == 255 and img.min() == 255
    with pytest.raises(InputError, match="normalised"):
        polygon_mask((10, 10), [[[0, 0], [2, 0], [1, 1]]])
    with pytest.raises(InputError, match="expected shape"):
        polygon_mask((10, 10), [[[0, 0], [1, 0]]])


def test_detections_validate_shapes():
    with pytest.raises(InputError, match=r"expected shape \(2, 4\)"):
        Detections(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, np.int64))
    assert len(Detections.concat([Detections.empty(), Detections.empty()])) == 0


def test_crop_regions_merge_overlaps_and_stay_inside():
    crops = crop_regions((576, 768), np.array([[10, 10, 40, 60], [30, 30, 70, 90], [600, 400, 640, 480]]))
    assert len(crops) == 2
    for x1, y1, x2, y2 in crops:
        assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576
        assert x2 - x1 == y2 - y1 >= 256


def test_detector_finds_the_people_on_the_plaza(detector, vtest_frame):
    det = detector.detect(vtest_frame)
    names = det.names()
    assert names.count("person") >= 4
    assert set(names) <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
    people = det.boxes[[n == "person" for n in names]]
    heights = people[:, 3] - people[:, 1]
    assert np.all((heights > 15) & (heights < 150))  # pedestrians seen from an elevated camera
    assert det.scores.max() > 0.6


def test_detect_regions_only_looks_at_the_regions(vtest_frame):
    detector = Detector.load(min_scale=0.0)  # whole-frame rounds are one inference (tiles: test_mounting.py)
    full = detector.detect(vtest_frame)
    person = full.boxes[np.argmax(full.scores * (full.labels == 0))]
    before, whole = detector.inferences, detector.full_frames
    near = detector.detect_regions(vtest_frame, person[None])
    used = detector.inferences - before
    # one crop, plus the whole frame once if the crop cut a neighbour in two
    assert used == 1 + (detector.full_frames - whole) and used in (1, 2)
    assert "person" in near.names()
    cx, cy = (person[0] + person[2]) / 2, (person[1] + person[3]) / 2
    centres = (near.boxes[:, :2] + near.boxes[:, 2:]) / 2
    assert np.min(np.hypot(centres[:, 0] - cx, centres[:, 1] - cy)) < 10
    assert len(detector.detect_regions(vtest_frame, np.zeros((0, 4)))) == 0
    assert detector.inferences == before + used


def test_detector_rejects_labels_outside_coco():
    with pytest.raises(InputError, match="unknown labels"):
        Detector(object(), labels=("person", "face"))


def _canned(detector: Detector, found: dict[tuple[int, int], list[list[float]]]):
    """Make ``detector._infer`` answer each image size with canned person boxes (image pixels)."""
    calls = []

    def infer(image: np.ndarray) -> Detections:
        calls.append(image.shape[:2])
        boxes = np.array(found.get(image.shape[:2], []), np.float32).reshape(-1, 4)
        return Detections(boxes, np.full(len(boxes), 0.9, np.float32), np.zeros(len(boxes), np.int64))

    detector._infer = infer  # type: ignore[method-assign]
    return calls


def test_large_motion_and_cut_objects_use_the_whole_frame():
    frame = np.zeros((576, 768, 3), np.uint8)
    det = Detector(object(), min_size=0.05, min_scale=0.0)
    calls = _canned(det, {(256, 256): [[100, 100, 140, 200]], (576, 768): [[10, 10, 60, 200], [0, 0, 5, 10]]})
    small = det.detect_regions(frame, np.array([[300, 200, 340, 260]]))      # a small region: one crop
    assert calls == [(256, 256)] and len(small) == 1 and det.full_frames == 0
    big = det.detect_regions(frame, np.array([[0, 100, 500, 500]]))         # a van filling a third of it
    assert calls[-1] == (576, 768) and det.full_frames == 1
    assert len(big) == 1 and big.boxes[0, 3] - big.boxes[0, 1] >= 0.05 * 576   # the 10-px box is too small
    calls = _canned(det, {(256, 256): [[200, 50, 256, 180]], (576, 768): []})  # runs off the crop's right edge
    det.detect_regions(frame, np.array([[300, 200, 340, 260]]))
    assert calls == [(256, 256), (576, 768)] and det.full_frames == 2
    with pytest.raises(InputError, match="shares of the frame"):
        Detector(object(), min_size=1.5)
