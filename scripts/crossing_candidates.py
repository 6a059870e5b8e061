"""Draft crossing labels for hand-checking: detector tracks drawn on frames of a clip.

Usage: .venv/bin/python scripts/crossing_candidates.py CLIP OUT_DIR [--every 1.0] [--score 0.25]

Runs NanoDet-m on the whole frame (and its mirror image) every ``--every`` seconds at a low score,
follows the boxes with Vigil's tracker, prints each track (group, first and last time in view, boxes)
and writes contact sheets (``OUT_DIR/sheet-NN.jpg``) with the track numbers drawn on. The numbers are
proposals only: the labels in data/analytics/detection-labels.json are what was checked by eye on
these sheets (objects the detector never saw are added by hand, false tracks dropped).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vigil.analytics.detect import Detections, Detector, group, nms
from vigil.analytics.pipeline import frames
from vigil.analytics.tracks import Tracker


def _both_ways(det: Detector, frame: np.ndarray) -> Detections:
    w = frame.shape[1]
    a = det.detect(frame)
    b = det.detect(np.ascontiguousarray(frame[:, ::-1]))
    b = Detections(np.stack([w - b.boxes[:, 2], b.boxes[:, 1], w - b.boxes[:, 0], b.boxes[:, 3]], 1), b.scores,
                   b.labels)
    return nms(Detections.concat([a, b]), 0.5, det.score)


def main() -> None:
    """Print the tracks of one clip and write its contact sheets."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("out", type=Path)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--score", type=float, default=0.25)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    det = Detector.load(score=args.score, vehicle_score=args.score, min_scale=0.7)
    tracker = Tracker(max_age_s=2.5 * args.every)
    shots, last, done = [], -np.inf, []
    for t, _, bgr in frames(args.clip):
        if t - last < args.every - 1e-6:
            continue
        last = t
        frame = bgr()
        h, w = frame.shape[:2]
        d = _both_ways(det, frame)
        norm = d.boxes / np.array([w, h, w, h], np.float32)
        done += tracker.update(norm, d.scores, d.names(), t)
        img = frame.copy()
        for tr in tracker.tracks:
            if tr.last_seen == t:
                x1, y1, x2, y2 = (tr.box * [w, h, w, h]).astype(int)
                cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0) if tr.label == "person" else (0, 0, 255), 1)
                cv2.putText(img, str(tr.id), (x1, max(10, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
        cv2.putText(img, f"t={t:.1f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        shots.append(img)
    done += tracker.flush()
    for tr in sorted(done, key=lambda tr: tr.id):
        print(f"{tr.id:4d} {group(tr.label):<12} {tr.first_seen:6.1f}-{tr.last_seen:6.1f} s hits {tr.hits:3d} "
              f"first {np.round(tr.first_box, 2).tolist()} last {np.round(tr.box, 2).tolist()}")
    for i in range(0, len(shots), 6):
        group_ = shots[i:i + 6]
        group_ += [np.zeros_like(shots[0])] * (6 - len(group_))
        sheet = np.vstack([np.hstack(group_[:3]), np.hstack(group_[3:])])
        cv2.imwrite(str(args.out / f"sheet-{i // 6:02d}.jpg"), sheet)


if __name__ == "__main__":
    main()
