"""Person and vehicle detection with NanoDet-m (ONNX, CPU), run on motion regions or on the whole frame.

Small motion regions are cropped (square, at least 256 px) so that distant people keep enough
pixels; the whole frame is used instead when the crops would cover much of it (a bus or a van
close to a high camera fills a fifth of the frame), when there are too many of them, or when an
object runs off a crop's inner edge (it crosses the region, so the crop saw only part of it),
as Frigate does. The smallest object reported is a share of the frame height (``min_size``).
A whole-frame round on a frame that the 416-px input would shrink below ``min_scale`` (a high view
over a road: far vehicles are a few pixels tall once shrunk) also runs on overlapping square tiles,
as SAHI does, and the tile boxes are merged with the whole-frame ones by NMS. Tiles report vehicles
only (``tile_labels``): on the tuning footage they found no extra person, only false ones. Vehicles
have their own score threshold (``vehicle_score``), chosen on the tuning footage like the rest.

The model ships in ``models/nanodet-m-416.onnx`` (see ``models/NOTICE.md``). Pre-processing is a
letterbox to 416x416 with RGB/255; the GFL head is decoded with 11 bins per box side
(reg_max=10): softmax expectation x stride, strides 8/16/32, then class-aware NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.core.errors import InputError

__all__ = [
    "COCO_LABELS",
    "DEFAULT_LABELS",
    "MODEL_PATH",
    "Detections",
    "Detector",
    "LABEL_GROUPS",
    "crop_regions",
    "group",
    "letterbox",
    "tiles",
]

MODEL_PATH = Path(__file__).resolve().parent / "models" / "nanodet-m-416.onnx"
INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11  # reg_max = 10

COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)
# Vigil detects events, not identities: only these classes are ever reported.
DEFAULT_LABELS: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
VEHICLES: tuple[str, ...] = ("car", "bus", "truck")
# Labels one object flips between (a parked van is a car, then a truck): one group for NMS and tracking.
LABEL_GROUPS: dict[str, str] = dict.fromkeys(VEHICLES, "vehicle")


def group(label: str) -> str:
    """The group of a label (``vehicle`` for car, bus and truck; any other label is its own group)."""
    return LABEL_GROUPS.get(label, label)


# Per COCO id, the id that stands for its group in NMS (car for every vehicle).
_GROUP_OF = np.array([COCO_LABELS.index("car") if lb in VEHICLES else i for i, lb in enumerate(COCO_LABELS)], np.int64)


@dataclass(frozen=True, slots=True)
class Detections:
    """Detected objects: ``boxes`` (N, 4) x1, y1, x2, y2 in frame pixels, ``scores`` (N,), ``labels`` (N,)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4):
            raise InputError(f"boxes: expected shape ({n}, 4), got {self.boxes.shape}")
        if self.scores.shape != (n,) or self.labels.shape != (n,):
            raise InputError(f"scores/labels: expected shape ({n},), got {self.scores.shape}/{self.labels.shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def names(self) -> list[str]:
        """The COCO label of each detection."""
        return [COCO_LABELS[i] for i in self.labels]

    def select(self, keep: np.ndarray) -> Detections:
        """The subset picked by a boolean mask or an index array."""
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])

    @staticmethod
    def concat(parts: Sequence[Detections]) -> Detections:
        if not parts:
            return Detections.empty()
        return Detections(np.concatenate([p.boxes for p in parts]).astype(np.float32),
                          np.concatenate([p.scores for p in parts]).astype(np.float32),
                          np.concatenate([p.labels for p in parts]).astype(np.int64))


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float]:
    """Scale ``image`` (H, W, 3 BGR) to fit ``size`` x ``size``, pad right/bottom; return NCHW RGB/255 and the scale."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
    return blob, scale


def _centers(stride: int, size: int = INPUT_SIZE) -> np.ndarray:
    n = size // stride
    ys, xs = np.mgrid[0:n, 0:n]
    return np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1).astype(np.float32)


_CENTERS = {s: _centers(s) for s in STRIDES}
_BINS = np.arange(REG_BINS, dtype=np.float32)


def decode(outputs: Sequence[np.ndarray], class_ids: np.ndarray, threshold: float) -> Detections:
    """Decode raw NanoDet outputs (3 score maps then 3 box maps) into boxes in 416-px input coordinates."""
    parts = []
    for k, stride in enumerate(STRIDES):
        cls = outputs[k][0][:, class_ids]
        best = cls.argmax(axis=1)
        score = cls[np.arange(len(cls)), best]
        idx = np.nonzero(score >= threshold)[0]
        if idx.size == 0:
            continue
        reg = outputs[k + 3][0][idx].reshape(-1, 4, REG_BINS)
        e = np.exp(reg - reg.max(axis=2, keepdims=True))
        dist = (e / e.sum(axis=2, keepdims=True)) @ _BINS * stride  # (n, 4): left, top, right, bottom
        c = _CENTERS[stride][idx]
        boxes = np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1)
        parts.append(Detections(boxes.astype(np.float32), score[idx].astype(np.float32), class_ids[best[idx]]))
    return Detections.concat(parts)


def nms(det: Detections, iou: float, score: float) -> Detections:
    """Non-maximum suppression within each label group: a car box and a truck box on one van keep the best."""
    if len(det) == 0:
        return det
    xywh = np.concatenate([det.boxes[:, :2], det.boxes[:, 2:] - det.boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), det.scores.tolist(), _GROUP_OF[det.labels].tolist(), score, iou)
    return det.select(np.asarray(keep, dtype=np.int64).reshape(-1))


def crop_regions(frame_shape: tuple[int, ...], boxes: np.ndarray, *, min_side: int = 256,
                 margin: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Square crops (x1, y1, x2, y2) around motion boxes (frame pixels), merged where they overlap."""
    h, w = frame_shape[:2]
    crops: list[list[int]] = []
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        side = min(max(x2 - x1, y2 - y1) * (1 + 2 * margin), max(w, h))
        side = max(side, min(min_side, w, h))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        crops.append(_fit([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], w, h))
    merged = True
    while merged and len(crops) > 1:
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                a, b = crops[i], crops[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    side = max(u[2] - u[0], u[3] - u[1])
                    cx, cy = (u[0] + u[2]) / 2, (u[1] + u[3]) / 2
                    crops[i] = _fit([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], w, h)
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    return [(c[0], c[1], c[2], c[3]) for c in crops]


def _fit(box: list[float], w: int, h: int) -> list[int]:
    """Shift a box inside the frame (shrinking it only if it is larger than the frame)."""
    x1, y1, x2, y2 = box
    bw, bh = min(x2 - x1, w), min(y2 - y1, h)
    x1 = min(max(x1, 0), w - bw)
    y1 = min(max(y1, 0), h - bh)
    return [int(x1), int(y1), int(round(x1 + bw)), int(round(y1 + bh))]


class Detector:
    """NanoDet-m on onnxruntime; build it with :meth:`load`."""

    def __init__(self, session: object, *, labels: Sequence[str] = DEFAULT_LABELS, score: float = 0.4,
                 vehicle_score: float = 0.35, iou: float = 0.5, min_size: float = 0.015, full_share: float = 0.3,
                 min_scale: float = 0.7, tile_labels: Sequence[str] = VEHICLES, flip: bool = False) -> None:
        unknown = [lb for lb in (*labels, *tile_labels) if lb not in COCO_LABELS]
        if unknown:
            raise InputError(f"unknown labels: {', '.join(unknown)}")
        self.session = session
        self.labels = tuple(labels)
        self.class_ids = np.array([COCO_LABELS.index(lb) for lb in labels], dtype=np.int64)
        self.score = min(score, vehicle_score)  # decode and NMS keep the lower; _infer applies each class's
        self._class_score = np.array([vehicle_score if lb in VEHICLES else score for lb in COCO_LABELS], np.float32)
        self.tile_ids = np.array([COCO_LABELS.index(lb) for lb in tile_labels], np.int64)
        self.iou = iou
        if not 0.0 <= min_size < 1.0 or not 0.0 < full_share <= 1.0:
            raise InputError("min_size must be in [0, 1) and full_share in (0, 1] (shares of the frame)")
        self.min_size = min_size      # boxes lower than this share of the frame height are dropped
        self.full_share = full_share  # crops covering this share of the frame: detect on the whole frame
        if not 0.0 <= min_scale <= 2.0:
            raise InputError("min_scale must be in [0, 2] (0: whole-frame rounds are never tiled)")
        self.min_scale = min_scale    # whole frames shrunk more than this are also detected on tiles
        self.flip = flip              # also run on the mirror image of each input (test-time augmentation)
        self.inferences = 0
        self.full_frames = 0          # how many detection rounds used the whole frame

    @classmethod
    def load(cls, model: str | Path = MODEL_PATH, *, threads: int = 1, labels: Sequence[str] = DEFAULT_LABELS,
             score: float = 0.4, vehicle_score: float = 0.35, iou: float = 0.5, min_size: float = 0.015,
             full_share: float = 0.3, min_scale: float = 0.7, flip: bool = False) -> Detector:
        """Open the ONNX model on the CPU with ``threads`` intra-op threads (1 by default)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        return cls(session, labels=labels, score=score, vehicle_score=vehicle_score, iou=iou, min_size=min_size,
                   full_share=full_share, min_scale=min_scale, flip=flip)

    def _infer(self, image: np.ndarray) -> Detections:
        """One inference on ``image`` (and one on its mirror image with ``flip``); boxes in ``image`` pixels.

        The mirrored boxes are flipped back and kept beside the others: the caller's NMS merges them.
        """
        det = self._infer_once(image)
        if not self.flip:
            return det
        w = image.shape[1]
        m = self._infer_once(np.ascontiguousarray(image[:, ::-1]))
        back = np.stack([w - m.boxes[:, 2], m.boxes[:, 1], w - m.boxes[:, 0], m.boxes[:, 3]], axis=1)
        return Detections.concat([det, Detections(back.reshape(-1, 4), m.scores, m.labels)])

    def _infer_once(self, image: np.ndarray) -> Detections:
        blob, scale = letterbox(image)
        outputs = self.session.run(None, {"input_1:0": blob})  # type: ignore[attr-defined]
        self.inferences += 1
        det = decode(outputs, self.class_ids, self.score)
        det = det.select(det.scores >= self._class_score[det.labels])
        h, w = image.shape[:2]
        boxes = np.clip(det.boxes / scale, 0, [w, h, w, h]).astype(np.float32)
        return Detections(boxes, det.scores, det.labels)

    def detect(self, image: np.ndarray) -> Detections:
        """Detect on a whole BGR image (letterboxed to 416), and on tiles of it if it would shrink below ``min_scale``.

        A tile's box that touches an inner tile edge is dropped: the object was cut, and the
        overlapping tile or the whole-frame pass sees all of it.
        """
        self.full_frames += 1
        h, w = image.shape[:2]
        parts = [self._infer(image)]
        if self.min_scale and INPUT_SIZE / max(h, w) < self.min_scale:
            for x1, y1, x2, y2 in tiles((h, w), side=round(INPUT_SIZE / self.min_scale)):
                d = self._infer(image[y1:y2, x1:x2])
                d = d.select(~_cut_each(d.boxes, (x1, y1, x2, y2), w, h) & np.isin(d.labels, self.tile_ids))
                parts.append(Detections(d.boxes + np.array([x1, y1, x1, y1], np.float32), d.scores, d.labels))
        return self._small_dropped(nms(Detections.concat(parts), self.iou, self.score), h)

    def detect_regions(self, frame: np.ndarray, motion_boxes: np.ndarray, *, max_crops: int = 4) -> Detections:
        """Detect around ``motion_boxes`` (frame pixels): one inference per merged crop, or the whole frame.

        The whole frame is used once instead when the crops would need more than ``max_crops``
        inferences or cover ``full_share`` of the frame, and after the crops when an object they
        found touches a crop edge inside the frame (it was cut: the full frame sees all of it).
        """
        if len(motion_boxes) == 0:
            return Detections.empty()
        h, w = frame.shape[:2]
        crops = crop_regions(frame.shape, motion_boxes)
        covered = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in crops) / float(w * h)
        if len(crops) > max_crops or covered >= self.full_share:
            return self.detect(frame)
        parts = []
        for x1, y1, x2, y2 in crops:
            d = self._infer(frame[y1:y2, x1:x2])
            if _cut(d.boxes, (x1, y1, x2, y2), w, h):
                return self.detect(frame)
            parts.append(Detections(d.boxes + np.array([x1, y1, x1, y1], np.float32), d.scores, d.labels))
        return self._small_dropped(nms(Detections.concat(parts), self.iou, self.score), h)

    def _small_dropped(self, det: Detections, frame_height: int) -> Detections:
        if not self.min_size or len(det) == 0:
            return det
        return det.select((det.boxes[:, 3] - det.boxes[:, 1]) >= self.min_size * frame_height)


def _cut_each(boxes: np.ndarray, crop: tuple[int, int, int, int], w: int, h: int, tol: float = 2.0) -> np.ndarray:
    """Per box (crop pixels): True if it touches an edge of ``crop`` that is not an edge of the ``w`` x ``h`` frame."""
    if len(boxes) == 0:
        return np.zeros(0, bool)
    x1, y1, x2, y2 = crop
    cw, ch = x2 - x1, y2 - y1
    return (((boxes[:, 0] <= tol) & (x1 > 0)) | ((boxes[:, 1] <= tol) & (y1 > 0))
            | ((boxes[:, 2] >= cw - tol) & (x2 < w)) | ((boxes[:, 3] >= ch - tol) & (y2 < h)))


def _cut(boxes: np.ndarray, crop: tuple[int, int, int, int], w: int, h: int, tol: float = 2.0) -> bool:
    """True if any box (crop pixels) touches an edge of ``crop`` that is not an edge of the frame."""
    return bool(_cut_each(boxes, crop, w, h, tol).any())


def tiles(frame_shape: tuple[int, ...], *, side: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Square tiles (x1, y1, x2, y2) of ``side`` px covering the frame, overlapping by at least ``overlap``."""
    h, w = frame_shape[:2]
    side = min(side, h, w)
    if side <= 0:
        raise InputError("tiles: the frame and the tile side must be at least 1 px")

    def starts(length: int) -> list[int]:
        n = 1 if length <= side else int(np.ceil((length - side) / (side * (1 - overlap)))) + 1
        return [round(i * (length - side) / max(n - 1, 1)) for i in range(n)]

    return [(x, y, x + side, y + side) for y in starts(h) for x in starts(w)]
