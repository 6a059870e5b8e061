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
from vigil.health.vqd_rules import Diagnosis, diagnose_frames
from vigil.health.vqd_sample import redact, sample_keyframes

_CAMERA_ID = re.compile(r"^\d{20}$")
_SHOWN = ("mean_y", "std_y", "sharp_n", "noise", "cast", "flat_frac", "diff", "ecorr", "shift")


def diagnose(target: Annotated[str, typer.Argument(help="Camera ID (20 digits), stream URL or video file")],
             as_json: Annotated[bool, typer.Option("--json", help='Print {"faults": [...], "metrics": {...}}')]
             = False,
             camera: Annotated[str | None, typer.Option(help="Judge a URL or FILE against this camera's "
                                                        "learned baseline (read only)")] = None,
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
        baseline = None
        if camera:
            with open_instance(db, home).db.session() as s:
                baseline = load_baseline(s, camera)
        diag = diagnose_frames(sample_keyframes(target, frames, timeout), baseline)
    _print(diag, redact(target), as_json)


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
    shown = [f"{k}={diag.metrics[k]:g}" for k in _SHOWN if k in diag.metrics]
    console.print(f"  metrics: {' '.join(shown)}", highlight=False)
