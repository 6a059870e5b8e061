"""Recording on a worker: the cameras of the shards it holds, to its own disk, served to the API nodes.

:class:`ShardRecording` runs a :class:`~vigil.video.recorder.Recorder` whose ``keep`` follows the
worker's leases (the worker calls :meth:`ShardRecording.follow` the moment it wins, loses or
gives away a shard; the recorder's own sync is the backstop), naming the worker in every segment row, and a :class:`~vigil.video.nodes.MediaServer`
that serves those segments to the other nodes, advertised in ``media_nodes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.video.nodes import MediaServer, advertise
from vigil.video.recorder import Recorder, RecorderConfig

__all__ = ["ShardRecording"]

log = logging.getLogger("vigil.worker.recording")


class ShardRecording:
    """Records the cameras ``keep`` says are ours, as node ``node``. The constructor only assigns."""

    def __init__(self, v: Vigil, *, node: str, keep: Callable[[str], bool], cfg: RecorderConfig | None = None,
                 host: str = "127.0.0.1", port: int = 0,
                 fence: Callable[[Session, str], bool] | None = None) -> None:
        self.v = v
        self.node = node
        self.recorder = Recorder(v, cfg or RecorderConfig(), node=node, keep=keep, fence=fence)
        self.media = MediaServer(v, node=node, host=host, port=port)
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.media.start()
        await asyncio.to_thread(self._advertise)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.recorder.run(self._stop), name=f"vigil-worker-recorder-{self.node}")

    async def follow(self) -> None:
        """Start and stop cameras now, after the worker won or lost a shard."""
        await self.recorder.sync_now()

    def _advertise(self) -> None:
        with self.v.db.session() as s:
            advertise(s, self.node, self.media.url)

    async def stop(self) -> None:
        """Close every segment cleanly (FFmpeg is asked to stop), then stop serving."""
        if self._stop is not None and self._task is not None:
            self._stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 60)
            except TimeoutError:
                log.error("worker %s: recorder did not stop within 60 s; cancelling it", self.node)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            self._task = None
        await self.media.stop()
