"""Motion detection on a small grey picture, in the manner of Frigate's improved motion detector.

Per frame: resize the luma plane to ``frame_height`` rows, stretch its contrast with a running
percentile window (a 256-entry LUT), blur, diff against a running-average background
(``cv2.accumulateWeighted``), threshold, dilate, find contours. Privacy-masked pixels never count.
A sudden change over most of the picture (lights, IR switch, camera moved) recalibrates the
background instead of reporting motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.core.errors import InputError

__all__ = ["MotionConfig", "MotionDetector", "mask_image", "polygon_mask"]

Polygon = Sequence[Sequence[float]]


class MotionConfig(BaseModel):
    """Tuning of :class:`MotionDetector` (defaults follow Frigate's)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Motion detection")

    frame_height: int = Field(100, ge=32, le=1080, description="Rows of the picture motion is computed on")
    threshold: int = Field(30, ge=1, le=255, description="Grey-level difference that counts as change")
    contour_area: int = Field(10, ge=1, description="Smallest changed blob, in small-picture pixels")
    frame_alpha: float = Field(0.01, gt=0, le=1, description="Background learning rate per frame")
    lightning_threshold: float = Field(0.8, gt=0, le=1, description="Changed share of the picture that recalibrates")
    improve_contrast: bool = Field(True, description="Stretch contrast before differencing")
    contrast_window: int = Field(50, ge=1, le=1000, description="Frames over which contrast limits are averaged")


def polygon_mask(shape: tuple[int, int], polygons: Sequence[Polygon]) -> np.ndarray:
    """A uint8 mask (255 inside any of ``polygons``) for a picture of ``shape`` (height, width).

    Polygons are lists of ``[x, y]`` in normalised coordinates (0..1, origin top-left).
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    pts = []
    for poly in polygons:
        arr = np.asarray(poly, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 3:
            raise InputError(f"mask polygon: expected shape (n>=3, 2), got {arr.shape}")
        if arr.min() < 0 or arr.max() > 1:
            raise InputError("mask polygon coordinates must be normalised to 0..1")
        pts.append(np.round(arr * [w, h]).astype(np.int32))
    if pts:
        cv2.fillPoly(mask, pts, 255)
    return mask


def mask_image(image: np.ndarray, polygons: Sequence[Polygon]) -> np.ndarray:
    """A copy of ``image`` with the privacy ``polygons`` blacked out."""
    out = image.copy()
    if polygons:
        out[polygon_mask(image.shape[:2], polygons) > 0] = 0
    return out


@dataclass(slots=True)
class _State:
    background: np.ndarray | None = None
    keep: np.ndarray | None = None  # uint8 0/1: 0 where privacy-masked
    contrast: np.ndarray | None = None
    contrast_n: int = 0
    calibrating: bool = True
    global_change: bool = False  # the last frame changed over ``lightning_threshold`` of the picture


class MotionDetector:
    """Stateful motion detector for one camera; feed it the luma (grey) plane of each frame."""

    def __init__(self, config: MotionConfig | None = None, *, masks: Sequence[Polygon] = ()) -> None:
        self.config = config or MotionConfig()
        self.masks = [list(map(list, m)) for m in masks]
        self._s = _State()
        self._kernel = np.ones((3, 3), np.uint8)

    @property
    def global_change(self) -> bool:
        """True when the last frame changed over most of the picture (lights, IR switch, or an object filling it)."""
        return self._s.global_change

    def small_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(width, height) of the picture motion runs on, for a frame of ``shape``."""
        h, w = shape[:2]
        sh = min(self.config.frame_height, h)
        return max(1, round(w * sh / h)), sh

    def _contrast(self, small: np.ndarray) -> np.ndarray:
        cfg, s = self.config, self._s
        hist = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel().cumsum()
        lo = int(np.searchsorted(hist, hist[-1] * 0.04))
        hi = int(np.searchsorted(hist, hist[-1] * 0.96))
        if lo >= hi:
            return small
        if s.contrast is None:
            s.contrast = np.tile([lo, hi], (cfg.contrast_window, 1)).astype(np.float32)
        s.contrast[s.contrast_n % cfg.contrast_window] = (lo, hi)
        s.contrast_n += 1
        a, b = s.contrast.mean(axis=0)
        if b - a < 1:
            return small
        lut = np.clip((np.arange(256, dtype=np.float32) - a) * (255.0 / (b - a)), 0, 255).astype(np.uint8)
        return cv2.LUT(small, lut)

    def detect(self, luma: np.ndarray) -> np.ndarray:
        """Motion boxes (N, 4) as x1, y1, x2, y2 in the pixels of ``luma`` (a 2-D uint8 grey frame)."""
        if luma.ndim != 2:
            raise InputError(f"luma: expected a 2-D grey frame, got shape {luma.shape}")
        cfg, s = self.config, self._s
        s.global_change = False
        size = self.small_size(luma.shape)
        small = cv2.resize(luma, size, interpolation=cv2.INTER_LINEAR)
        if cfg.improve_contrast:
            small = self._contrast(small)
        small = cv2.GaussianBlur(small, (3, 3), 0)
        if s.keep is None or s.keep.shape != small.shape:
            s.keep = (polygon_mask(small.shape, self.masks) == 0).astype(np.uint8)
            s.background, s.calibrating = None, True
        if s.background is None or s.calibrating:
            s.background = small.astype(np.float32)
            s.calibrating = False
            return np.zeros((0, 4), np.float32)
        delta = cv2.absdiff(small, cv2.convertScaleAbs(s.background))
        cv2.accumulateWeighted(small, s.background, cfg.frame_alpha)
        _, thresh = cv2.threshold(delta, cfg.threshold, 255, cv2.THRESH_BINARY)
        thresh = cv2.dilate(thresh, self._kernel, iterations=2)
        if self.masks:
            thresh = cv2.multiply(thresh, s.keep)
        contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > cfg.contour_area]
        if not boxes:
            return np.zeros((0, 4), np.float32)
        xywh = np.asarray(boxes, np.float32)
        if (xywh[:, 2] * xywh[:, 3]).sum() > cfg.lightning_threshold * small.size:
            s.calibrating = s.global_change = True  # a sudden global change: relearn the background next frame
            return np.zeros((0, 4), np.float32)
        fx, fy = luma.shape[1] / size[0], luma.shape[0] / size[1]
        return np.stack([xywh[:, 0] * fx, xywh[:, 1] * fy, (xywh[:, 0] + xywh[:, 2]) * fx,
                         (xywh[:, 1] + xywh[:, 3]) * fy], axis=1)
