"""A plan job survives its server: a real `vigil serve` is sent SIGKILL mid-job, started again, and finishes it."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from factories import TOWN1, VILLAGE1, build_world
from vigil.core.context import Vigil


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home, port: int, cwd) -> subprocess.Popen:
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--port", str(port), "--no-scheduler",
                             "--no-analytics"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"vigil serve did not come up: {proc.stderr.read() if proc.stderr else ''}")


def _job(base: str, url: str, auth: dict) -> dict:
    return httpx.get(base + url, headers=auth, timeout=10).json()


def _until(base: str, url: str, auth: dict, done, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(base, url, auth)
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job never got there: {job}")


def _plan_processes(home) -> list[int]:
    """Spawned plan processes of this test's instance (they inherit its VIGIL_HOME)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"spawn_main" in cmd and f"VIGIL_HOME={home}".encode() in env:
            out.append(int(proc.name))
    return out


def _until_gone(home, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (left := _plan_processes(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"plan processes {left} outlived their server"


@pytest.mark.slow  # two server starts and two plan runs: about half a minute on 2 cores
def test_a_job_running_when_its_server_is_sigkilled_is_requeued_and_finishes(tmp_path, kunming_community):
    home = tmp_path / "home"
    v = Vigil.open(None, str(home))
    w = build_world(v)
    v.close()
    auth = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    port = _port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(home, port, tmp_path)
    try:
        r = httpx.post(base + "/api/v1/plans", headers=auth, timeout=30,
                       data={"region_code": VILLAGE1, "spacing": "8", "level": "detect", "time_limit": "10"},
                       files={"area": ("jinse.geojson", kunming_community.read_bytes(), "application/geo+json")})
        assert r.status_code == 202, r.text
        url = r.json()["url"]
        _until(base, url, auth, lambda j: j["state"] == "running" and j["events"])
        assert _plan_processes(home), "the job runs in its own process"
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown at all: the job is left "running" in the database
        proc.wait(30)
    _until_gone(home)  # the job's solver process noticed its server died and exited
    v = Vigil.open(None, str(home))
    try:
        from vigil.coverage.models import PlanJob

        with v.db.session() as s:
            job = s.get(PlanJob, int(url.rsplit("/", 1)[1]))
            assert job.state == "running" and job.plan_id is None  # killed mid-run, not after it
    finally:
        v.close()
    proc = _serve(home, port, tmp_path)
    try:
        done = _until(base, url, auth, lambda j: j["state"] not in ("queued", "running"))
        assert done["state"] == "done", done
        assert done["attempts"] == 2 and "requeued" in [e["event"] for e in done["events"]]
        plan = httpx.get(base + done["plan_url"], headers=auth, timeout=10).json()
        assert plan["region_code"] == VILLAGE1 and plan["summary"]["coverage_after"] > 0.9
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
