"""Recording as a background service of ``vigil serve`` (async start/stop around :class:`Recorder`)."""

from __future__ import annotations

import asyncio
import logging

from vigil.core.context import Vigil
from vigil.video.recorder import Recorder, RecorderConfig

__all__ = ["RecordingService"]

log = logging.getLogger("vigil.video.service")


class RecordingService:
    """Records ``camera_ids`` (``None``: every in-service camera with a stream URL) until stopped."""

    def __init__(self, v: Vigil, camera_ids: list[str] | None, cfg: RecorderConfig | None = None) -> None:
        self.recorder = Recorder(v, cfg or RecorderConfig(), camera_ids=camera_ids)
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> RecordingService:
        """Repair the index and start recording in the background."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.recorder.run(self._stop))
        return self

    async def stop(self) -> None:
        """Close every segment cleanly (FFmpeg is asked to stop) and run a last retention pass."""
        if self._stop is None or self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, 60)
        except TimeoutError:
            log.error("recorder did not stop within 60 s; cancelling it")
            self._task.cancel()
