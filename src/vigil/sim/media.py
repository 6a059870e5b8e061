"""Real-footage test clips (healthy and degraded) made with FFmpeg, cached on disk.

The simulated fleet serves these clips as camera streams, and the VQD tests and
benchmarks diagnose them. All clips are H.264 (libx264, yuv420p, no B-frames,
a keyframe every ``gop`` frames, SPS/PPS repeated before every keyframe) cut
from footage shipped by Debian's ``opencv-doc``.

API
---
``SOURCES``
    Footage names -> paths: ``"vtest"`` (768x576, 10 fps, 79.5 s, a fixed elevated
    camera over a plaza) and ``"tree"`` (320x240, 15 fps, 29.6 s, swaying foliage).
``FAULTS``
    The picture faults a clip can carry: ``black``, ``blue``, ``frozen``, ``blur``,
    ``dark``, ``bright``, ``color_cast``, ``noise``, ``covered``, ``moved``.
``SEVERITIES``
    ``(1, 2, 3)``: mild, medium, strong (the settings of the VQD notes fall within
    them). Every level is a real fault an operator would want reported; only its
    strength differs. ``frozen`` levels 1 and 2 keep faint temporal noise on the
    frozen picture (as a stuck encoder with a live overlay would), level 3 is exact.
``healthy_clip(*, source="vtest", start=10.0, duration=6.0, size=None, fps=None, gop=20, bitrate=None,
grain=0, fmt="mp4", cache=None) -> Path``
    An unaltered clip of ``source`` from ``start`` seconds for ``duration`` seconds.
``fault_clip(fault, *, severity=2, source="vtest", start=10.0, duration=6.0, size=None, fps=None, gop=20,
bitrate=None, grain=0, fmt="mp4", cache=None) -> Path``
    The same cut with one fault applied. ``moved`` is shifted (cropped and rescaled)
    for the whole clip: serve the healthy clip first, then this one, to simulate a
    camera knocked off its aim.
``filtered_clip(vf, *, label="custom", source="vtest", ...same options...) -> Path``
    The same cut with an arbitrary FFmpeg filter chain ``vf`` (e.g. variants of a fault
    that the named levels do not cover).
``fault_filter(fault, severity=2, size=None) -> str``
    The FFmpeg ``-vf`` chain used for ``fault`` on footage of ``size`` (w, h)
    (``black``/``blue`` are generated sources instead and return ``""``).
``media_cache_dir(cache=None) -> Path``
    Where clips are kept: ``cache``, else ``$VIGIL_CACHE/media``, else
    ``~/.cache/vigil/media``.

``size`` is ``(width, height)``, e.g. ``(1920, 1080)`` for a 1080p "main stream"
(the source is scaled after the fault is applied); ``fps`` resamples the frame
rate; ``bitrate`` (e.g. ``"6M"``) replaces the default quality-based rate control
with a capped bitrate; ``grain`` adds sensor-like temporal noise of that strength
before the fault (e.g. 8 for a realistic 1080p main stream: ``size=(1920, 1080),
fps=25, gop=50, bitrate="6M", grain=8``); ``fmt`` is ``"mp4"``, ``"ts"`` or ``"h264"``
(Annex B elementary stream).

Calls are idempotent and safe for concurrent callers, threads or processes: the
clip's file name is a hash of the exact FFmpeg arguments and of the source file,
FFmpeg writes a private temporary file, and it is renamed into place atomically
(a per-clip lock file avoids encoding the same clip twice at once).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.core.errors import InputError, NotFoundError, VigilError

__all__ = ["FAULTS", "SEVERITIES", "SOURCES", "fault_clip", "fault_filter", "filtered_clip", "healthy_clip",
           "media_cache_dir"]

_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
SOURCES: dict[str, Path] = {"vtest": _DATA / "vtest.avi", "tree": _DATA / "tree.avi"}
FAULTS: tuple[str, ...] = ("black", "blue", "frozen", "blur", "dark", "bright", "color_cast", "noise",
                           "covered", "moved")
SEVERITIES: tuple[int, ...] = (1, 2, 3)
_FORMATS = {"mp4": ("mp4", ["-movflags", "+faststart"]), "ts": ("mpegts", []), "h264": ("h264", [])}

# Generated "no signal" screens: (colour, extra filter) per severity.
_SCREENS: dict[str, dict[int, tuple[str, str]]] = {
    "black": {1: ("0x0A0A0A", "noise=alls=4:allf=t"), 2: ("black", ""), 3: ("black", "")},
    "blue": {1: ("0x1E3CC8", ""), 2: ("0x0000FF", ""), 3: ("0x0000C0", "")},
}


def _moved(sev: int, size: tuple[int, int] | None) -> str:
    f = {1: 0.06, 2: 0.1, 3: 0.16}[sev]
    # Crop a window shifted by a share f of the frame and scale it back: the aim moved right and down.
    if size is None:
        return f"crop=iw*{1 - f:g}:ih*{1 - f:g}:iw*{f:g}:ih*{f:g},scale=trunc(iw/{1 - f:g}/2)*2:trunc(ih/{1 - f:g}/2)*2"
    w, h = size
    cw, ch = int(w * (1 - f)) // 2 * 2, int(h * (1 - f)) // 2 * 2
    return f"crop={cw}:{ch}:{w - cw}:{h - ch},scale={w}:{h}"


_FILTERS: dict[str, Callable[[int], str]] = {
    "frozen": lambda s: "loop=loop=-1:size=1:start=0" + {1: ",noise=alls=4:allf=t", 2: ",noise=alls=2:allf=t",
                                                          3: ""}[s],
    "blur": lambda s: f"gblur=sigma={ {1: 3.5, 2: 6, 3: 10}[s] }",
    "dark": lambda s: f"lutyuv=y=val*{ {1: 0.3, 2: 0.2, 3: 0.15}[s] }",
    "bright": lambda s: {1: "lutyuv=y=min(255\\,val*2.0+20)", 2: "lutyuv=y=min(255\\,val*2.5)",
                         3: "lutyuv=y=min(255\\,val*3+40)"}[s],
    "color_cast": lambda s: {1: "colorchannelmixer=rr=1.35:gg=1.15:bb=0.55",
                             2: "colorchannelmixer=rr=1.5:bb=0.6",
                             3: "colorchannelmixer=rr=0.6:gg=1.3:bb=0.6"}[s],
    "noise": lambda s: f"noise=alls={ {1: 40, 2: 60, 3: 90}[s] }:allf=t+u",
    "covered": lambda s: {1: "drawbox=x=0:y=0:w=iw*0.62:h=ih:color=0x202020@1:t=fill",
                          2: "drawbox=x=0:y=0:w=iw*0.75:h=ih:color=0x3a3530@1:t=fill",
                          3: "drawbox=x=0:y=0:w=iw:h=ih*0.9:color=0x505050@1:t=fill"}[s],
}


def media_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """The folder clips are cached in (created on first use)."""
    if cache is not None:
        path = Path(cache)
    elif os.environ.get("VIGIL_CACHE"):
        path = Path(os.environ["VIGIL_CACHE"]) / "media"
    else:
        path = Path.home() / ".cache" / "vigil" / "media"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fault_filter(fault: str, severity: int = 2, size: tuple[int, int] | None = None) -> str:
    """The FFmpeg filter chain that applies ``fault`` at ``severity`` to footage of ``size`` (w, h)."""
    _check(fault, severity)
    if fault == "moved":
        return _moved(severity, size)
    return "" if fault in _SCREENS else _FILTERS[fault](severity)


def healthy_clip(*, source: str = "vtest", start: float = 10.0, duration: float = 6.0,
                 size: tuple[int, int] | None = None, fps: float | None = None, gop: int = 20,
                 bitrate: str | None = None, grain: int = 0, fmt: str = "mp4",
                 cache: str | os.PathLike[str] | None = None) -> Path:
    """An unaltered H.264 clip cut from ``source``; see the module docstring."""
    spec = _Spec(source, float(start), float(duration), size, fps, gop, bitrate, grain, fmt)
    return _clip(None, 2, spec, cache)


def fault_clip(fault: str, *, severity: int = 2, source: str = "vtest", start: float = 10.0,
               duration: float = 6.0, size: tuple[int, int] | None = None, fps: float | None = None,
               gop: int = 20, bitrate: str | None = None, grain: int = 0, fmt: str = "mp4",
               cache: str | os.PathLike[str] | None = None) -> Path:
    """An H.264 clip cut from ``source`` with picture fault ``fault``; see the module docstring."""
    _check(fault, severity)
    spec = _Spec(source, float(start), float(duration), size, fps, gop, bitrate, grain, fmt)
    return _clip(fault, severity, spec, cache)


def filtered_clip(vf: str, *, label: str = "custom", source: str = "vtest", start: float = 10.0,
                  duration: float = 6.0, size: tuple[int, int] | None = None, fps: float | None = None,
                  gop: int = 20, bitrate: str | None = None, grain: int = 0, fmt: str = "mp4",
                  cache: str | os.PathLike[str] | None = None) -> Path:
    """A clip cut from ``source`` with an arbitrary FFmpeg filter chain ``vf`` in place of a named fault."""
    if not vf or not re.fullmatch(r"[\w=:,.*+\-/()\\@' ]+", vf):
        raise InputError(f"not a plain FFmpeg filter chain: {vf!r}")
    if not re.fullmatch(r"[\w-]{1,40}", label):
        raise InputError(f"label must be 1-40 letters, digits, '_' or '-': {label!r}")
    spec = _Spec(source, float(start), float(duration), size, fps, gop, bitrate, grain, fmt)
    return _clip(None, 0, spec, cache, custom=(label, vf))


@dataclass(frozen=True, slots=True)
class _Spec:
    """How a clip is cut and encoded (everything but the fault)."""

    source: str
    start: float
    duration: float
    size: tuple[int, int] | None
    fps: float | None
    gop: int
    bitrate: str | None
    grain: int
    fmt: str


def _check(fault: str, severity: int) -> None:
    if fault not in FAULTS:
        raise InputError(f"unknown picture fault {fault!r}; expected one of {', '.join(FAULTS)}")
    if severity not in SEVERITIES:
        raise InputError(f"severity must be one of {SEVERITIES}, got {severity!r}")


def _source(source: str) -> Path:
    path = SOURCES.get(source)
    if path is None:
        raise InputError(f"unknown footage {source!r}; expected one of {', '.join(SOURCES)}")
    if not path.is_file():
        raise NotFoundError(f"{path} is missing: install Debian's opencv-doc (scripts/install-system-deps.sh)")
    return path


def _probe(path: Path) -> tuple[int, int, float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,r_frame_rate", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    w, h, rate = out.split(",")[:3]
    num, _, den = rate.partition("/")
    return int(w), int(h), float(num) / float(den or 1)


def _args(fault: str | None, severity: int, src: Path, spec: _Spec, custom: str = "") -> list[str]:
    """The FFmpeg input, filter and encoder arguments (everything but the output)."""
    width, height, rate = _probe(src)
    rate = spec.fps or rate
    chain: list[str] = []
    if fault in _SCREENS:
        colour, extra = _SCREENS[fault][severity]
        inputs = ["-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r={rate:g}"]
        chain += [extra] if extra else []
    else:
        inputs = ["-ss", f"{spec.start:g}", "-i", str(src)]
        chain += [f"noise=alls={spec.grain}:allf=t"] if spec.grain else []
        chain += [fault_filter(fault, severity, (width, height))] if fault else []
        chain += [custom] if custom else []
        chain += [f"fps={spec.fps:g}"] if spec.fps else []
    if spec.size:
        chain.append(f"scale={spec.size[0]}:{spec.size[1]}")
    chain.append("format=yuv420p")
    rate_args = (["-b:v", spec.bitrate, "-maxrate", spec.bitrate, "-bufsize", spec.bitrate]
                 if spec.bitrate else [])
    return [*inputs, "-t", f"{spec.duration:g}", "-vf", ",".join(chain), "-an", "-c:v", "libx264",
            "-preset", "veryfast", *rate_args, "-g", str(spec.gop), "-keyint_min", str(spec.gop),
            "-sc_threshold", "0", "-bf", "0", "-x264-params", "repeat-headers=1", "-pix_fmt", "yuv420p"]


def _clip(fault: str | None, severity: int, spec: _Spec, cache: str | os.PathLike[str] | None,
          custom: tuple[str, str] | None = None) -> Path:
    if spec.fmt not in _FORMATS:
        raise InputError(f"fmt must be one of {', '.join(_FORMATS)}, got {spec.fmt!r}")
    if spec.duration <= 0 or spec.start < 0 or spec.gop < 1 or spec.grain < 0:
        raise InputError("start must be >= 0, duration > 0, gop >= 1 and grain >= 0")
    if spec.bitrate is not None and not re.fullmatch(r"\d+(\.\d+)?[kM]?", spec.bitrate):
        raise InputError(f"bitrate must look like 6M or 800k, got {spec.bitrate!r}")
    if shutil.which("ffmpeg") is None:
        raise NotFoundError("ffmpeg is not installed (scripts/install-system-deps.sh)")
    src = _source(spec.source)
    args = _args(fault, severity, src, spec, custom[1] if custom else "")
    muxer, mux_args = _FORMATS[spec.fmt]
    stat = src.stat()
    key = hashlib.sha1(repr((args, mux_args, stat.st_size, int(stat.st_mtime))).encode()).hexdigest()[:12]
    label = fault or (custom[0] if custom else "healthy")
    folder = media_cache_dir(cache)
    out = folder / f"{spec.source}-{label}-s{severity if fault else 0}-{key}.{spec.fmt}"
    if out.exists():
        return out
    with open(folder / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            _encode(args, mux_args, muxer, out)
    return out


def _encode(args: list[str], mux_args: list[str], muxer: str, out: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part", dir=out.parent)
    os.close(fd)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args, *mux_args, "-f", muxer, tmp]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if res.returncode != 0 or os.path.getsize(tmp) == 0:
            raise VigilError(f"ffmpeg failed making {out.name}: {res.stderr.strip()[-500:]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
