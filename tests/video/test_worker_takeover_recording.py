"""Recording resumes on the survivor after SIGKILL of a recording worker (real processes, NATS, RTSP).

Two ``vigil worker --record`` processes (TTL 3 s) record one camera of a real RTSP server, held
by w1's shard. w1 is killed with SIGKILL (its FFmpeg dies with it); w2 takes the shard when the
lease expires and starts recording the camera into its own home in the same reconcile round,
not at the recorder's next sync (30 s). The time is printed, not asserted beyond the 20 s goal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_worker_recording import _node_home, _split_ids
from video_helpers import add_camera

from vigil.core.context import Vigil
from vigil.video.segments import camera_dir
from vigil.worker.natsserver import NatsServer

pytestmark = pytest.mark.slow  # two worker processes and FFmpeg
VIGIL = str(Path(sys.executable).parent / "vigil")


def _recorded(home: Vigil, cam: str) -> int:
    """Bytes of the camera's recordings in one node's home."""
    return sum(p.stat().st_size for p in camera_dir(home.settings.recordings_dir, cam).glob("*/*.mp4"))


async def _until(what, check, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if check():
            return time.monotonic() - t0
        await asyncio.sleep(0.2)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


async def test_sigkill_of_a_recording_worker_resumes_its_recording_on_the_survivor(sqlite_vigil, rtsp_server,
                                                                                    tmp_path):
    v = sqlite_vigil
    cam = _split_ids()["w1"]
    with v.db.session() as s:
        add_camera(s, rtsp_server.url, cam_id=cam)
    homes = {n: Vigil.open(v.settings.db_url, _node_home(v, tmp_path / n)) for n in ("w1", "w2")}
    srv = NatsServer(tmp_path / "nats").start()
    env = {**os.environ, "VIGIL_LEASE_TTL": "3", "VIGIL_NATS": srv.url}
    log = open(tmp_path / "procs.log", "wb")  # noqa: SIM115
    procs = {n: subprocess.Popen([VIGIL, "worker", "--name", n, "--record", "--probe-interval", "60",
                                  "--sample-interval", "0", "--db", v.settings.db_url,
                                  "--home", str(homes[n].settings.home)],
                                 env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
             for n in ("w1", "w2")}
    try:
        await _until("w1 records its camera", lambda: _recorded(homes["w1"], cam) > 0, 60)
        await asyncio.sleep(2)
        assert _recorded(homes["w2"], cam) == 0  # owned once: only w1 records it
        procs["w1"].send_signal(signal.SIGKILL)
        procs["w1"].wait(10)
        took = await _until("w2 records w1's camera", lambda: _recorded(homes["w2"], cam) > 0, 20)
        print(f"recording resumed on w2 {took:.1f} s after SIGKILL of w1 (TTL 3 s)")
        first = _recorded(homes["w2"], cam)
        await _until("w2's recording grows", lambda: _recorded(homes["w2"], cam) > first, 15)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        for h in homes.values():
            h.close()
        srv.stop()
