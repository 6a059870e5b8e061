"""``vigil diagnose CAMERA|URL|FILE [--json]``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from typer.testing import CliRunner

from vigil.cli import app
from vigil.core.models import Region
from vigil.sim import media
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet

VIGIL = [sys.executable, "-m", "vigil", "diagnose"]
CLIP = {"duration": 3.0, "gop": 10}
CAM = "53010000001320000002"


def run(*args: str) -> str:
    """Run ``vigil diagnose`` in-process; its stdout."""
    r = CliRunner().invoke(app, ["diagnose", *args])
    assert r.exit_code == 0 and r.exception is None, (r.output, r.exception)
    return r.stdout


def run_process(*args: str) -> subprocess.CompletedProcess:
    """Run the real ``vigil diagnose`` command (its error handling included)."""
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, timeout=120)


def test_file_json_and_explanation(tmp_path):
    covered = str(media.fault_clip("covered", source="vtest", start=20.0, **CLIP))
    # Without a baseline a part-covered view could be a scene with a plain wall: not claimed, confidence low.
    first = json.loads(run(covered, "--json"))
    assert first["faults"] == [] and first["confidence"] == "low"
    # Against the camera's healthy picture (a video of it, or a saved baseline file) the cover is plain.
    healthy = str(media.healthy_clip(source="vtest", start=5.0, **CLIP))
    out = json.loads(run(covered, "--json", "--baseline", healthy))
    assert out["faults"] == ["covered"] and out["confidence"] == "medium"
    assert 0.6 < out["metrics"]["cover_frac"] < 0.9 and out["metrics"]["frames"] == 3   # 75% of the frame
    saved = tmp_path / "plaza.json"
    assert json.loads(run(healthy, "--json", "--save-baseline", str(saved)))["faults"] == []
    text = run(covered, "--baseline", str(saved))
    assert "covered" in text and "lost its detail" in text and "confidence: medium" in text
    assert json.loads(run(str(media.healthy_clip(source="tree", start=3.0, **CLIP)), "--json"))["faults"] == []
    bad = CliRunner().invoke(app, ["diagnose", covered, "--save-baseline", str(tmp_path / "x.json"),
                                   "--baseline", healthy])
    assert bad.exit_code == 2 and "not fault-free" in bad.output


async def test_camera_id_uses_the_registry(sqlite_vigil, tmp_path):
    v = sqlite_vigil
    with v.db.session() as s:
        s.add(Region(code="5301", name="Prefecture", level=1))
    opts = ["--db", v.settings.db_url, "--home", str(v.settings.home)]
    async with Fleet(1, streams=1, faults="0=dark") as fleet:   # a real RTSP camera with the sealed password
        [cam] = register_fleet(v, fleet.manifest()["cameras"], region="5301")
        out = json.loads(await asyncio.to_thread(run, cam, "--json", *opts))
    assert out["faults"] == ["dark"] and out["confirmed"] == []   # seen once: not yet confirmed
    bad = CliRunner().invoke(app, ["diagnose", "53010000001320000099", *opts])
    assert bad.exit_code == 2 and "camera 53010000001320000099 does not exist" in bad.output


def test_bad_target_is_one_clear_error(tmp_path):
    r = run_process(str(tmp_path / "missing.mp4"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not a camera ID" in " ".join(r.stderr.split())
