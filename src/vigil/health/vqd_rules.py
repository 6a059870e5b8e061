"""The VQD verdict: rules over frame metrics, judged against a camera's learned baseline (pure, no I/O).

Two regimes:

* **No baseline yet** (a first look, or ``vigil diagnose FILE``): only pictures that no
  healthy camera gives are faults (uniform screens, near-black or blown-out exposure,
  extreme noise or colour, identical frames). A featureless wall, a still room or a
  night scene is unusual, not faulty; subtle faults wait for the baseline. Confidence
  is ``low``.
* **With a baseline** (what the camera learned from its own healthy looks): texture,
  sharpness, brightness, colour, noise floor, frame-to-frame change and a layout
  signature (block means and edges of its reference picture) are compared with that
  camera's own normal. Covering and blur are judged block by block, and the share of
  the frame affected is reported.

Rule order matters: a uniform black or blue picture is ``signal_loss`` and nothing
else; a part of the frame turned featureless while the rest is unchanged is
``covered`` (it hides blur, noise, colour and exposure); a global exposure change
hides the finer checks; ``moved`` is judged last, only when every other check passed.
``frozen`` is decided by a stalled clock or identical frames, never by low motion.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vigil.health import vqd_metrics as vm

__all__ = ["FAULTS", "Baseline", "Diagnosis", "Thresholds", "diagnose_frames", "learn"]

FAULTS: tuple[str, ...] = ("signal_loss", "frozen", "dark", "bright", "noise", "covered", "blur", "color_cast",
                           "moved")
_STATS = ("mean_y", "sharp_n", "noise", "flat_frac", "cast", "chroma_a", "chroma_b", "bright_frac", "changed",
          "moving", "ecorr", "lcorr")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Rule limits, chosen on the tuning sources of ``data/vqd/eval.json`` (``bench/vqd.py``)."""

    uniform_std: float = 3.0        # luma std below this: a uniform screen
    black_mean: float = 16.0
    blue_ratio: float = 2.0         # mean B over max(mean R, mean G), with strong blue
    frozen_changed: float = 0.004   # share of pixels changed by > 3 grey levels below this: identical frames
    frozen_moving: float = 0.003    # share changed by > 10 levels below this: nothing moves (a clock may tick)
    frozen_rel: float = 0.4         # ... and, with a baseline, the small changes (> 3 levels) below this share
    frozen_live_noise: float = 0.5  # of the usual; small changes count as live only on a camera with sensor noise
    dark_abs: float = 30.0          # mean luma below this is dark even for a night camera
    dark_mean: float = 45.0         # with a baseline: below this ...
    dark_rel: float = 0.5           # ... and below this share of the camera's usual luma
    bright_abs: float = 215.0       # mean luma above this is bright for any camera
    bright_frac: float = 0.45       # share of pixels > 245 above the camera's usual share
    bright_rise: float = 55.0       # with a baseline: mean luma this far above the usual ...
    bright_rel: float = 1.6         # ... and above this multiple of it
    cover_flat: float = 4.0         # a block with luma std below this is featureless
    cover_change: float = 15.0      # block mean moved this far: something new is in front of the lens
    cover_textured: float = 8.0     # a reference block this textured that turned featureless lost its detail
    covered_frac: float = 0.4       # share of the frame covered
    cover_intact: float = 0.015     # ... while at least this share is unchanged (not a global exposure change)
    uniform_frac: float = 0.99      # no baseline: this share of featureless blocks ...
    uniform_std_y: float = 6.0      # ... and luma std below this: covered (a lens cap, a hand)
    blur_rel: float = 0.29          # sharpness below this share of the baseline: the log-midpoint between the
    #                                 sharpest blurred (0.09) and the softest healthy (0.95) tuning look
    blur_layout: float = 0.13       # a softer picture whose layout moved this far is judged as moved, not blur
    blur_abs: float = 0.05          # ... or below this when there is no baseline yet (textured scenes only)
    blur_min_textured: float = 0.2  # no baseline: judge blur only with this share of textured blocks
    noise_sigma: float = 12.0       # Immerkær sigma above this (no baseline yet)
    noise_floor: float = 3.0        # with a baseline: above this and above noise_rel x the baseline
    noise_rel: float = 2.0
    cast_k: float = 3.0             # no baseline: colour-cast K above this ...
    cast_k_chroma: float = 15.0     # ... with mean chroma at least this strong
    cast_shift: float = 12.0        # with a baseline: mean chroma moved this far (Lab) from the usual ...
    cast_chroma: float = 10.0       # ... to a picture at least this coloured (not to grey night mode)
    moved_drop: float = 0.25        # edge correlation this far below the camera's usual correlation ...
    moved_layout: float = 0.05      # ... with the layout correlation at least this far below its usual
    moved_shift: float = 4.0        # or a shift (analysis pixels) with an edge drop of at least moved_drop_shift
    moved_drop_shift: float = 0.1
    moved_min_edges: float = 0.02   # below this share of edge pixels in the reference, moved is judged on the
    #                                 low-frequency layout instead (vqd_metrics.realign):
    moved_realign: float = 0.45     # re-aiming cuts the robust residual below this share of the residual as is (in
    #                                 the middle keyframe, exposure gain taken out): the tuning sources' moved looks
    #                                 (the featureless vtest-fog) give 0.39 at most, their healthy looks 1.0


@dataclass
class Baseline:
    """A camera's learned picture: running means of its healthy metrics and a reference picture."""

    samples: int = 0
    stats: dict[str, float] = field(default_factory=dict)
    reference: np.ndarray | None = None   # analysis-size luma, uint8
    reference_ab: np.ndarray | None = None  # analysis-size Lab a*, b* + 128, uint8 (H, W, 2)

    def get(self, key: str) -> float | None:
        return self.stats.get(key) if self.samples else None

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "stats": {k: round(v, 5) for k, v in self.stats.items()}}

    def reference_png(self) -> bytes | None:
        """The reference picture as PNG: luma, plus the a*/b* planes as two more channels when known."""
        if self.reference is None:
            return None
        ab = self.reference_ab
        img = self.reference if ab is None or ab.shape[:2] != self.reference.shape else \
            np.dstack([self.reference, ab[..., 0], ab[..., 1]])
        return cv2.imencode(".png", img)[1].tobytes()

    def to_file(self) -> dict[str, Any]:
        """A self-contained JSON form (stats and the reference picture as base64 PNG), for ``--baseline FILE``."""
        png = self.reference_png()
        return {**self.to_json(), "format": "vigil-vqd-baseline/1",
                "reference_png": base64.b64encode(png).decode() if png else None}

    @classmethod
    def from_file(cls, data: dict[str, Any]) -> Baseline:
        """The baseline of :meth:`to_file` output; ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("format") != "vigil-vqd-baseline/1":
            raise ValueError("not a VQD baseline file (format vigil-vqd-baseline/1)")
        png = data.get("reference_png")
        return cls.load(int(data.get("samples") or 0), data.get("stats"), base64.b64decode(png) if png else None)

    @classmethod
    def load(cls, samples: int, stats: dict[str, Any] | None, reference_png: bytes | None) -> Baseline:
        ref = ab = None
        if reference_png:
            img = cv2.imdecode(np.frombuffer(reference_png, np.uint8), cv2.IMREAD_UNCHANGED)
            if img is not None and img.ndim == 3 and img.shape[2] == 3:
                ref, ab = np.ascontiguousarray(img[..., 0]), np.ascontiguousarray(img[..., 1:])
            else:
                ref = img
        clean = {k: float(v) for k, v in (stats or {}).items() if k in _STATS and isinstance(v, int | float)}
        return cls(samples=samples, stats=clean, reference=ref, reference_ab=ab)


@dataclass(frozen=True)
class Diagnosis:
    """The verdict of one look at a camera: raw faults, aggregated metrics, why, and how sure."""

    faults: tuple[str, ...]
    metrics: dict[str, float]
    explanation: tuple[str, ...]
    confirmed: tuple[str, ...] | None = None        # after debounce (``diagnose_camera`` only)
    frames: tuple[vm.FrameMetrics, ...] = field(default=(), repr=False)
    confidence: str = "low"                         # low: no baseline; medium: a young one; high

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"faults": list(self.faults), "metrics": self.metrics, "confidence": self.confidence}
        if self.confirmed is not None:
            out["confirmed"] = list(self.confirmed)
        return out


def diagnose_frames(frames: list[np.ndarray], baseline: Baseline | None = None, *,
                    limits: Thresholds | None = None, times: list[float | None] | None = None) -> Diagnosis:
    """Diagnose a few keyframes (BGR uint8, in time order) of one camera against its ``baseline``.

    ``times`` are the keyframes' presentation times, when known: keyframes that keep the
    same time mean the stream's clock stalled (frozen).
    """
    t = limits or Thresholds()
    if not frames:
        return Diagnosis(("signal_loss",), {"frames": 0.0}, ("signal_loss: no video frame arrived",))
    fm = [vm.frame_metrics(f) for f in frames]
    m = _aggregate(fm)
    b = baseline if baseline is not None and baseline.samples else None
    confidence = "low" if b is None else ("medium" if b.samples < 3 else "high")
    if b is not None and b.reference is not None:
        _compare(fm, b, m)
    faults: list[str] = []
    why: list[str] = []
    if _signal_loss(m, t, why) and not _dimmed_scene(m, b, faults, why):
        return Diagnosis(("signal_loss",), _round(m), tuple(why), frames=tuple(fm), confidence=confidence)
    known = [x for x in (times or []) if x is not None]
    if len(known) >= 2 and max(known) - min(known) < 1e-3:
        faults.append("frozen")
        why.append(f"frozen: the stream's clock stalled ({len(known)} keyframes with the same timestamp)")
    for check in (_covered, _exposure, _blur, _picture, _frozen):
        check(m, b, t, faults, why)
    if not faults and b is not None and b.reference is not None and m["ref_edges"] < t.moved_min_edges:
        _realign(fm, b.reference, m)
    _moved(m, b, t, faults, why)
    if not faults:
        why.append("verdict: no fault")
    if b is None:
        why.append("confidence: low (no baseline yet: only faults no healthy camera shows are reported)")
    else:
        why.append(f"confidence: {confidence} (baseline of {b.samples} healthy look{'s' * (b.samples != 1)})")
    return Diagnosis(tuple(f for f in FAULTS if f in faults), _round(m), tuple(why), frames=tuple(fm),
                     confidence=confidence)


def learn(baseline: Baseline | None, diagnosis: Diagnosis, *, horizon: int = 20) -> Baseline:
    """Fold a fault-free diagnosis into the baseline (running mean, then an EMA over ``horizon`` samples)."""
    b = baseline or Baseline()
    if diagnosis.faults or not diagnosis.frames:
        return b
    n = b.samples + 1
    alpha = 1.0 / min(n, horizon)
    stats = dict(b.stats)
    for key in _STATS:
        v = diagnosis.metrics.get(key)
        if v is None or not math.isfinite(v):
            continue
        stats[key] = v if key not in stats else (1 - alpha) * stats[key] + alpha * v
    gray = np.median(np.stack([x.gray for x in diagnosis.frames]), axis=0)
    ab = None
    abs_ = [x.ab for x in diagnosis.frames if x.ab is not None]
    if len(abs_) == len(diagnosis.frames):
        ab = np.median(np.stack(abs_), axis=0) + 128.0
    return Baseline(samples=n, stats=stats, reference=_blend(b.reference, gray, alpha),
                    reference_ab=None if ab is None else _blend(b.reference_ab, ab, alpha))


def _blend(old: np.ndarray | None, new: np.ndarray, alpha: float) -> np.ndarray:
    """``new`` folded into ``old`` with weight ``alpha`` (``new`` alone when there is no comparable ``old``)."""
    out = new if old is None or old.shape != new.shape else (1 - alpha) * old.astype(np.float32) + alpha * new
    return np.clip(out, 0, 255).astype(np.uint8)


def _aggregate(fm: list[vm.FrameMetrics]) -> dict[str, float]:
    m = {k: float(np.median([x.as_dict()[k] for x in fm])) for k in fm[0].as_dict()}
    m["frames"] = float(len(fm))
    if len(fm) > 1:
        pairs = list(zip(fm, fm[1:], strict=False))
        m["changed"] = float(np.median([vm.changed_fraction(a.gray, b.gray) for a, b in pairs]))
        m["moving"] = float(np.median([vm.changed_fraction(a.gray, b.gray, 10.0) for a, b in pairs]))
    return m


def _compare(fm: list[vm.FrameMetrics], b: Baseline, m: dict[str, float]) -> None:
    """Block-by-block and layout comparison of a look with the camera's reference picture (into ``m``)."""
    assert b.reference is not None
    size = (fm[0].gray.shape[1], fm[0].gray.shape[0])
    ref: np.ndarray = b.reference.astype(np.float32)
    if ref.shape != fm[0].gray.shape:
        ref = cv2.resize(ref, size, interpolation=cv2.INTER_AREA)
    r = vm.block_maps(ref)
    c = np.median(np.stack([vm.block_maps(x.gray) for x in fm]), axis=0)
    tint = None
    abs_ = [x.ab for x in fm if x.ab is not None]
    if b.reference_ab is not None and len(abs_) == len(fm):
        ref_ab: np.ndarray = b.reference_ab.astype(np.float32) - 128.0
        if ref_ab.shape[:2] != fm[0].gray.shape:
            ref_ab = cv2.resize(ref_ab, size, interpolation=cv2.INTER_AREA)
        now = np.median(np.stack([vm.block_chroma(ab) for ab in abs_]), axis=0)
        tint = np.hypot(*(now - vm.block_chroma(ref_ab)))
    lost, intact = _cover_blocks(c, r, tint)
    kept = (c[1] >= 4.0) & (r[1] >= 4.0)
    m["cover_frac"] = float(lost.mean())
    m["intact_frac"] = float(intact.mean())
    m["kept_sharp"] = float(np.median(c[2][kept] / np.maximum(r[2][kept], 1e-3))) if kept.any() else 1.0
    textured = r[1] >= 6.0
    m["textured_frac"] = float(textured.mean())
    m["blur_frac"] = float((c[2][textured] < 0.25 * r[2][textured]).mean()) if textured.any() else 0.0
    ref_edges = vm.edge_map(ref)
    m["ref_edges"] = float((cv2.Canny(ref.astype(np.uint8), 50, 150) > 0).mean())
    m["ecorr"] = float(np.median([vm.edge_correlation(vm.edge_map(x.gray), ref_edges) for x in fm]))
    m["lcorr"] = vm.layout_correlation(c[0], r[0])
    gray = np.median(np.stack([x.gray for x in fm]), axis=0).astype(np.float32)
    win = cv2.createHanningWindow((gray.shape[1], gray.shape[0]), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(ref, gray, win)
    m["shift"] = float(np.hypot(dx, dy))
    if m["shift"] > 2.0 and m["cover_frac"] > 0:
        # Does re-aiming explain the change? Then the "cover" is the scene seen from elsewhere.
        back = cv2.warpAffine(gray, np.array([[1, 0, -dx], [0, 1, -dy]], dtype=np.float32), (gray.shape[1], gray.shape[0]),
                              borderMode=cv2.BORDER_REPLICATE)
        lost_back, _ = _cover_blocks(vm.block_maps(back), r, None)
        m["cover_aligned"] = float(lost_back.mean())


def _cover_blocks(c: np.ndarray, r: np.ndarray, tint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Blocks that lost their detail (featureless now: something new in front, or texture gone), and intact ones.

    Intact blocks kept their brightness (within a slow lighting drift) and, when the
    reference colour is known, their colour: an exposure or colour change of the whole
    picture leaves none intact, a cover leaves the uncovered part as it was.
    """
    flat = c[1] < 4.0
    delta = np.abs(c[0] - r[0])
    lost = flat & ((delta > 15.0) | (r[1] >= 8.0))
    valid = (r[0] >= 12.0) & (r[0] <= 235.0)     # a clipped block stays clipped under any exposure change
    intact = valid & (delta < np.maximum(8.0, 0.08 * r[0])) & ~lost
    if tint is not None:
        intact &= tint < 4.0
    return lost, intact


def _dimmed_scene(m: dict[str, float], b: Baseline | None, faults: list[str], why: list[str]) -> bool:
    """A near-uniform dark picture that still has this camera's layout is its scene, dimmed: dark, not no signal.

    The layout must correlate with the reference at least 0.3, and 35 % as well as the camera's
    looks usually do (a generated screen, even with grain, correlates about 0: at most 0.16 on the
    tuning sources, while their scenes dimmed to 18 % in fog, as flat as a screen, keep 0.40 or more).
    """
    usual = (b.get("lcorr") if b else None) or 1.0
    if m.get("lcorr", 0.0) < max(0.3, 0.35 * usual) or m["mean_y"] < 4.0:
        return False
    faults.append("dark")
    why[-1] = (f"dark: mean luma {m['mean_y']:.1f}; nearly uniform, yet the layout still matches this camera's "
               f"reference (correlation {m['lcorr']:.2f}), so the signal is there")
    return True


def _round(m: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in m.items()}


def _signal_loss(m: dict[str, float], t: Thresholds, why: list[str]) -> bool:
    if m["std_y"] >= t.uniform_std:
        return False
    if m["mean_y"] < t.black_mean:
        why.append(f"signal_loss: uniform black screen (mean luma {m['mean_y']:.1f}, std {m['std_y']:.2f})")
        return True
    if m["blue_ratio"] > t.blue_ratio:
        why.append(f"signal_loss: uniform blue screen (blue {m['blue_ratio']:.1f}x red/green)")
        return True
    return False


def _covered(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    """Part of the frame turned featureless (new flat surface, or detail gone) while the rest kept its detail."""
    if "dark" in faults:
        return
    if "cover_frac" not in m:
        if m["flat_frac"] >= t.uniform_frac and m["std_y"] < t.uniform_std_y and m["mean_y"] >= t.dark_abs:
            faults.append("covered")
            why.append(f"covered: the picture is featureless ({m['flat_frac']:.0%} of blocks, luma std "
                       f"{m['std_y']:.1f}) but not a no-signal screen")
        return
    frac = m["cover_frac"]
    if m.get("cover_aligned", frac) < 0.5 * frac:
        return   # the view moved: judged by the moved check
    if frac >= t.covered_frac and m["intact_frac"] >= t.cover_intact and m["kept_sharp"] >= 0.5:
        usual_flat = (b.get("flat_frac") if b else None) or 0.0
        faults.append("covered")
        why.append(f"covered: {frac:.0%} of the frame lost its detail against this camera's reference while "
                   f"{m['intact_frac']:.0%} is unchanged (limit {t.covered_frac:.0%}; usually {usual_flat:.0%} "
                   "of blocks are featureless)")


def _exposure(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if "covered" in faults or "dark" in faults:
        return
    usual = b.get("mean_y") if b else None
    frac_limit = t.bright_frac + ((b.get("bright_frac") or 0.0) if b else 0.0)
    y = m["mean_y"]
    if y < t.dark_abs or (usual and y < min(t.dark_mean, t.dark_rel * usual)):
        faults.append("dark")
        why.append(f"dark: mean luma {y:.1f}" + (f", this camera's usual {usual:.1f}" if usual else
                                                  f" < {t.dark_abs:g}"))
    elif y > t.bright_abs or m["bright_frac"] > frac_limit or \
            (usual and y > usual + t.bright_rise and y > t.bright_rel * usual):
        faults.append("bright")
        why.append(f"bright: mean luma {y:.1f}" + (f" (usual {usual:.1f})" if usual else "") +
                   f", {m['bright_frac']:.0%} of pixels saturated (limit {frac_limit:.0%})")


def _blur(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if {"dark", "bright", "covered"} & set(faults):
        return
    usual = b.get("sharp_n") if b else None
    usual_l = b.get("lcorr") if b else None
    if usual and usual_l is not None and "lcorr" in m and usual_l - m["lcorr"] > t.blur_layout:
        why.append(f"blur: not judged (the layout changed: correlation {m['lcorr']:.2f}, usual {usual_l:.2f})")
        return
    if usual:
        if m["sharp_n"] < t.blur_rel * usual:
            faults.append("blur")
            why.append(f"blur: sharpness {m['sharp_n']:.3f} is {m['sharp_n'] / usual:.0%} of this camera's "
                       f"baseline {usual:.3f} (limit {t.blur_rel:.0%}); {m.get('blur_frac', 1.0):.0%} of its "
                       "detailed blocks went soft")
    elif 1.0 - m["flat_frac"] >= t.blur_min_textured and m["sharp_n"] < t.blur_abs:
        faults.append("blur")
        why.append(f"blur: sharpness {m['sharp_n']:.3f} < {t.blur_abs:g} (no baseline learned yet)")


def _picture(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if {"dark", "bright", "covered"} & set(faults):
        return
    usual_noise = b.get("noise") if b else None
    noise_limit = t.noise_sigma if usual_noise is None else max(t.noise_floor, t.noise_rel * usual_noise)
    if m["noise"] > noise_limit:
        faults.append("noise")
        why.append(f"noise: sigma {m['noise']:.1f} > {noise_limit:.1f}")
    chroma = math.hypot(m["chroma_a"], m["chroma_b"])
    if b is not None and b.get("chroma_a") is not None:
        shift = _chroma_shift(m, b)
        if shift > t.cast_shift and chroma > t.cast_chroma:
            faults.append("color_cast")
            why.append(f"color_cast: mean colour moved {shift:.1f} Lab units from this camera's usual "
                       f"(limit {t.cast_shift:g})")
    elif m["cast"] > t.cast_k and chroma > t.cast_k_chroma:
        faults.append("color_cast")
        why.append(f"color_cast: K {m['cast']:.2f} > {t.cast_k:g}, mean chroma {chroma:.0f}")


def _chroma_shift(m: dict[str, float], b: Baseline | None) -> float:
    """How far (Lab units) the mean colour moved from the camera's usual; 0 without a baseline."""
    usual_a, usual_b = (b.get("chroma_a"), b.get("chroma_b")) if b else (None, None)
    if usual_a is None or usual_b is None:
        return 0.0
    return math.hypot(m["chroma_a"] - usual_a, m["chroma_b"] - usual_b)


def _frozen(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    """Identical frames: nothing moves and no sensor noise either. Low motion alone is never frozen."""
    changed, moving = m.get("changed"), m.get("moving")
    if "frozen" in faults:
        return
    if changed is None or moving is None or {"dark", "bright", "covered", "blur"} & set(faults):
        why.append("frozen: not judged (" + ("one frame" if changed is None else "too little detail") + ")")
        return
    usual, noisy = (b.get("changed"), (b.get("noise") or 0.0) >= t.frozen_live_noise) if b else (None, False)
    if changed < t.frozen_changed:
        still = True
    elif usual is not None and moving < t.frozen_moving:
        still = not noisy or changed < t.frozen_rel * usual
    else:
        still = False
    if still:
        faults.append("frozen")
        why.append(f"frozen: {moving:.2%} of the picture moved and {changed:.2%} changed at all between keyframes"
                   + (f" (usually {usual:.2%})" if usual is not None else "") + ": identical frames, no live noise")


def _realign(fm: list[vm.FrameMetrics], reference: np.ndarray, m: dict[str, float]) -> None:
    """The low-frequency re-aim search against the reference (into ``m``), for views with too few edges.

    Each keyframe is searched on its own and the middle one by ratio speaks for the look (the upper
    middle of an even number): a re-aim is the same in every keyframe, while the chance fit of a
    foreground that moves from one keyframe to the next is not.
    """
    found = sorted((vm.realign(reference, x.gray) for x in fm), key=lambda r: r.ratio)
    r = found[len(found) // 2]
    zoom, roll, dx, dy = r.pose
    m.update({"realign_ratio": r.ratio, "realign_shift": r.displacement, "realign_matched": r.matched,
              "realign_zoom": zoom, "realign_roll": roll, "realign_dx": float(dx), "realign_dy": float(dy)})


def _moved_low_texture(m: dict[str, float], t: Thresholds, faults: list[str], why: list[str]) -> None:
    """A featureless view: moved when only a re-aim makes its low-frequency layout match the reference again."""
    ratio, shift = m["realign_ratio"], m["realign_shift"]
    if ratio < t.moved_realign and shift > t.moved_shift:
        faults.append("moved")
        why.append(f"moved: the view's low-frequency layout matches the reference only re-aimed (zoom "
                   f"{m['realign_zoom']:.2f}, roll {m['realign_roll']:.2f} rad, shift {m['realign_dx']:+.0f}/"
                   f"{m['realign_dy']:+.0f} px): the residual falls to {ratio:.0%} (limit {t.moved_realign:.0%}); "
                   f"{m['realign_matched']:.0%} of the frame then agrees with it")
    else:
        why.append(f"moved: judged on the low-frequency layout (few edges): re-aiming leaves {ratio:.0%} of the "
                   f"residual (limit {t.moved_realign:.0%})")


def _moved(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if not faults and "realign_ratio" in m:
        _moved_low_texture(m, t, faults, why)
        return
    if faults or "ecorr" not in m or m["ref_edges"] < t.moved_min_edges:
        reason = "other faults" if faults else ("no reference picture yet" if "ecorr" not in m else
                                                 "too few edges in the reference picture")
        why.append(f"moved: not judged ({reason})")
        return
    usual = (b.get("ecorr") if b else None) or 0.85
    usual_l = (b.get("lcorr") if b else None) or 0.95
    drop, ldrop = usual - m["ecorr"], usual_l - m["lcorr"]
    if (drop > t.moved_drop and ldrop > t.moved_layout) or (m["shift"] > t.moved_shift and drop > t.moved_drop_shift):
        faults.append("moved")
        why.append(f"moved: edge correlation with the reference {m['ecorr']:.2f} (usual {usual:.2f}), layout "
                   f"{m['lcorr']:.2f} (usual {usual_l:.2f}), shift {m['shift']:.1f} px")
