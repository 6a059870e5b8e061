"""``vigil diagnose CAMERA|URL|FILE``: check a picture once and explain the verdict."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError
from vigil.health.vqd_camera import diagnose_camera, load_baseline, reset_baseline
from vigil.health.vqd_rules import Baseline, Diagnosis, diagnose_frames, learn
from vigil.health.vqd_sample import redact, sample_keyframes, sample_timed

_CAMERA_ID = re.compile(r"^\d{20}$")
_SHOWN = ("mean_y", "std_y", "sharp_n", "noise", "cast", "flat_frac", "changed", "moving", "cover_frac", "blur_frac",
          "ecorr", "lcorr", "shift")


def diagnose(target: Annotated[str, typer.Argument(help="Camera ID (20 digits), stream URL or video file")],
             as_json: Annotated[bool, typer.Option("--json", help='Print {"faults": [...], "metrics": {...}}')]
             = False,
             camera: Annotated[str | None, typer.Option(help="Judge a URL or FILE against this camera's "
                                                        "learned baseline (read only)")] = None,
             baseline: Annotated[str | None, typer.Option(help="Judge against a stored baseline: a camera ID, a "
                                                          "baseline file (--save-baseline) or a healthy video "
                                                          "file of the same camera to learn from")] = None,
             save_baseline: Annotated[Path | None, typer.Option(help="Write the baseline learned from this look "
                                                                "(if healthy) to this JSON file")] = None,
             frames: Annotated[int, typer.Option(help="Keyframes to sample")] = 3,
             timeout: Annotated[float, typer.Option(help="Seconds allowed to open and sample")] = 10.0,
             relearn: Annotated[bool, typer.Option(help="Forget the camera's baseline first (it was "
                                                   "re-aimed on purpose)")] = False,
             db: DbOpt = None, home: HomeOpt = None) -> None:
    """Run the video-quality checks once and explain the verdict.

    A camera ID samples its stream, updates its baseline and stores its debounced faults.
    A URL or FILE is sampled the same way (keyframes only) and judged without storing.
    """
    if frames < 1 or timeout <= 0:
        raise InputError("--frames must be >= 1 and --timeout > 0")
    is_camera = bool(_CAMERA_ID.match(target)) and not Path(target).exists()
    if is_camera:
        v = open_instance(db, home)
        if relearn:
            reset_baseline(v, target)
        diag = diagnose_camera(v, target, n=frames, timeout=timeout)
    else:
        if "://" not in target and not Path(target).is_file():
            raise InputError(f"{target}: not a camera ID (20 digits), a URL or an existing video file")
        base = _baseline(baseline or camera, frames, timeout, db, home)
        timed = sample_timed(target, frames, timeout)
        diag = diagnose_frames([f for _, f in timed], base, times=[t for t, _ in timed])
    if save_baseline is not None:
        learned = learn(None, diag) if diag.faults == () and diag.frames else None
        if learned is None or not learned.samples:
            raise InputError("not saving a baseline: this look is not fault-free")
        save_baseline.write_text(json.dumps(learned.to_file()))
    _print(diag, redact(target), as_json)


def _baseline(ref: str | None, frames: int, timeout: float, db: str | None, home: str | None) -> Baseline | None:
    """The baseline named by ``--baseline``/``--camera``: a camera's stored one, a baseline file or a video."""
    if not ref:
        return None
    path = Path(ref)
    if _CAMERA_ID.match(ref) and not path.exists():
        with open_instance(db, home).db.session() as s:
            found = load_baseline(s, ref)
        if found is None:
            raise InputError(f"camera {ref} has no learned baseline yet")
        return found
    if not path.is_file():
        raise InputError(f"--baseline {ref}: not a camera ID, a baseline file or a video file")
    if path.suffix.lower() == ".json":
        try:
            return Baseline.from_file(json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise InputError(f"--baseline {ref}: {exc}") from None
    learned = learn(None, diagnose_frames(sample_keyframes(str(path), max(frames, 3), timeout)))
    if not learned.samples:
        raise InputError(f"--baseline {ref}: that video is not fault-free, so it cannot serve as a baseline")
    return learned


def _print(diag: Diagnosis, label: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(diag.to_json()) + "\n")
        sys.stdout.flush()
        return
    verdict = ", ".join(diag.faults) if diag.faults else "no fault"
    colour = "red" if diag.faults else "green"
    console.print(f"{label}: [{colour}]{verdict}[/]", highlight=False)
    if diag.confirmed is not None:
        console.print(f"  confirmed (after debounce): {', '.join(diag.confirmed) or 'none'}", highlight=False)
    for line in diag.explanation:
        console.print(f"  {line}", highlight=False)
    if not any(line.startswith("confidence:") for line in diag.explanation):
        console.print(f"  confidence: {diag.confidence}", highlight=False)
    shown = [f"{k}={diag.metrics[k]:g}" for k in _SHOWN if k in diag.metrics]
    console.print(f"  metrics: {' '.join(shown)}", highlight=False)
