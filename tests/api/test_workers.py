"""`vigil serve --workers 2` as a user runs it: a real main process and a real worker process on one loopback port.

The kernel picks which process accepts a TCP connection, so the tests that must reach one process in particular
talk to it over its own Unix socket in VIGIL_HOME/run (the worker's serves the worker's app, the main process's
the main app): what a worker relays, what the main process believes, and that both really answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pgserver import free_port
from vigil.access.bootstrap import init_instance
from vigil.api.workers import RELAYED, RelayedFrom, merged_metrics, relayed
from vigil.core.context import Vigil
from vigil.core.models import AuditEntry, Camera


@dataclass
class Served:
    proc: subprocess.Popen[str]
    base: str
    home: Path
    password: str

    def sockets(self, kind: str) -> list[Path]:
        return sorted((self.home / "run").glob(f"api-{kind}-{self.proc.pid}*.sock"))

    def via(self, kind: str) -> httpx.Client:
        """A client of one process: the main one or the (first) worker, over its Unix socket."""
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.sockets(kind)[0])), base_url="http://x",
                            timeout=30)

    def workers(self) -> list[int]:
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(k) for k in kids.read_text().split()] if kids.exists() else []

    def token(self) -> str:
        r = httpx.post(self.base + "/api/v1/auth/login", json={"username": "admin", "password": self.password})
        assert r.status_code == 200, r.text
        return r.json()["token"]


def _until(cond, timeout: float = 120, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _serve(tmp: Path) -> Served:
    home = tmp / "home"
    v = Vigil.open(None, str(home))
    res = init_instance(v, root_code="5301", root_name="昆明市")
    v.close()
    port = free_port()
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--port", str(port), "--no-scheduler",
                             "--no-analytics", "--workers", "2"], env=env, cwd=tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    s = Served(proc, f"http://127.0.0.1:{port}", home, res.password)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"vigil serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(s.base + "/api/v1/auth/me", timeout=1)
        except httpx.TransportError:
            return False
        return len(s.sockets("main")) == 1 and len(s.sockets("worker")) == 1

    _until(up, what="the main process and its worker answer")
    return s


def _stop(s: Served) -> str:
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
    _, err = s.proc.communicate(timeout=60)
    return err


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = _serve(tmp_path_factory.mktemp("workers"))
    try:
        yield s
    finally:
        err = _stop(s)
        assert "Traceback" not in err, err


def test_both_processes_answer_and_metrics_count_both(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.token()}"}
    with served.via("worker") as w:
        for _ in range(3):
            assert w.get("/api/v1/auth/me", headers=auth).status_code == 200
        assert w.get("/api/v1/cameras", headers={}).status_code == 401  # the worker authenticates on its own
    with served.via("main") as m:
        assert m.get("/api/v1/auth/me", headers=auth).status_code == 200
    text = httpx.get(served.base + "/metrics", headers=auth).text  # over TCP: either process; the main one answers
    me = [ln for ln in text.splitlines() if ln.startswith("vigil_http_requests_total{")
          and 'route="/api/v1/auth/me"' in ln and 'status="200"' in ln]
    by_worker = {ln.split('worker="')[1].split('"')[0]: float(ln.rsplit(" ", 1)[1]) for ln in me}
    assert by_worker.get("1", 0) >= 3 and by_worker.get("0", 0) >= 1, me
    assert text.count("# HELP vigil_http_requests_total ") == 1  # one family, every process's samples in it


def _served_by(served: Served, auth: dict[str, str]) -> dict[str, float]:
    text = httpx.get(served.base + "/metrics", headers=auth).text
    return {ln.split('worker="')[1].split('"')[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if ln.startswith("vigil_http_requests_total{") and 'route="/api/v1/health"' in ln}


def test_new_connections_go_to_the_process_with_the_fewest(served: Served) -> None:
    """20 keep-alive connections, opened one after another and all kept open: 10 in each process."""
    auth = {"Authorization": f"Bearer {served.token()}"}

    def worker_serves() -> bool:  # a worker gets connections once it has said it is serving
        # two connections open at once: with the worker serving, the second goes to whichever has fewer (one
        # connection at a time would meet ties only, and ties take turns in step with this loop's own two)
        with httpx.Client(base_url=served.base, headers=auth) as a, httpx.Client(base_url=served.base,
                                                                                headers=auth) as b:
            a.get("/api/v1/health")
            b.get("/api/v1/health")
        return _served_by(served, auth).get("1", 0) > 0

    _until(worker_serves, what="the worker taking connections")
    before = _served_by(served, auth)
    clients = [httpx.Client(base_url=served.base, headers=auth) for _ in range(20)]
    try:
        for c in clients:
            assert c.get("/api/v1/health").status_code == 200
        after = _served_by(served, auth)
    finally:
        for c in clients:
            c.close()
    got = {w: after.get(w, 0) - before.get(w, 0) for w in ("0", "1")}
    assert sum(got.values()) == 20 and all(9 <= n <= 11 for n in got.values()), got


def test_sign_in_failures_of_every_process_count_together(served: Served) -> None:
    """The throttle lives in the main process: 3 failures there and 2 through the worker lock the name (5 free)."""
    bad = {"username": "nobody-here", "password": "not-the-password"}
    with served.via("main") as m, served.via("worker") as w:
        assert [m.post("/api/v1/auth/login", json=bad).status_code for _ in range(3)] == [401] * 3
        assert [w.post("/api/v1/auth/login", json=bad).status_code for _ in range(2)] == [401] * 2
        locked = w.post("/api/v1/auth/login", json=bad)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1


def test_the_main_process_believes_the_relay_headers_only_with_the_secret(served: Served) -> None:
    forged = {"x-vigil-relay": "guess", "x-vigil-relay-client": "10.9.9.9:1", "x-vigil-relay-scheme": "https"}
    for _ in range(4):  # over TCP (either process) and straight to the main process
        httpx.post(served.base + "/api/v1/auth/login", json={"username": "forger", "password": "x" * 12},
                   headers=forged)
    with served.via("main") as m:
        m.post("/api/v1/auth/login", json={"username": "forger", "password": "x" * 12}, headers=forged)
    v = Vigil.open(None, str(served.home))
    try:
        with v.db.read_session() as s:
            seen = {e.detail.get("address") for e in s.query(AuditEntry).filter(
                AuditEntry.action == "auth.login_failed", AuditEntry.target == "user:forger")}
    finally:
        v.close()
    assert seen and "10.9.9.9" not in seen, seen
    assert "127.0.0.1" in seen  # the TCP ones: the real peer, relayed by the worker or seen by the main process


def test_writes_from_both_processes_take_turns(served: Served) -> None:
    """16 threads create cameras through both processes at once: every create answers 201 with its own ID."""
    auth = {"Authorization": f"Bearer {served.token()}"}
    got: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with served.via("main" if n % 2 else "worker") as c:
            for k in range(12):
                r = c.post("/api/v1/cameras", json={"name": f"t{n}-{k}", "region_code": "5301", "lon": 102.7,
                                                    "lat": 25.0}, headers=auth)
                with lock:
                    got.append((r.status_code, r.json().get("id", r.text)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [c for c, _ in got] == [201] * 16 * 12, [g for g in got if g[0] != 201][:3]
    ids = [i for _, i in got]
    assert len(set(ids)) == len(ids)
    v = Vigil.open(None, str(served.home))
    try:
        with v.db.read_session() as s:
            assert s.query(Camera).filter(Camera.name.like("t%-%")).count() == len(ids)
    finally:
        v.close()


def test_a_killed_worker_is_started_again_and_sigkill_of_the_main_process_ends_it(tmp_path: Path) -> None:
    s = _serve(tmp_path)
    try:
        [first] = s.workers()
        os.kill(first, signal.SIGKILL)
        _until(lambda: len(s.workers()) == 1 and s.workers() != [first], what="a new worker")
        [second] = s.workers()
        _until(lambda: len(s.sockets("worker")) == 1, what="the new worker's socket")
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(30)
        _until(lambda: not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text()
               .rsplit(")", 1)[1][:3], what="the worker ending with its main process")
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
        s.proc.communicate(timeout=30)


def test_sigterm_stops_every_process_and_removes_the_sockets(tmp_path: Path) -> None:
    s = _serve(tmp_path)
    [worker] = s.workers()
    err = _stop(s)
    assert s.proc.returncode in (0, -signal.SIGTERM), err
    assert "Traceback" not in err
    _until(lambda: not Path(f"/proc/{worker}").exists(), what="the worker gone")
    assert list((s.home / "run").glob("api-*.sock")) == []


def test_what_a_worker_relays() -> None:
    assert relayed("/api/v1/auth/login") and relayed("/api/v1/video/live/34020000001320000001/index.m3u8")
    assert relayed("/api/v1/import/cameras") and relayed("/metrics")
    assert not relayed("/api/v1/auth/me") and not relayed("/api/v1/cameras") and not relayed("/api/v1/importer")
    assert "/api/v1/auth/login" in RELAYED


def test_merged_metrics_label_each_process() -> None:
    a = "# HELP x_total things\n# TYPE x_total counter\nx_total{route=\"/a\"} 2.0\n"
    b = "# HELP x_total things\n# TYPE x_total counter\nx_total{route=\"/a\"} 5.0\n"
    out = merged_metrics([("0", a), ("1", b)]).decode()
    assert 'x_total{route="/a",worker="0"} 2.0' in out and 'x_total{route="/a",worker="1"} 5.0' in out
    assert out.count("# TYPE x_total counter") == 1


async def test_relay_headers_without_the_secret_are_dropped() -> None:
    seen: list[dict] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope)

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(_: object) -> None:
        return None

    front = RelayedFrom(app, secret="s3cret")
    base = {"type": "http", "client": ("127.0.0.1", 5), "scheme": "http"}
    await front({**base, "headers": [(b"x-vigil-relay", b"nope"), (b"x-vigil-relay-client", b"10.1.1.1:9")]},
                receive, send)
    await front({**base, "headers": [(b"x-vigil-relay", b"s3cret"), (b"x-vigil-relay-client", b"10.1.1.1:9"),
                                     (b"x-vigil-relay-scheme", b"https")]}, receive, send)
    assert seen[0]["client"] == ("127.0.0.1", 5) and seen[0]["headers"] == []
    assert seen[1]["client"] == ("10.1.1.1", 9) and seen[1]["scheme"] == "https" and seen[1]["headers"] == []


def test_an_import_and_a_live_view_go_through_the_worker_to_the_main_process(served: Served) -> None:
    """The upload streams through the relay (the import line is the main process's); the live view's answer comes
    back from the main process (here a camera with no stream: its 503 says so)."""
    auth = {"Authorization": f"Bearer {served.token()}"}
    rows = "".join(f",imported {i},5301,102.7{i:02d},25.01\n" for i in range(40))
    with served.via("worker") as w:
        r = w.post("/api/v1/import/cameras", files={"file": ("c.csv", b"id,name,region,lon,lat\n" + rows.encode(),
                                                             "text/csv")}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 40
        cam = w.get("/api/v1/cameras", params={"q": "imported 7", "limit": 1}, headers=auth).json()["items"][0]
        assert w.patch(f"/api/v1/cameras/{cam['id']}", json={"main_url": "rtsp://127.0.0.1:1/none"},
                       headers=auth).status_code == 200  # a port where nothing listens
        live = w.get(f"/api/v1/video/live/{cam['id']}/index.m3u8", headers=auth)
        _until(lambda: (live := w.get(f"/api/v1/video/live/{cam['id']}/index.m3u8", headers=auth)).status_code
               == 503 and live.json().get("live_state") == "no_video", what="the packager giving up")
    assert live.status_code == 503, live.text
    text = httpx.get(served.base + "/metrics", headers=auth).text
    assert any(ln.startswith("vigil_http_requests_total{") and "index.m3u8" in ln and 'worker="0"' in ln
               for ln in text.splitlines())  # answered (and counted) by the main process
    assert not any("index.m3u8" in ln and 'worker="1"' in ln for ln in text.splitlines())
