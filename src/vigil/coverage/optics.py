"""Camera optics: focal length in pixels, pixel density (PPM), DORI levels, ranges and the near dead zone.

``f_px = (H_res / 2) / tan(HFOV / 2)``; ``PPM(d) = f_px / d`` at slant distance ``d``;
the greatest slant distance for level L is ``d_L = f_px / PPM_L``.

A PTZ on a preset tour (``presets`` > 1) holds each preset for ``dwell_s`` and needs ``move_s`` to reach the
next, so over the period ``T = presets * (dwell_s + move_s)`` a preset is in view ``dwell_s / T`` of the time
(its :attr:`CameraSpec.dwell_fraction`). The planner counts a target as covered by a tour only when the
presets that see it add up to at least the catalog's ``min_dwell_fraction`` of the period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vigil.core.errors import InputError

__all__ = ["DEFAULT_HEIGHTS", "MIN_DWELL_FRACTION", "PROFILES", "TARGET_HEIGHT_M", "CameraSpec", "Catalog", "auto_tilt", "dead_zone_m", "far_limit_m",
           "catalog_from_dict", "focal_px", "horizontal_range_m", "level_ppm", "load_catalog", "ppm_at", "slant_range_m"]

TARGET_HEIGHT_M = 1.5  # height of the watched point (a person's torso)
MIN_DWELL_FRACTION = 0.2  # a PTZ tour counts a target only if it is in view at least this share of the period
# mounting height per mount: metres above ground (wall, pole, entrance), above the roof (high_point,
# rooftop) or below the top of a mast or tower (tower)
DEFAULT_HEIGHTS: dict[str, float] = {"wall": 4.0, "pole": 6.0, "entrance": 3.5, "high_point": 2.0, "rooftop": 3.0,
                                     "tower": 2.0}

PROFILES: dict[str, dict[str, float]] = {
    "dori2015": {"monitor": 12.5, "detect": 25.0, "observe": 62.5, "recognise": 125.0, "identify": 250.0},
    "iec2025": {"overview": 20.0, "outline": 40.0, "discern": 80.0, "perceive": 125.0, "characterise": 250.0,
                "validate": 500.0, "scrutinise": 1500.0},
}
_ALIASES = {"recognize": "recognise", "characterize": "characterise"}


def level_ppm(level: str | float, profile: str = "dori2015") -> float:
    """Pixels per metre required by ``level`` of ``profile`` (a number is taken as PPM itself)."""
    if isinstance(level, int | float):
        return float(level)
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    name = _ALIASES.get(level.strip().lower(), level.strip().lower())
    try:
        return float(name)
    except ValueError:
        pass
    if name not in PROFILES[profile]:
        raise InputError(f"unknown level {level!r} for profile {profile}; use one of {', '.join(PROFILES[profile])}")
    return PROFILES[profile][name]


def focal_px(h_res_px: float, hfov_deg: float) -> float:
    """Focal length in pixels; a 360° (panoramic) lens is taken as equiangular."""
    if not (0 < hfov_deg <= 360) or h_res_px <= 0:
        raise InputError(f"bad optics: {h_res_px} px over {hfov_deg}°")
    if hfov_deg >= 180:
        return h_res_px / math.radians(hfov_deg)
    return (h_res_px / 2) / math.tan(math.radians(hfov_deg) / 2)


def ppm_at(f_px: float, slant_m: float) -> float:
    """Pixel density at slant distance ``slant_m``."""
    return f_px / slant_m


def slant_range_m(f_px: float, ppm: float) -> float:
    """The greatest slant distance at which ``ppm`` is reached."""
    return f_px / ppm


def horizontal_range_m(f_px: float, ppm: float, height_m: float, target_h: float = TARGET_HEIGHT_M) -> float:
    """The greatest ground distance for ``ppm`` from a camera ``height_m`` up (0 if never reached)."""
    d = slant_range_m(f_px, ppm)
    dh = height_m - target_h
    return math.sqrt(d * d - dh * dh) if d > abs(dh) else 0.0


def dead_zone_m(height_m: float, tilt_deg: float, vfov_deg: float, target_h: float = TARGET_HEIGHT_M) -> float:
    """Ground visible only beyond ``r_min = (h_cam - h_t) / tan(t + VFOV/2)``."""
    dh = height_m - target_h
    ang = math.radians(tilt_deg + vfov_deg / 2)
    if dh <= 0 or ang >= math.pi / 2:
        return 0.0
    return dh / math.tan(ang) if ang > 0 else math.inf


def far_limit_m(height_m: float, tilt_deg: float, vfov_deg: float, target_h: float = TARGET_HEIGHT_M) -> float:
    """Ground beyond which the upper edge of the picture no longer reaches (``inf`` if it shows the horizon)."""
    dh = height_m - target_h
    ang = math.radians(tilt_deg - vfov_deg / 2)
    if ang <= 0 or dh <= 0:
        return math.inf
    return dh / math.tan(ang)


def auto_tilt(height_m: float, range_m: float, target_h: float = TARGET_HEIGHT_M) -> float:
    """The tilt (degrees down) that aims the optical axis at 60 % of ``range_m``."""
    dh = max(height_m - target_h, 0.0)
    return math.degrees(math.atan2(dh, max(0.6 * range_m, 0.1)))


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera model of the catalog."""

    name: str
    h_res_px: int
    v_res_px: int
    hfov_deg: float
    vfov_deg: float
    cost: float
    ir_range_m: float = 0.0
    form_factor: str = "bullet"
    mounts: tuple[str, ...] = ("wall", "pole", "entrance")
    presets: int = 1  # > 1: a PTZ on a preset tour, presets side by side ``preset_step_deg`` apart
    dwell_s: float = 0.0
    move_s: float = 0.0

    @property
    def f_px(self) -> float:
        return focal_px(self.h_res_px, self.hfov_deg)

    @property
    def preset_step_deg(self) -> float:
        """Heading between neighbouring presets: one field of view, so the presets tile a sector."""
        return min(self.hfov_deg, 360.0 / self.presets)

    @property
    def tour_period_s(self) -> float:
        """Seconds for one round of the tour (0 for a fixed camera)."""
        return self.presets * (self.dwell_s + self.move_s) if self.presets > 1 else 0.0

    @property
    def dwell_fraction(self) -> float:
        """Share of the time one preset is in view (1 for a fixed camera)."""
        return self.dwell_s / self.tour_period_s if self.presets > 1 else 1.0

    def preset_headings(self, heading_deg: float) -> list[float]:
        """Headings of the tour's presets around ``heading_deg`` (the tour's centre)."""
        step = self.preset_step_deg
        return [(heading_deg + (k - (self.presets - 1) / 2) * step) % 360.0 for k in range(self.presets)]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CameraSpec:
        """Validate one catalog entry."""
        try:
            h, hfov = int(d["h_res_px"]), float(d["hfov_deg"])
            v = int(d.get("v_res_px") or round(h * 9 / 16))
            vfov = float(d.get("vfov_deg") or (hfov if hfov >= 180 else
                         2 * math.degrees(math.atan(math.tan(math.radians(hfov / 2)) * v / h))))
            spec = cls(str(d["name"]), h, v, hfov, vfov, float(d.get("cost", 0.0)), float(d.get("ir_range_m", 0.0)),
                       str(d.get("form_factor", "bullet")), tuple(d.get("mounts", ("wall", "pole", "entrance"))),
                       int(d.get("presets", 1)), float(d.get("dwell_s", 0.0)), float(d.get("move_s", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"catalog model {d.get('name', '?')!r}: missing or bad field ({exc})") from exc
        focal_px(spec.h_res_px, spec.hfov_deg)
        if spec.cost < 0:
            raise InputError(f"catalog model {spec.name}: negative cost")
        if spec.presets < 1 or (spec.presets > 1 and (spec.dwell_s <= 0 or spec.move_s < 0)):
            raise InputError(f"catalog model {spec.name}: a preset tour needs presets >= 1, dwell_s > 0, move_s >= 0")
        return spec


@dataclass(frozen=True)
class Catalog:
    """Camera models and mounting heights per kind of mount."""

    models: tuple[CameraSpec, ...]
    heights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_HEIGHTS))
    min_dwell_fraction: float = MIN_DWELL_FRACTION

    def for_mount(self, mount: str) -> list[int]:
        """Indices of the models that may go on ``mount``."""
        return [i for i, m in enumerate(self.models) if mount in m.mounts]

    def index(self, name: str) -> int:
        for i, m in enumerate(self.models):
            if m.name == name:
                return i
        raise InputError(f"camera model {name!r} is not in the catalog")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read a catalog YAML (the shipped default when ``path`` is None)."""
    p = Path(path) if path else Path(__file__).with_name("catalog.yaml")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such catalog file") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML ({exc})") from exc
    return catalog_from_dict(doc, str(p))


def catalog_from_dict(doc: Any, source: str = "catalog") -> Catalog:
    """Validate a catalog document (``{"models": [...], "heights": {...}, "min_dwell_fraction": 0.2}``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list) or not doc["models"]:
        raise InputError(f"{source}: a catalog needs a non-empty 'models' list")
    models = tuple(CameraSpec.from_dict(m) for m in doc["models"])
    heights = dict(DEFAULT_HEIGHTS)
    heights.update({k: float(v) for k, v in (doc.get("heights") or {}).items()})
    try:
        dwell = float(doc.get("min_dwell_fraction", MIN_DWELL_FRACTION))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: min_dwell_fraction must be a number") from exc
    if not 0 < dwell <= 1:
        raise InputError(f"{source}: min_dwell_fraction must be in (0, 1]")
    return Catalog(models, heights, dwell)
