"""The simulated camera fleet: N RTSP cameras on loopback, one 127.X.y.z address each.

Usage::

    async with Fleet(200, streams=2, faults="mix:10%", seed=1) as fleet:
        cam = fleet.cameras[0]               # SimCamera: url, sub_url, onvif_url, username, password, faults
        await fleet.set_faults(5, ["offline"])
        fleet.write_manifest("fleet.json")   # every camera's URL, credentials and faults

Every camera listens on the same port of its own address in one random /16 of 127.0.0.0/8
(so parallel fleets do not collide). A process may hold only ``RLIMIT_NOFILE`` descriptors
(hard limit 20,000 here, and it cannot be raised without privileges), so a large fleet is
split into shards, each a child process (:mod:`vigil.sim.shard`) serving up to
``per_shard`` cameras; small fleets run in the caller's event loop (``workers=0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import os
import random
import resource
import socket
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.core.errors import InputError, NotFoundError, NotReadyError
from vigil.sim.faults import check_faults, parse_spec
from vigil.sim.rtsp import SimCamera
from vigil.sim.shard import Shard

__all__ = ["Fleet", "raise_nofile"]


def raise_nofile() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _address(block: int, index: int) -> str:
    return str(ipaddress.IPv4Address((127 << 24) | (block << 16)) + index + 1)


class _ShardProcess:
    """A shard running in a child process, driven over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lock = asyncio.Lock()

    async def call(self, msg: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self.lock:
            if msg is not None:
                self.proc.stdin.write((json.dumps(msg) + "\n").encode())
                await self.proc.stdin.drain()
            line = await self.proc.stdout.readline()
        if not line:
            raise NotReadyError(f"fleet shard (pid {self.proc.pid}) exited")
        return json.loads(line)

    async def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Fleet:
    """N simulated cameras; see the module docstring. Construction only plans; :meth:`start` serves."""

    def __init__(self, cameras: int, *, streams: int = 0, faults: str | Mapping[int, Iterable[str]] = "",
                 seed: int = 0, onvif: bool = False, username: str = "admin", port: int = 0,
                 workers: int | None = None, per_shard: int | None = None, slow_s: float = 5.0,
                 cache: str | None = None, auth: str = "digest") -> None:
        if auth not in ("digest", "basic"):
            raise InputError(f"auth must be digest or basic, not {auth!r}")
        if cameras < 1 or cameras > 65000:
            raise InputError("a fleet has 1 to 65,000 cameras")
        if not 0 <= streams <= cameras:
            raise InputError("streams must be between 0 and the number of cameras")
        self.n, self.streams, self.seed, self.onvif = cameras, streams, seed, onvif
        self.username, self.port, self.slow_s, self.cache = username, port, slow_s, cache
        self.auth = auth
        self.workers, self.per_shard = workers, per_shard
        self.fault_plan = (parse_spec(faults, cameras, seed=seed) if isinstance(faults, str)
                           else {int(i): check_faults(f) for i, f in faults.items()})
        self.cameras: list[SimCamera] = []
        self.started_at: datetime | None = None
        self._local: Shard | None = None
        self._procs: list[_ShardProcess] = []
        self._owner: dict[int, _ShardProcess] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Fleet:
        """Pick an address block and port, then serve every camera (in shards if needed)."""
        limit = raise_nofile()
        per_shard = self.per_shard or max(1000, limit - 5000)
        workers = self.workers if self.workers is not None else (0 if self.n <= min(per_shard, 4000)
                                                                  else math.ceil(self.n / per_shard))
        if workers == 0 and self.n > limit - 1000:
            raise InputError(f"{self.n} cameras do not fit in one process (RLIMIT_NOFILE {limit}): use workers")
        for _attempt in range(8):
            block = random.randrange(2, 255)
            port = self.port or self._free_port(_address(block, 0))
            self._plan(block, port)
            try:
                await (self._start_local() if workers == 0 else self._start_procs(workers))
                break
            except OSError:  # an address or port taken by someone else: try another block
                await self.stop()
                if self.port:
                    raise
            except BaseException:
                await self.stop()  # never leave shard processes behind
                raise
        else:
            raise NotReadyError("no free loopback address block found for the fleet")
        self.started_at = datetime.now(UTC)
        return self

    def _plan(self, block: int, port: int) -> None:
        rng = random.Random(self.seed)
        self.cameras = [
            SimCamera(index=i, host=_address(block, i), port=port, username=self.username,
                      password=f"pw{rng.getrandbits(40):010x}", streaming=i < self.streams, onvif=self.onvif,
                      faults=self.fault_plan.get(i, frozenset()), auth=self.auth)
            for i in range(self.n)]

    @staticmethod
    def _free_port(host: str) -> int:
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]

    async def _start_local(self) -> None:
        self._local = Shard(self.cameras, slow_s=self.slow_s, cache=self.cache)
        await self._local.start()

    async def _start_procs(self, workers: int) -> None:
        size = math.ceil(self.n / workers)
        for w in range(workers):
            part = self.cameras[w * size:(w + 1) * size]
            if not part:
                continue
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vigil.sim.shard", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=1 << 24)
            sp = _ShardProcess(proc)
            self._procs.append(sp)
            cfg = {"cameras": [c.to_json() for c in part], "slow_s": self.slow_s, "cache": self.cache}
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(cfg) + "\n").encode())
            await proc.stdin.drain()
            for c in part:
                self._owner[c.index] = sp
        for sp in self._procs:
            res = await asyncio.wait_for(sp.call(), 300)
            if not res.get("ok"):
                raise OSError(res.get("error", "shard failed to start"))

    async def stop(self) -> None:
        """Stop serving; child processes are ended by their own pid."""
        if self._local is not None:
            await self._local.stop()
            self._local = None
        for sp in self._procs:
            with contextlib.suppress(ProcessLookupError):
                await sp.stop()
        self._procs.clear()
        self._owner.clear()

    @property
    def pids(self) -> list[int]:
        """Process ids of the shard child processes (empty when the fleet runs in this process)."""
        return [sp.proc.pid for sp in self._procs]

    async def __aenter__(self) -> Fleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- control -----------------------------------------------------------------------------
    async def set_faults(self, index: int, faults: Iterable[str]) -> SimCamera:
        """Replace camera ``index``'s faults while it runs (``[]`` heals it)."""
        if not 0 <= index < len(self.cameras):
            raise NotFoundError(f"no simulated camera {index}")
        wanted = check_faults(faults)
        cam = self.cameras[index]
        if self._local is not None:
            await self._local.set_faults(index, wanted)
        elif index in self._owner:
            res = await self._owner[index].call({"index": index, "faults": sorted(wanted)})
            if not res.get("ok"):
                raise NotReadyError(f"camera {index}: {res.get('error')}")
        cam.faults = wanted
        return cam

    def manifest(self) -> dict[str, Any]:
        """Machine-readable description: every camera's URLs, credentials and injected faults."""
        first = self.cameras[0] if self.cameras else None
        return {"cameras_total": self.n, "streams": self.streams, "seed": self.seed,
                "port": first.port if first else None,
                "block": f"{first.host.rsplit('.', 2)[0]}.0.0/16" if first else None,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "cameras": [c.to_json() for c in self.cameras]}

    def write_manifest(self, path: str | Path, **extra: Any) -> Path:
        """Write :meth:`manifest` (plus ``extra`` keys) as JSON to ``path`` (mode 0600: it holds passwords)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**self.manifest(), **extra}, f, indent=1)
        return p
