"""Recording on scale-out workers: each records its shard's cameras to its own disk; an API node plays the rest.

Two workers (leases on a real nats-server) record two cameras of a real RTSP server, one
camera each by shard. The segment rows name the worker that holds them, the files lie in that
worker's own home, and playback through the API of a third node (which holds no file) returns
the clip built from the bytes fetched from the worker. Between nodes the segment server refuses
an unsigned request and a segment that is not its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_recorder import CFG
from video_helpers import add_camera

from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.video.models import MediaNode, RecordingSegment
from vigil.video.nodes import AUTH_HEADER, node_auth, node_key
from vigil.worker.assign import shard_of, shards_of
from vigil.worker.natsserver import NatsServer
from vigil.worker.runner import Worker

NAMES = ("w1", "w2")


def _split_ids() -> dict[str, str]:
    """A camera id for each worker: the shard of each belongs to that worker when both are members."""
    mine = {n: shards_of(n, set(NAMES)) for n in NAMES}
    out: dict[str, str] = {}
    for serial in range(1, 200):
        cid = f"5301020000132{serial:07d}"
        for n in NAMES:
            if n not in out and shard_of(cid) in mine[n]:
                out[n] = cid
        if len(out) == 2:
            return out
    raise AssertionError("no split found")


def _node_home(v: Vigil, folder) -> str:
    """A worker's own home: its own disk, with the instance's key files (every node holds the same)."""
    folder.mkdir(parents=True)
    node_key(v.settings)  # the credential key exists from now on
    for f in (v.settings.key_file, v.settings.audit_key_file):
        shutil.copy2(f, folder / f.relative_to(v.settings.home))
    return str(folder)


def _rows(v: Vigil, cam: str) -> list[RecordingSegment]:
    with v.db.session() as s:
        return list(s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == cam)
                              .order_by(RecordingSegment.start)))


async def _until(what, check, limit=60.0):
    for _ in range(int(limit / 0.2)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


async def test_workers_record_their_shards_and_an_api_node_plays_them(sqlite_vigil, rtsp_server, tmp_path):
    v = sqlite_vigil
    cams = _split_ids()
    with v.db.session() as s:
        for cid in cams.values():
            add_camera(s, rtsp_server.url, cam_id=cid)
        ivan = issue_token(s, add_user(s, "ivan", "a-long-password", "investigator", ["530102"]))
    homes = {n: Vigil.open(v.settings.db_url, _node_home(v, tmp_path / n)) for n in NAMES}
    nats_srv = NatsServer(tmp_path / "nats").start()
    workers = {n: Worker(homes[n], nats_url=nats_srv.url, name=n, ttl=3.0, probe_interval=60.0, recording=CFG)
               for n in NAMES}
    try:
        for w in workers.values():
            await w.start()
        await _until("each camera recorded by its shard's worker",
                     lambda: all(len([r for r in _rows(v, cams[n]) if r.complete]) >= 3 for n in NAMES))
        seg = {}
        for n in NAMES:
            rows = _rows(v, cams[n])
            assert {r.node for r in rows} == {n}  # the segment index names the worker holding each file
            assert all(r.path.startswith(str(homes[n].settings.recordings_dir)) for r in rows)
            seg[n] = next(r for r in rows if r.complete)
        with v.db.session() as s:
            urls = {m.name: m.url for m in s.scalars(select(MediaNode))}
        assert set(urls) == set(NAMES)
        async with httpx.AsyncClient() as c:  # between nodes: signed, and only the node's own segments
            unsigned = await c.get(f"{urls['w2']}/segments/{seg['w2'].id}")
            forged = await c.get(f"{urls['w2']}/segments/{seg['w2'].id}", headers={AUTH_HEADER: "1.00"})
            other = await c.get(f"{urls['w2']}/segments/{seg['w1'].id}",
                                headers={AUTH_HEADER: node_auth(node_key(v.settings), seg["w1"].id)})
        assert (unsigned.status_code, forged.status_code, other.status_code) == (401, 401, 404)
        client = TestClient(create_app(v))  # an API node: no segment file on its disk
        g = seg["w2"]
        body = {"camera_id": cams["w2"], "start": g.start.isoformat(),
                "end": (g.start + timedelta(seconds=1.5)).isoformat(), "kind": "view",
                "reason": "case 2026-77: the worker's footage"}
        made = (await asyncio.to_thread(client.post, "/api/v1/video/retrievals", json=body,
                                        headers={"Authorization": f"Bearer {ivan}"})).json()
        rid = made["id"]
        assert made["state"] == "approved"  # not a protected site: no second person needed
        r = await asyncio.to_thread(client.get, f"/api/v1/video/retrievals/{rid}/playback.mp4",
                                    headers={"Authorization": f"Bearer {ivan}"})
        assert r.status_code == 200 and r.content[4:8] == b"ftyp" and len(r.content) > 1000, r.text[:300]
        copy = v.settings.home / "remote" / "w2" / str(g.id) / g.path.rsplit("/", 1)[1]
        assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(Path(g.path).read_bytes()).digest()
        assert not (v.settings.recordings_dir / cams["w2"]).exists()  # nothing recorded by the API node
    finally:
        for w in workers.values():
            await w.stop()
        for h in homes.values():
            h.close()
        nats_srv.stop()
