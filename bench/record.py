"""Recorder benchmark: N simultaneous 1080p streams from the simulated fleet; CPU per stream and gaps.

Usage: .venv/bin/python bench/record.py [--streams N] [--seconds S] [--segment S]

* Footage: vtest.avi scaled to 1920x1080 at 25 fps with sensor-like noise, H.264 main profile at about
  6 Mbit/s, GOP 2 s (what a real 1080p camera sends); made once and cached.
* Cameras: :class:`vigil.sim.fleet.Fleet` serves every stream over RTSP/TCP on loopback (this process).
* Recorder: ``vigil record run`` in a child process (FFmpeg ``-c copy`` segmenters, indexing, retention).
  CPU = user+system time of the recorder and all its FFmpeg children over the measured window.
* Baseline, same run, same streams: one plain ``ffmpeg -c copy`` to a single MP4 per stream (no
  segmenting, no index), i.e. the least any copy-recorder can cost.
* Gaps: holes between consecutive indexed segments of a camera longer than 0.25 s, plus footage missing
  at the ends of the window.

Goals: <= 1 % of a core per 1080p stream; 0 gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from vigil.core.context import Vigil
from vigil.core.ids import level_of_code
from vigil.core.models import Camera, Region, Site
from vigil.registry.streams import insert_credentials
from vigil.sim.fleet import Fleet
from vigil.sim.stream import load_clip
from vigil.video.ffmpeg import stream_input
from vigil.video.models import RecordingSegment

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CACHE = Path(os.environ.get("VIGIL_CACHE", Path.home() / ".cache" / "vigil")) / "bench"
TICK = os.sysconf("SC_CLK_TCK")
REGION = "53010201"


def clip_1080p() -> Path:
    """20 s of 1080p25 H.264 at ~6 Mbit/s from vtest.avi (cached)."""
    out = CACHE / "vtest_1080p25_6M_g50.mp4"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(VTEST), "-t", "20", "-vf",
                        "fps=25,scale=1920:1080,noise=alls=8:allf=t", "-c:v", "libx264", "-preset", "veryfast",
                        "-profile:v", "main", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M", "-g", "50",
                        "-bf", "0", "-an", str(tmp)], check=True)
        tmp.rename(out)
    return out


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and all its live descendants."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def setup_instance(home: Path, fleet: Fleet) -> Vigil:
    v = Vigil.open(f"sqlite:///{home / 'vigil.db'}", str(home))
    with v.db.session() as s:
        for code in ("5301", "530102", REGION):
            s.add(Region(code=code, name=code, level=int(level_of_code(code)),
                         parent_code=None if code == "5301" else code[: {6: 4, 8: 6}[len(code)]]))
            s.flush()
        site = Site(name="bench", region_code=REGION)
        s.add(site)
        s.flush()
        for cam in fleet.cameras:
            s.add(Camera(id=f"{REGION}001320{cam.index:06d}", name=f"bench {cam.index}", region_code=REGION,
                         site_id=site.id, lon=102.7, lat=25.0, main_url=cam.url, username=cam.username,
                         password_enc=v.box.seal(cam.password)))
    return v


async def measure(pids: list[int], warmup: float, window: float) -> float:
    await asyncio.sleep(warmup)
    c0 = sum(cpu_seconds(p) for p in pids)
    await asyncio.sleep(window)
    return sum(cpu_seconds(p) for p in pids) - c0


def gaps(v: Vigil, t_from, t_to) -> tuple[int, float, float]:
    """(number of gaps, seconds missing, seconds recorded) over [t_from, t_to] for every camera."""
    n, missing, recorded = 0, 0.0, 0.0
    with v.db.session() as s:
        cams = list(s.scalars(select(Camera.id)))
        for cam in cams:
            rows = list(s.scalars(select(RecordingSegment).where(
                RecordingSegment.camera_id == cam, RecordingSegment.end > t_from, RecordingSegment.start < t_to)
                .order_by(RecordingSegment.start)))
            edge = t_from
            for r in rows:
                hole = (r.start - edge).total_seconds()
                if hole > 0.25:
                    n, missing = n + 1, missing + hole
                recorded += (min(r.end, t_to) - max(r.start, t_from)).total_seconds()
                edge = max(edge, r.end)
            if (t_to - edge).total_seconds() > 0.25:
                n, missing = n + 1, missing + (t_to - edge).total_seconds()
    return n, missing, recorded


async def run(args: argparse.Namespace) -> None:
    clip = clip_1080p()
    info = load_clip(clip)
    kbps = clip.stat().st_size * 8 / info.duration / 1000
    print(f"footage: {clip.name} {info.width}x{info.height} {info.fps:g} fps, {kbps:.0f} kbit/s")
    async with Fleet(args.streams, streams=args.streams, workers=0) as fleet:
        # Serve the 1080p clip instead of the fleet's default footage (the fleet's only clip hook is its cache).
        fleet._local.clips.clips[""] = info  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="vigil-bench-rec-") as tmp:
            home = Path(tmp)
            v = setup_instance(home, fleet)
            total = args.warmup + args.seconds + args.segment + 3
            vigil = str(Path(sys.executable).with_name("vigil"))
            rec = await asyncio.create_subprocess_exec(
                vigil, "record", "run", "--segment", f"{args.segment:g}", "--for", f"{total:g}",
                "--db", v.settings.db_url, "--home", str(home),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            t0 = v_now()
            cpu = await measure([rec.pid], args.warmup, args.seconds)
            t_from, t_to = t0 + timedelta(seconds=args.warmup), t0 + timedelta(seconds=args.warmup + args.seconds)
            await rec.wait()
            n_gaps, missing, recorded = gaps(v, t_from, t_to)
            size = sum(p.stat().st_size for p in v.settings.recordings_dir.rglob("*.mp4"))
            # Baseline: plain single-file copies of the same streams, measured over the same window length.
            outs = [home / f"plain{i}.mp4" for i in range(args.streams)]
            base = [await plain_copy(cam, out, args.warmup + args.seconds + 2)
                    for cam, out in zip(fleet.cameras, outs, strict=True)]
            cpu_base = await measure([p.pid for p in base], args.warmup, args.seconds)
            for p in base:
                await p.wait()
            v.close()
    per = 100 * cpu / args.seconds / args.streams
    per_base = 100 * cpu_base / args.seconds / args.streams
    expected = args.streams * args.seconds
    print(f"streams: {args.streams}  window: {args.seconds:g} s  segment: {args.segment:g} s")
    print(f"recorder CPU per stream: {per:.2f} % of a core (goal <= 1 %)")
    print(f"baseline (plain ffmpeg -c copy to one file) per stream: {per_base:.2f} % of a core")
    print(f"ratio recorder/baseline: {per / per_base:.2f}" if per_base else "ratio: n/a")
    print(f"gaps: {n_gaps} ({missing:.2f} s missing); recorded {recorded:.1f} of {expected:.0f} stream-seconds "
          f"({100 * recorded / expected:.1f} %); {size / 1e6:.0f} MB written")


async def plain_copy(cam, out: Path, seconds: float) -> asyncio.subprocess.Process:
    """The baseline: one plain ``ffmpeg -c copy`` to a single file, fed its URL the recorder's way (stdin)."""
    inp, script = stream_input(insert_credentials(cam.url, cam.username, cam.password), io_timeout_s=10)
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *inp, "-map", "0:v", "-c", "copy",
        "-t", f"{seconds:g}", "-y", str(out), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(script)
    await proc.stdin.drain()
    proc.stdin.close()
    return proc


def v_now():
    from vigil.core.models import utcnow

    return utcnow()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window")
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--segment", type=float, default=10.0)
    args = ap.parse_args()
    # The fleet keeps writing for a moment after a recorder hangs up; asyncio warns about each such write.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    t = time.monotonic()
    asyncio.run(run(args))
    print(f"bench took {time.monotonic() - t:.0f} s")


if __name__ == "__main__":
    main()
