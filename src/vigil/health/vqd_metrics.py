"""No-reference picture metrics for video quality diagnostics (pure numpy/OpenCV, no I/O).

Every metric but noise is computed on a small analysis copy of the frame
(:data:`ANALYSIS_WIDTH` pixels wide), which keeps one 1080p keyframe to a few
milliseconds. Noise is measured on a grid of tiles at the native resolution, and
for large frames also at :data:`NOISE_WIDTH` (the larger wins): downscaling averages
per-pixel noise away, while noise that the camera or an encoder upscaled only shows
at the smaller size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

__all__ = ["ANALYSIS_WIDTH", "FrameMetrics", "analysis_gray", "block_chroma", "block_maps", "changed_fraction", "edge_map",
           "edge_correlation", "exposure_gain", "frame_difference", "frame_metrics", "image_shift", "layout_correlation",
           "noise_sigma", "realign"]

ANALYSIS_WIDTH = 320
NOISE_WIDTH = 640
_BLOCK = 16
_FLAT_STD = 4.0
_MOTION_WIDTH = 80
_TILE = 32
_BLUE_MIN = 80.0
_LOW_WIDTH = 80                   # realign: the low-frequency copy, 80 px wide, blurred
_LOW_SIGMA = 1.5
_LOW_STEPS = (6, 4)               # ... translations of up to 6 x 2 px across and 4 x 2 px down, in 2-px steps
_LOW_POSES = tuple((s, a) for s in (1.0, 1.07, 1.14, 1.21) for a in (-0.08, 0.0, 0.08))  # zoom, roll (rad)
_LOW_KEEP = 0.6                   # the best-matching share of pixels that is scored (the rest may be foreground)
_LOW_SAMPLE = 2                   # the residual is taken on every 2nd pixel across and down
_LOW_SHORTLIST = 12               # ... first scored on every 4th pixel; the best 12 poses are scored on every 2nd
_LOW_REFINE = (0.07, 0.08)        # ... then refined about the best: zoom and roll grid steps, halved, then quartered
_LOW_STILL = 0.25                 # a look within this residual (grey levels) of its reference as it is needs no
#                                   search (the tuning sources' moved looks start at 2.8)
_GAIN_RANGE = (0.67, 1.5)        # realign: the exposure gain taken out before the search, at most 1.5x either way
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class FrameMetrics:
    """The metrics of one frame. ``gray`` is the analysis copy used for the cross-frame checks."""

    mean_y: float          # mean luma, 0..255
    std_y: float           # luma standard deviation (contrast)
    bright_frac: float     # share of pixels with luma > 245
    dark_frac: float       # share of pixels with luma < 16
    blue_ratio: float      # mean B / max(mean R, mean G), 0 unless blue is strong (a dark picture is not blue)
    sharpness: float       # variance of the Laplacian
    sharp_n: float         # Laplacian energy over local contrast, in textured blocks only
    noise: float           # Immerkær noise sigma at native resolution (smooth tiles)
    cast: float            # colour-cast factor K = D / M in Lab
    chroma_a: float        # mean Lab a* (green-red) offset from neutral
    chroma_b: float        # mean Lab b* (blue-yellow) offset from neutral
    flat_frac: float       # share of 16x16 blocks with std < 4 (lens covered)
    gray: np.ndarray
    ab: np.ndarray | None = None   # analysis-size Lab a*, b* (float32, 0 = neutral), for the block colour map

    def as_dict(self) -> dict[str, float]:
        """The scalar metrics, rounded, for JSON."""
        return {k: round(float(getattr(self, k)), 4) for k in
                ("mean_y", "std_y", "bright_frac", "dark_frac", "blue_ratio", "sharpness", "sharp_n", "noise",
                  "cast", "chroma_a", "chroma_b", "flat_frac")}


def analysis_gray(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The analysis-size BGR copy of ``frame`` and its luma as float32."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR frame, got shape {frame.shape} dtype {frame.dtype}")
    small = _shrink(frame, ANALYSIS_WIDTH)
    return small, cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


def _shrink(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    return cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def frame_metrics(frame: np.ndarray) -> FrameMetrics:
    """All single-frame metrics of a BGR ``frame``."""
    mid = _shrink(frame, NOISE_WIDTH) if frame.shape[1] > 1.5 * NOISE_WIDTH else frame
    small, gray = analysis_gray(mid)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
    noise = noise_sigma(frame) if mid is frame else max(noise_sigma(frame), noise_sigma(mid))
    means = small.reshape(-1, 3).mean(axis=0)
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    block_std = _blocks(gray).std(axis=(1, 3))
    textured = block_std >= _FLAT_STD
    energy = (_blocks(lap) ** 2).mean(axis=(1, 3))
    sharp_n = float(energy[textured].mean() / max((block_std[textured] ** 2).mean(), 1.0)) if textured.any() else 0.0
    return FrameMetrics(
        mean_y=float(gray.mean()), std_y=float(gray.std()),
        bright_frac=float((gray > 245).mean()), dark_frac=float((gray < 16).mean()),
        blue_ratio=float(means[0] / max(means[1], means[2], 1.0)) if means[0] >= _BLUE_MIN else 0.0,
        sharpness=float(lap.var()), sharp_n=sharp_n,
        noise=noise, **_chroma(lab), flat_frac=float(1.0 - textured.mean()), gray=gray,
        ab=lab[..., 1:].astype(np.float32) - 128.0)


def _blocks(img: np.ndarray) -> np.ndarray:
    """``img`` cut into 16x16 blocks, shape (rows, 16, cols, 16); a frame under 16 px is one block."""
    h, w = (img.shape[0] // _BLOCK) * _BLOCK, (img.shape[1] // _BLOCK) * _BLOCK
    if h == 0 or w == 0:
        return img.reshape(1, img.shape[0], 1, img.shape[1])
    return img[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK)


def noise_sigma(frame: np.ndarray) -> float:
    """Immerkær's fast noise estimate, taken over the smoothest quarter of native-resolution tiles."""
    h, w = frame.shape[:2]
    ny, nx = max(1, min(6, h // (2 * _TILE))), max(1, min(8, w // (2 * _TILE)))
    ys = np.linspace(0, h - _TILE, ny + 2)[1:-1].astype(int) if h > _TILE else [0]
    xs = np.linspace(0, w - _TILE, nx + 2)[1:-1].astype(int) if w > _TILE else [0]
    sigmas = []
    for y in ys:
        for x in xs:
            tile = cv2.cvtColor(frame[y:y + _TILE, x:x + _TILE], cv2.COLOR_BGR2GRAY).astype(np.float32)
            if tile.shape[0] < 3 or tile.shape[1] < 3:
                continue
            conv = cv2.filter2D(tile, -1, _IMMERKAER)[1:-1, 1:-1]
            sigmas.append(np.sqrt(np.pi / 2) * float(np.abs(conv).mean()) / 6.0)
    if not sigmas:
        return 0.0
    return float(np.percentile(sigmas, 25))


def color_cast(small: np.ndarray) -> float:
    """The equivalent-circle colour-cast factor K = D / M in CIE Lab (K > ~1.5 reads as a cast)."""
    return _chroma(cv2.cvtColor(small, cv2.COLOR_BGR2LAB))["cast"]


def _chroma(lab: np.ndarray) -> dict[str, float]:
    lab = lab.reshape(-1, 3).astype(np.float32)
    a, b = lab[:, 1] - 128.0, lab[:, 2] - 128.0
    da, db = float(a.mean()), float(b.mean())
    ma, mb = float(np.abs(a - da).mean()), float(np.abs(b - db).mean())
    return {"cast": float(np.hypot(da, db) / max(np.hypot(ma, mb), 0.5)), "chroma_a": da, "chroma_b": db}


def edge_map(gray: np.ndarray) -> np.ndarray:
    """A blurred Canny edge map (float32), tolerant of small movements of people and leaves."""
    edges = cv2.Canny(gray.astype(np.uint8), 50, 150)
    return cv2.GaussianBlur(edges.astype(np.float32), (0, 0), 3.0)


def edge_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two edge maps (1 = same structure); 0 when either is empty."""
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    a0, b0 = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    return float((a0 * b0).sum() / den) if den > 1e-6 else 0.0


def image_shift(gray: np.ndarray, reference: np.ndarray) -> float:
    """The translation (pixels at analysis size) of ``gray`` against ``reference``, by phase correlation."""
    if gray.shape != reference.shape:
        reference = cv2.resize(reference, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_AREA)
    win = cv2.createHanningWindow((gray.shape[1], gray.shape[0]), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(reference.astype(np.float32), gray.astype(np.float32), win)
    return float(np.hypot(dx, dy))


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """How much the picture changed between two analysis frames, blind to compression ripple.

    Both are shrunk to 80 px wide (coding noise averages out, moving objects stay); the
    median difference is removed (a frozen picture whose gain flickers is still frozen)
    and the 98th percentile of what is left, in absolute value, is returned.
    """
    if a.shape != b.shape:
        return 255.0
    size = (_MOTION_WIDTH, max(1, round(a.shape[0] * _MOTION_WIDTH / a.shape[1])))
    ta = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    tb = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    d = ta - tb
    return float(np.percentile(np.abs(d - np.median(d)), 98))


def block_maps(gray: np.ndarray) -> np.ndarray:
    """Per 16x16 block of an analysis frame: mean, standard deviation and Laplacian energy, shape (3, rows, cols).

    These are the camera's texture map: the baseline keeps them for its reference
    picture, and covering or defocusing shows as blocks that lost what they had.
    """
    g = gray.astype(np.float32)
    blocks = _blocks(g)
    lap = _blocks(cv2.Laplacian(g, cv2.CV_32F))
    return np.stack([blocks.mean(axis=(1, 3)), blocks.std(axis=(1, 3)), (lap ** 2).mean(axis=(1, 3))])


def block_chroma(ab: np.ndarray) -> np.ndarray:
    """Per 16x16 block of an analysis frame's a*/b* planes: the mean a* and b*, shape (2, rows, cols)."""
    return np.stack([_blocks(ab[..., i]).mean(axis=(1, 3)) for i in (0, 1)])


def changed_fraction(a: np.ndarray, b: np.ndarray, level: float = 3.0) -> float:
    """The share of pixels that changed by more than ``level`` grey levels between two analysis frames.

    A global gain or offset change (flicker, auto exposure) is removed first (the median
    difference). A frozen picture gives ~0, an on-screen clock that still ticks over a
    frozen picture well under 1%; a live camera's sensor noise alone changes far more.
    """
    if a.shape != b.shape:
        return 1.0
    d = a.astype(np.float32) - b.astype(np.float32)
    return float((np.abs(d - np.median(d)) > level).mean())


def layout_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two block-mean maps (the scene's layout, blind to gain and offset); 0 when one is flat."""
    if a.shape != b.shape:
        return 0.0
    a0, b0 = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    return float((a0 * b0).sum() / den) if den > 1e-6 else 0.0


@dataclass(frozen=True, slots=True)
class Realignment:
    """How a look lines up with the reference on their low-frequency layout (no feature points needed).

    ``identity`` and ``best`` are robust residuals (grey levels, the best-matching 60 % of
    pixels, gain removed) as the camera is, and after the best re-aim of the search
    (zoom, roll and shift: ``pose``). ``ratio = best / identity`` is about 1 for a camera that
    still points where it did (its moving foreground matches no re-aim either), well under 1
    for one that moved. ``matched`` is the share of the frame that agrees with the
    reference after that re-aim (within 2 grey levels).
    """

    identity: float
    best: float
    pose: tuple[float, float, int, int]   # zoom, roll (radians), shift x, y (analysis pixels)
    matched: float

    @property
    def ratio(self) -> float:
        return 1.0 if self.best >= self.identity else self.best / self.identity

    @property
    def displacement(self) -> float:
        """How far (analysis pixels) the frame's corners move under ``pose``."""
        zoom, roll, dx, dy = self.pose
        half = ANALYSIS_WIDTH / 2.0
        return float(np.hypot(dx, dy) + abs(zoom - 1.0) * half + abs(roll) * half)


def _low_frequency(gray: np.ndarray) -> np.ndarray:
    h = max(1, round(gray.shape[0] * _LOW_WIDTH / gray.shape[1]))
    small = cv2.resize(gray.astype(np.float32), (_LOW_WIDTH, h), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), _LOW_SIGMA)


def _residual(ref: np.ndarray, cur: np.ndarray, m: np.ndarray, step: int = _LOW_SAMPLE) -> float:
    """The mean of the best-matching 60 % of |cur warped by m - ref| (median offset removed); inf if < half overlaps.

    ``ref`` is the reference sampled every ``step`` pixels: the pictures are blurred, so a sparse
    sample scores a pose almost as well as every pixel would, at a fraction of the cost.
    """
    h, w = ref.shape
    warped = cv2.warpAffine(cur, m / step, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=float("nan"))
    d = (warped - ref)[~np.isnan(warped)]
    if d.size < 0.5 * ref.size:
        return float("inf")
    mid = d.size // 2
    d = np.abs(d - np.partition(d, mid)[mid])     # a median offset (the upper middle): gain drift is no re-aim
    k = max(1, int(_LOW_KEEP * d.size))
    return float(np.partition(d, k - 1)[:k].sum()) / k


def exposure_gain(reference: np.ndarray, gray: np.ndarray) -> float:
    """The gain that brings ``gray`` to the exposure of ``reference``: the ratio of their medians, within 0.67-1.5.

    Auto exposure scales the whole picture: on a featureless view with vignetting or a shaded
    corner, a brighter look differs from its reference by a gain that a median offset does not
    remove, and a re-aim can then seem to explain part of it. A re-aim barely moves the median
    of such a view, so the ratio of medians is the exposure change alone.
    """
    g = float(np.median(reference)) / max(float(np.median(gray)), 1.0)
    return min(max(g, _GAIN_RANGE[0]), _GAIN_RANGE[1])


def _forward(zoom: float, roll: float, tx: float, ty: float, w: int, h: int) -> np.ndarray:
    """The 2 x 3 map p -> A p + t: where a re-aimed camera sees the reference point p of a w x h picture.

    A is the zoom and roll about the centre, t the shift (tx, ty) in low-frequency pixels.
    """
    c, s = math.cos(roll) * zoom, math.sin(roll) * zoom
    return np.array([[c, -s, w / 2 - c * w / 2 + s * h / 2 + tx],
                     [s, c, h / 2 - s * w / 2 - c * h / 2 + ty]], dtype=np.float32)


@cache
def _poses(w: int, h: int) -> tuple[tuple[tuple[float, float, int, int], np.ndarray], ...]:
    """The re-aims searched, each with the warpAffine matrix that lines such a look up with a w x h reference.

    The pose keeps the shift in analysis pixels.
    """
    sx, sy = _LOW_STEPS
    k = ANALYSIS_WIDTH / _LOW_WIDTH
    out = []
    for zoom, roll in _LOW_POSES:
        for tx in range(-2 * sx, 2 * sx + 1, 2):
            for ty in range(-2 * sy, 2 * sy + 1, 2):
                fwd = _forward(zoom, roll, tx, ty, w, h)
                out.append(((zoom, roll, round(tx * k), round(ty * k)), cv2.invertAffineTransform(fwd)))
    return tuple(out)


@cache
def _forwards(w: int, h: int) -> np.ndarray:
    """The poses of :func:`_poses` as one (n, 2, 3) stack of forward maps: reference point -> where the look has it."""
    return np.stack([cv2.invertAffineTransform(m) for _, m in _poses(w, h)]).astype(np.float32)


def _rough_residuals(full: np.ndarray, cur: np.ndarray, forwards: np.ndarray, step: int) -> np.ndarray:
    """:func:`_residual` for every pose at once, on the reference sampled every ``step`` pixels (one remap)."""
    ys, xs = np.mgrid[0:full.shape[0]:step, 0:full.shape[1]:step]
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float32)      # (3, n)
    at = forwards @ pts                                                                 # (poses, 2, n)
    seen = cv2.remap(cur, np.ascontiguousarray(at[:, 0]), np.ascontiguousarray(at[:, 1]), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    d = np.sort(seen - full[ys, xs].ravel(), axis=1)                                    # NaN (outside) sort last
    n = np.count_nonzero(~np.isnan(d), axis=1)
    rows = np.arange(d.shape[0])
    d = np.sort(np.abs(d - d[rows, n // 2][:, None]), axis=1)
    k = np.maximum(1, (_LOW_KEEP * n).astype(int))
    trimmed = np.cumsum(np.nan_to_num(d, nan=0.0), axis=1)[rows, k - 1] / k
    return np.where(n >= 0.5 * xs.size, trimmed, np.inf)


def _refine(full: np.ndarray, cur: np.ndarray, pose: tuple[float, float, int, int],
            best: float) -> tuple[float, tuple[float, float, int, int], np.ndarray | None]:
    """Finer steps about the best pose of the grid (the coarse-to-fine search's second scale).

    Two rounds of half and then quarter grid steps in zoom, roll and shift (3 x 3 x 3 x 3 poses
    each, scored at once like the rough pass, on every 2nd pixel).

    Returns the residual, the pose and its warpAffine matrix (``None`` when no finer pose beat ``best``).
    """
    h, w = full.shape
    k = ANALYSIS_WIDTH / _LOW_WIDTH
    zoom, roll, tx, ty = pose[0], pose[1], pose[2] / k, pose[3] / k
    found: np.ndarray | None = None
    for step in (0.5, 0.25):
        grid = [(zoom + dz * _LOW_REFINE[0] * step, roll + da * _LOW_REFINE[1] * step, tx + dx * 2 * step,
                 ty + dy * 2 * step) for dz in (-1, 0, 1) for da in (-1, 0, 1) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        forwards = np.stack([_forward(*p, w, h) for p in grid])
        scores = _rough_residuals(full, cur, forwards, _LOW_SAMPLE)
        i = int(np.argmin(scores))
        if scores[i] < best - 1e-6:
            best, found = float(scores[i]), cv2.invertAffineTransform(forwards[i])
            zoom, roll, tx, ty = grid[i]
    return best, (round(zoom, 3), round(roll, 3), round(tx * k), round(ty * k)), found


def realign(reference: np.ndarray, gray: np.ndarray) -> Realignment:
    """Search the re-aim (zoom, roll, shift) that best lines ``gray`` up with ``reference`` (analysis luma).

    Both are shrunk to 80 px and blurred, so what is compared is the scene's low-frequency
    layout (shading, large shapes, the frame's borders): it works on featureless views where
    edges are too few. The residual is robust (the worst-matching 40 % of pixels, a moving
    foreground, is left out), so objects moving in front of a fixed camera do not read as a
    re-aim, and the exposure gain is taken out first (:func:`exposure_gain`). A look that already
    matches within 0.25 grey levels is not searched; otherwise the search (every pose on a sparse
    sample in one remap, the best 12 rescored, then finer steps about the best) costs about 10 ms;
    it is run only where the edge check cannot judge.
    """
    if gray.shape != reference.shape:
        reference = cv2.resize(reference.astype(np.float32), (gray.shape[1], gray.shape[0]),
                               interpolation=cv2.INTER_AREA)
    full, cur = _low_frequency(reference), _low_frequency(gray)
    cur *= exposure_gain(full, cur)
    h, w = full.shape
    ref = np.ascontiguousarray(full[::_LOW_SAMPLE, ::_LOW_SAMPLE])
    still = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    identity = _residual(ref, cur, still)
    best, pose, best_m = identity, (1.0, 0.0, 0, 0), still
    if identity >= _LOW_STILL:
        # every pose on a sparser sample first, then the closest few scored like the identity
        poses = _poses(w, h)
        rough = _rough_residuals(full, cur, _forwards(w, h), 2 * _LOW_SAMPLE)
        for i in np.argsort(rough, kind="stable")[:_LOW_SHORTLIST]:
            p, m = poses[i]
            r = _residual(ref, cur, m)
            if r < best - 1e-6:
                best, pose, best_m = r, p, m
        if best < identity:
            best, pose, finer = _refine(full, cur, pose, best)
            best_m = best_m if finer is None else finer
    warped = cv2.warpAffine(cur, best_m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=float("nan"))
    d = (warped - full)[~np.isnan(warped)]
    matched = float((np.abs(d - np.median(d)) < 2.0).sum() / full.size) if d.size else 0.0
    return Realignment(identity, best, pose, matched)
