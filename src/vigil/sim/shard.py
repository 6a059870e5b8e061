"""A shard of the simulated fleet: the listening sockets of a set of cameras in one event loop.

Each camera has its own loopback address. Its listener follows its connection faults:

* no fault (or a picture fault, ``auth``, ``slow``, ``garbage``, ``dropped``): an RTSP server;
* ``refused``: nothing listens, so the kernel answers a SYN with RST;
* ``offline``: a black hole. A listening socket with a backlog of 0 is filled by one idle
  connection of our own; Linux then drops every further SYN, so clients time out exactly as
  with a camera whose cable was cut.

Run as ``python -m vigil.sim.shard`` it serves cameras in a child process, driven by JSON
lines on stdin (see :class:`vigil.sim.fleet.Fleet`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from vigil.sim.rtsp import CameraProtocol, SimCamera, SimContext
from vigil.sim.stream import Clip, load_clip

__all__ = ["ClipBook", "Shard"]


@dataclass
class ClipBook:
    """The clips cameras stream: healthy footage, or a degraded clip per picture fault."""

    cache: str | None = None
    clips: dict[str, Clip] = field(default_factory=dict)

    async def prepare(self, fault: str = "") -> None:
        """Make (once, cached on disk by :mod:`vigil.sim.media`) and load the clip for ``fault``."""
        if fault in self.clips:
            return
        from vigil.sim import media

        def make() -> Clip:
            path = media.fault_clip(fault, cache=self.cache) if fault else media.healthy_clip(cache=self.cache)
            return load_clip(path)

        self.clips[fault] = await asyncio.to_thread(make)

    def for_camera(self, cam: SimCamera) -> Clip:
        return self.clips.get(cam.picture_fault) or self.clips[""]


def _listener(host: str, port: int, backlog: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    s.setblocking(False)
    return s


class Shard:
    """Serves a set of cameras in the running event loop."""

    def __init__(self, cameras: list[SimCamera], *, slow_s: float = 5.0, cache: str | None = None,
                 backlog: int = 64) -> None:
        self.cameras = {c.index: c for c in cameras}
        self.clips = ClipBook(cache)
        self.ctx = SimContext(clip_for=self.clips.for_camera, slow_s=slow_s)
        self.backlog = backlog
        self._open: dict[int, asyncio.Server] = {}
        self._holes: dict[int, tuple[socket.socket, socket.socket]] = {}

    async def start(self) -> None:
        """Prepare clips, then open every camera's listener."""
        if any(c.streaming for c in self.cameras.values()):
            await self.clips.prepare()
            for f in {c.picture_fault for c in self.cameras.values() if c.streaming} - {""}:
                await self.clips.prepare(f)
        for cam in self.cameras.values():
            await self._apply(cam)

    async def set_faults(self, index: int, faults: frozenset[str]) -> SimCamera:
        """Change one camera's faults while it runs."""
        cam = self.cameras[index]
        cam.faults = faults
        if cam.streaming and cam.picture_fault:
            await self.clips.prepare(cam.picture_fault)
        await self._apply(cam)
        return cam

    async def _apply(self, cam: SimCamera) -> None:
        want = "refused" if "refused" in cam.faults else "offline" if "offline" in cam.faults else "open"
        have = "open" if cam.index in self._open else "offline" if cam.index in self._holes else "refused"
        if want == have:
            return
        if have == "open":
            srv = self._open.pop(cam.index)
            srv.close()
        elif have == "offline":
            for s in self._holes.pop(cam.index):
                s.close()
        if want == "open":
            sock = _listener(cam.host, cam.port, self.backlog)
            ctx = self.ctx
            self._open[cam.index] = await asyncio.get_running_loop().create_server(
                lambda: CameraProtocol(cam, ctx), sock=sock)
        elif want == "offline":
            self._holes[cam.index] = await _black_hole(cam.host, cam.port)

    async def stop(self) -> None:
        for srv in self._open.values():
            srv.close()
        for pair in self._holes.values():
            for s in pair:
                s.close()
        self._open.clear()
        self._holes.clear()


async def _black_hole(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    lsock = _listener(host, port, 0)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(filler, (host, port))
    except OSError:
        filler.close()
        lsock.close()
        raise
    return lsock, filler


async def _serve_stdin() -> None:
    """Child-process main loop: a config line, then one command per line; answers go to stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cfg = json.loads(await reader.readline())
    cams = [SimCamera(index=c["index"], host=c["host"], port=c["port"], username=c["username"],
                      password=c["password"], streaming=c["streaming"], onvif=bool(c["onvif_url"]),
                      faults=frozenset(c["faults"]), auth=c.get("auth", "digest")) for c in cfg["cameras"]]
    shard = Shard(cams, slow_s=cfg["slow_s"], cache=cfg.get("cache"), backlog=cfg.get("backlog", 64))
    out: dict[str, Any]
    try:
        await shard.start()
        out = {"ok": True}
    except OSError as exc:
        out = {"ok": False, "error": str(exc)}
    print(json.dumps(out), flush=True)
    while line := await reader.readline():
        cmd = json.loads(line)
        try:
            cam = await shard.set_faults(cmd["index"], frozenset(cmd["faults"]))
            print(json.dumps({"ok": True, "camera": cam.to_json()}), flush=True)
        except Exception as exc:  # report, keep serving the other cameras
            print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
    await shard.stop()


def main() -> None:
    """Entry point of a shard child process."""
    from vigil.sim.fleet import raise_nofile

    raise_nofile()
    try:
        import uvloop

        uvloop.run(_serve_stdin())
    except ImportError:
        asyncio.run(_serve_stdin())


if __name__ == "__main__":
    main()
