"""The VQD verdict: rules over frame metrics, judged against a camera's learned baseline (pure, no I/O).

Rule order matters. A uniform black or blue picture is ``signal_loss`` and nothing
else. Exposure (``dark``, ``bright``) hides the finer checks, because a dark picture
also looks flat, soft and unlike its reference. ``covered`` hides blur, noise and
colour checks. ``moved`` is judged last, only when every other check passed, since
blur, noise, exposure and covering all lower the edge correlation too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vigil.health import vqd_metrics as vm

__all__ = ["FAULTS", "Baseline", "Diagnosis", "Thresholds", "diagnose_frames", "learn"]

FAULTS: tuple[str, ...] = ("signal_loss", "frozen", "dark", "bright", "noise", "covered", "blur", "color_cast",
                           "moved")
_STATS = ("mean_y", "sharp_n", "noise", "flat_frac", "cast", "chroma_a", "chroma_b", "bright_frac", "diff", "ecorr")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Rule limits; the defaults were tuned on vtest.avi and tree.avi and checked by ``bench/vqd.py``."""

    uniform_std: float = 3.0        # luma std below this: a uniform screen
    black_mean: float = 16.0
    blue_ratio: float = 2.0         # mean B over max(mean R, mean G)
    frozen_diff: float = 4.5        # change between keyframes (98th pct. of abs diff at 80 px wide)
    frozen_rel: float = 0.3         # ... and below this share of the camera's usual change
    dark_mean: float = 40.0
    dark_rel: float = 0.35          # or a sudden drop below this share of the camera's usual luma...
    dark_rel_mean: float = 60.0     # ... to below this
    bright_mean: float = 200.0
    bright_frac: float = 0.4        # share of pixels > 245 (plus the camera's usual share)
    covered_frac: float = 0.5       # share of flat 16x16 blocks (plus the camera's usual share + 0.3)
    uniform_frac: float = 0.97      # a picture this flat is covered, not blurred
    blur_rel: float = 0.25          # normalised sharpness below this share of the baseline
    blur_abs: float = 0.1           # ... or below this when there is no baseline yet
    noise_sigma: float = 8.0        # Immerkær sigma above this (no baseline yet)
    noise_floor: float = 3.0        # with a baseline: above this and above noise_rel x the baseline
    noise_rel: float = 2.0
    cast_k: float = 2.0             # colour-cast K above this and above the baseline + 1
    cast_shift: float = 15.0        # or mean chroma moved this far (Lab) from the camera's usual...
    cast_chroma: float = 10.0       # ... to a picture at least this coloured (not to grey night mode)
    moved_drop: float = 0.25        # edge correlation this far below the camera's usual correlation
    moved_shift: float = 4.0        # or a shift (analysis pixels) with a drop of at least moved_drop_shift
    moved_drop_shift: float = 0.1


@dataclass
class Baseline:
    """A camera's learned picture: running means of its healthy metrics and a reference picture."""

    samples: int = 0
    stats: dict[str, float] = field(default_factory=dict)
    reference: np.ndarray | None = None   # analysis-size luma, uint8

    def get(self, key: str) -> float | None:
        return self.stats.get(key) if self.samples else None

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "stats": {k: round(v, 5) for k, v in self.stats.items()}}

    def reference_png(self) -> bytes | None:
        if self.reference is None:
            return None
        return cv2.imencode(".png", self.reference)[1].tobytes()

    @classmethod
    def load(cls, samples: int, stats: dict[str, Any] | None, reference_png: bytes | None) -> Baseline:
        ref = None
        if reference_png:
            ref = cv2.imdecode(np.frombuffer(reference_png, np.uint8), cv2.IMREAD_GRAYSCALE)
        clean = {k: float(v) for k, v in (stats or {}).items() if k in _STATS and isinstance(v, int | float)}
        return cls(samples=samples, stats=clean, reference=ref)


@dataclass(frozen=True)
class Diagnosis:
    """The verdict of one look at a camera: raw faults, aggregated metrics and why."""

    faults: tuple[str, ...]
    metrics: dict[str, float]
    explanation: tuple[str, ...]
    confirmed: tuple[str, ...] | None = None        # after debounce (``diagnose_camera`` only)
    frames: tuple[vm.FrameMetrics, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"faults": list(self.faults), "metrics": self.metrics}
        if self.confirmed is not None:
            out["confirmed"] = list(self.confirmed)
        return out


def diagnose_frames(frames: list[np.ndarray], baseline: Baseline | None = None, *,
                    limits: Thresholds | None = None) -> Diagnosis:
    """Diagnose a few keyframes (BGR uint8, in time order) of one camera against its ``baseline``."""
    t = limits or Thresholds()
    if not frames:
        return Diagnosis(("signal_loss",), {"frames": 0.0}, ("signal_loss: no video frame arrived",))
    fm = [vm.frame_metrics(f) for f in frames]
    m = _aggregate(fm)
    b = baseline if baseline is not None and baseline.samples else None
    if b is not None and b.reference is not None:
        ref_edges = vm.edge_map(b.reference.astype(np.float32))
        m["ecorr"] = float(np.median([vm.edge_correlation(vm.edge_map(x.gray), ref_edges) for x in fm]))
        m["shift"] = float(np.median([vm.image_shift(x.gray, b.reference) for x in fm]))
    faults: list[str] = []
    why: list[str] = []
    if _signal_loss(m, t, why):
        return Diagnosis(("signal_loss",), _round(m), tuple(why), frames=tuple(fm))
    for check in (_exposure, _lens, _picture, _frozen, _moved):
        check(m, b, t, faults, why)
    if not faults:
        why.append("verdict: no fault")
    return Diagnosis(tuple(f for f in FAULTS if f in faults), _round(m), tuple(why), frames=tuple(fm))


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
    if b.reference is None or b.reference.shape != gray.shape:
        ref = gray
    else:
        ref = (1 - alpha) * b.reference.astype(np.float32) + alpha * gray
    return Baseline(samples=n, stats=stats, reference=np.clip(ref, 0, 255).astype(np.uint8))


def _aggregate(fm: list[vm.FrameMetrics]) -> dict[str, float]:
    m = {k: float(np.median([x.as_dict()[k] for x in fm])) for k in fm[0].as_dict()}
    m["frames"] = float(len(fm))
    if len(fm) > 1:
        m["diff"] = float(np.median([vm.frame_difference(a.gray, b.gray) for a, b in zip(fm, fm[1:], strict=False)]))
    return m


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


def _exposure(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    frac_limit = t.bright_frac + ((b.get("bright_frac") or 0.0) if b else 0.0)
    usual = b.get("mean_y") if b else None
    if m["mean_y"] < t.dark_mean:
        faults.append("dark")
        why.append(f"dark: mean luma {m['mean_y']:.1f} < {t.dark_mean:g}")
    elif usual and m["mean_y"] < min(t.dark_rel_mean, t.dark_rel * usual):
        faults.append("dark")
        why.append(f"dark: mean luma {m['mean_y']:.1f} fell below {t.dark_rel:.0%} of this camera's usual "
                   f"{usual:.1f}")
    elif m["mean_y"] > t.bright_mean or m["bright_frac"] > frac_limit:
        faults.append("bright")
        why.append(f"bright: mean luma {m['mean_y']:.1f} (limit {t.bright_mean:g}), "
                   f"{m['bright_frac']:.0%} of pixels saturated (limit {frac_limit:.0%})")


def _lens(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    """Covered or blurred: a soft picture everywhere is blur; flat areas beside sharp ones are a cover."""
    if "dark" in faults or "bright" in faults:
        return
    usual = b.get("sharp_n") if b else None
    if usual:
        blurred = m["sharp_n"] < t.blur_rel * usual
        blur_why = (f"blur: sharpness {m['sharp_n']:.3f} is {m['sharp_n'] / usual:.0%} of this camera's "
                    f"baseline {usual:.3f} (limit {t.blur_rel:.0%})")
    else:
        blurred = m["sharp_n"] < t.blur_abs
        blur_why = f"blur: sharpness {m['sharp_n']:.3f} < {t.blur_abs:g} (no baseline learned yet)"
    flat_usual = b.get("flat_frac") if b else None
    flat_limit = t.covered_frac if flat_usual is None else max(t.covered_frac, flat_usual + 0.3)
    if m["flat_frac"] > flat_limit and (not blurred or m["flat_frac"] > t.uniform_frac):
        faults.append("covered")
        why.append(f"covered: {m['flat_frac']:.0%} of the picture is featureless (limit {flat_limit:.0%})")
    elif blurred:
        faults.append("blur")
        why.append(blur_why)


def _picture(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if {"dark", "bright", "covered"} & set(faults):
        return
    usual_noise = b.get("noise") if b else None
    noise_limit = t.noise_sigma if usual_noise is None else max(t.noise_floor, t.noise_rel * usual_noise)
    if m["noise"] > noise_limit:
        faults.append("noise")
        why.append(f"noise: sigma {m['noise']:.1f} > {noise_limit:.1f}")
    cast_limit = max(t.cast_k, (b.get("cast") or 0.0) + 1.0 if b else 0.0)
    usual_a, usual_b = (b.get("chroma_a"), b.get("chroma_b")) if b else (None, None)
    shift = math.hypot(m["chroma_a"] - usual_a, m["chroma_b"] - usual_b) if usual_a is not None \
        and usual_b is not None else 0.0
    if m["cast"] > cast_limit:
        faults.append("color_cast")
        why.append(f"color_cast: K {m['cast']:.2f} > {cast_limit:.2f}")
    elif shift > t.cast_shift and math.hypot(m["chroma_a"], m["chroma_b"]) > t.cast_chroma:
        faults.append("color_cast")
        why.append(f"color_cast: mean colour moved {shift:.1f} Lab units from this camera's usual "
                   f"(limit {t.cast_shift:g})")


def _frozen(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    diff = m.get("diff")
    if diff is None or {"dark", "bright", "covered", "blur"} & set(faults):
        why.append("frozen: not judged (" + ("one frame" if diff is None else "too little detail") + ")")
        return
    usual = b.get("diff") if b else None
    limit = t.frozen_diff if usual is None else min(t.frozen_diff, t.frozen_rel * usual)
    if diff < limit:
        faults.append("frozen")
        why.append(f"frozen: the picture changed by only {diff:.2f} grey levels between keyframes "
                   f"(limit {limit:.2f})")


def _moved(m: dict[str, float], b: Baseline | None, t: Thresholds, faults: list[str], why: list[str]) -> None:
    if faults or "ecorr" not in m:
        why.append("moved: not judged (" + ("other faults" if faults else "no reference picture yet") + ")")
        return
    usual = (b.get("ecorr") if b else None) or 0.85
    drop = usual - m["ecorr"]
    if drop > t.moved_drop or (m["shift"] > t.moved_shift and drop > t.moved_drop_shift):
        faults.append("moved")
        why.append(f"moved: edge correlation with the reference {m['ecorr']:.2f} (usual {usual:.2f}), "
                   f"shift {m['shift']:.1f} px")
