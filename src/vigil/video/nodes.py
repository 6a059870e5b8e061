"""Segments held by other nodes: serving a worker's own segments, and fetching them for playback and export.

In scale-out each worker records its cameras to its own storage and names itself in each
segment row (:attr:`RecordingSegment.node`; "" is the single process's own storage). A worker
runs a :class:`MediaServer` (``GET /segments/<id>``) and advertises its URL in ``media_nodes``
(:func:`advertise`). An API node that plays or exports a range calls :func:`local_copies`: the
segments of other nodes are fetched once into ``<home>/remote/<node>/<id>/`` and used from there.

Between nodes a request carries ``X-Vigil-Node-Auth: <unix time>.<hex HMAC-SHA256>`` over the
time and the segment id, with a key derived from the instance's credential key (every node
holds the same key files); a worker refuses a missing, wrong or older than 60 s signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from pathlib import Path

import httpx
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.config import Settings
from vigil.core.context import Vigil
from vigil.core.crypto import load_or_create_key
from vigil.core.errors import NotFoundError, NotReadyError
from vigil.core.models import utcnow
from vigil.video.models import MediaNode, RecordingSegment

__all__ = ["AUTH_HEADER", "MediaServer", "advertise", "check_auth", "local_copies", "node_auth", "node_key"]

AUTH_HEADER = "X-Vigil-Node-Auth"
MAX_SKEW_S = 60.0
log = logging.getLogger("vigil.video.nodes")


def node_key(settings: Settings) -> bytes:
    """The key nodes sign their segment requests with (derived from the credential key, never sent)."""
    return hmac.new(load_or_create_key(settings.key_file), b"vigil node media v1", hashlib.sha256).digest()


def node_auth(key: bytes, segment_id: int, *, now: float | None = None) -> str:
    """The ``X-Vigil-Node-Auth`` value for fetching ``segment_id`` now."""
    ts = str(int(time.time() if now is None else now))
    return ts + "." + hmac.new(key, f"{ts}.{segment_id}".encode(), hashlib.sha256).hexdigest()


def check_auth(key: bytes, segment_id: int, header: str, *, now: float | None = None) -> bool:
    """True if ``header`` signs ``segment_id`` with ``key`` and is at most 60 s old (constant-time)."""
    ts, _, _mac = (header or "").partition(".")
    if not ts.isdigit() or abs((time.time() if now is None else now) - int(ts)) > MAX_SKEW_S:
        return False
    want = ts + "." + hmac.new(key, f"{ts}.{segment_id}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header)


def advertise(session: Session, name: str, url: str) -> None:
    """Record (or refresh) where node ``name`` serves its segments."""
    row = session.get(MediaNode, name)
    if row is None:
        session.add(MediaNode(name=name, url=url, seen_at=utcnow()))
    else:
        row.url, row.seen_at = url, utcnow()
    session.flush()


class MediaServer:
    """Serves this node's segment files to the other nodes. The constructor only assigns."""

    def __init__(self, v: Vigil, *, node: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.v = v
        self.node = node
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._key = b""

    async def start(self) -> None:
        self._key = node_key(self.v.settings)
        app = web.Application()
        app.router.add_get("/segments/{id}", self._segment)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]  # the ephemeral port actually bound
        self.port = int(sock.getsockname()[1])
        self.url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _path(self, segment_id: int) -> Path | None:
        root = self.v.settings.recordings_dir.resolve()
        with self.v.db.session() as s:
            row = s.scalar(select(RecordingSegment).where(RecordingSegment.id == segment_id))
            if row is None or row.node != self.node:
                return None
            path = Path(row.path).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    async def _segment(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not raw.isdigit():
            return web.Response(status=404, text="no such segment")
        sid = int(raw)
        if not check_auth(self._key, sid, request.headers.get(AUTH_HEADER, "")):
            return web.Response(status=401, text="node authentication required")
        path = await asyncio.to_thread(self._path, sid)
        if path is None:
            return web.Response(status=404, text="no such segment on this node")
        return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


def local_copies(v: Vigil, segs: list[RecordingSegment], *, node: str = "",
                 timeout_s: float = 60.0) -> list[RecordingSegment]:
    """``segs`` with every segment held by another node replaced by a local copy (fetched once).

    The copies are transient rows (never added to a session) with the same id, times and file name.
    Raises :class:`NotReadyError` when a node that holds a segment cannot be reached, and
    :class:`NotFoundError` when it no longer has it.
    """
    remote = [g for g in segs if g.node not in ("", node)]
    if not remote:
        return segs
    with v.db.session() as s:
        urls = {n.name: n.url for n in s.scalars(select(MediaNode).where(
            MediaNode.name.in_({g.node for g in remote})))}
    key = node_key(v.settings)
    out = []
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for g in segs:
            out.append(g if g.node in ("", node) else _copy(v, client, key, g, urls.get(g.node)))
    return out


def _copy(v: Vigil, client: httpx.Client, key: bytes, g: RecordingSegment, base: str | None) -> RecordingSegment:
    if base is None:
        raise NotReadyError(f"node {g.node!r}, which holds a segment of camera {g.camera_id}, is not known")
    dest = v.settings.home / "remote" / g.node / str(g.id) / Path(g.path).name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        try:
            with client.stream("GET", f"{base}/segments/{g.id}", headers={AUTH_HEADER: node_auth(key, g.id)}) as r:
                if r.status_code == 404:
                    raise NotFoundError(f"node {g.node!r} no longer holds segment {g.id} of camera {g.camera_id}")
                if r.status_code != 200:
                    raise NotReadyError(f"node {g.node!r} answered HTTP {r.status_code} for segment {g.id}")
                with tmp.open("wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
            tmp.replace(dest)
        except httpx.HTTPError as exc:
            raise NotReadyError(f"node {g.node!r} cannot be reached ({type(exc).__name__})") from None
        finally:
            tmp.unlink(missing_ok=True)  # a partial download is never used
    return RecordingSegment(id=g.id, camera_id=g.camera_id, path=str(dest), start=g.start, end=g.end,
                            bytes=g.bytes, complete=g.complete, node=g.node)
