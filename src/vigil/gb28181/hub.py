"""GB/T 28181 media for the live view and the recorder: one INVITE per channel, BYE after the last reader.

The hub serves each GB channel's MPEG-PS byte stream to local readers (the live view's and the
recorder's FFmpeg, which demux it with FFmpeg's ``mpeg`` demuxer and copy the video: no re-encode)
over loopback HTTP: ``GET /gb/<channel>.ps?key=<instance key>``. The first reader of a channel makes
the registrar INVITE its device (RTP/PS over UDP, TCP passive, or TCP active per ``transport``); every
later reader shares that stream; when the last one leaves (a live view nobody watches is stopped by the
live view's idle reaper, a recorder stops), the hub sends BYE.

The address and key are published in ``<home>/run/gb-media.json`` (mode 0600), so a ``vigil serve``
in another process of the same instance reaches a ``vigil gb serve`` hub. The key travels to FFmpeg
on its stdin (:func:`vigil.video.ffmpeg.stream_input`), never in a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vigil.core.errors import NotReadyError
from vigil.gb28181 import store
from vigil.gb28181.dialog import Dialog
from vigil.gb28181.media import RtpPsReceiver, open_rtp_udp, read_rtp_tcp, serve_rtp_tcp
from vigil.gb28181.server import GbServer

__all__ = ["HUB_FILE", "MediaHub", "MediaTransport", "hub_url"]

log = logging.getLogger("vigil.gb28181.hub")
HUB_FILE = "gb-media.json"
MediaTransport = Literal["udp", "tcp-passive", "tcp-active"]
_REQUEST = re.compile(rb"^GET /gb/(\d{20})\.ps\?key=([A-Za-z0-9_-]{16,64}) HTTP/1\.[01]\r\n")
_QUEUE = 4096  # chunks (about 5 MB of PS) a reader may fall behind before it is dropped


def hub_url(run_dir: Path, channel_id: str) -> str | None:
    """The URL a local reader opens for ``channel_id`` (a secret: it carries the key), or None without a hub."""
    try:
        info = json.loads((run_dir / HUB_FILE).read_text())
        return f"{info['url']}/gb/{channel_id}.ps?key={info['key']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class _Stream:
    """One channel's media session and its readers."""

    channel_id: str
    receiver: RtpPsReceiver
    readers: set[asyncio.Queue[bytes | None]] = field(default_factory=set)
    dialog: Dialog | None = None
    closers: list[Any] = field(default_factory=list)
    media_port: int = 0  # where the device sends (UDP, TCP passive); 0 for TCP active

    def fan_out(self, chunk: bytes) -> None:
        for q in list(self.readers):
            try:
                q.put_nowait(chunk)
            except asyncio.QueueFull:  # a reader that stopped reading: end it rather than hold the stream
                self.readers.discard(q)
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(None)


class MediaHub:
    """Serves GB channels' PS to local readers. ``start()`` listens; ``stop()`` ends every session."""

    def __init__(self, server: GbServer, *, run_dir: Path | None = None, transport: MediaTransport = "udp",
                 linger_s: float = 0.0, stall_s: float = 10.0) -> None:
        self.server, self.transport, self.linger_s, self.stall_s = server, transport, linger_s, stall_s
        self.run_dir = run_dir or (server.vigil.settings.home / "run" if server.vigil is not None else None)
        self.key = secrets.token_urlsafe(24)
        self.url = ""
        self.streams: dict[str, _Stream] = {}
        self.invites = self.byes = self.bye_ok = 0  # bye_ok: BYEs the device answered 200
        self._http: asyncio.Server | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._reader_tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._http = await asyncio.start_server(self._on_reader, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._http.sockets[0].getsockname()[1]}"
        if self.run_dir is not None:
            self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.run_dir / f".{HUB_FILE}.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"url": self.url, "key": self.key, "pid": os.getpid()}, f)
            tmp.replace(self.run_dir / HUB_FILE)
        log.info("gb28181 media hub on %s (%s)", self.url, self.transport)

    def local_url(self, channel_id: str) -> str:
        """The URL of ``channel_id`` on this hub (with the key)."""
        return f"{self.url}/gb/{channel_id}.ps?key={self.key}"

    async def stop(self) -> None:
        if self._http is not None:
            self._http.close()
        for st in list(self.streams.values()):
            for q in st.readers:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)
            await self._close(st)
        self.streams.clear()
        if self._reader_tasks:  # each one sees its end and leaves
            await asyncio.wait(self._reader_tasks, timeout=5)
        if self.run_dir is not None:
            with contextlib.suppress(OSError, ValueError):
                path = self.run_dir / HUB_FILE
                if json.loads(path.read_text()).get("key") == self.key:  # ours, not a newer hub's
                    path.unlink()

    def readers(self, channel_id: str) -> int:
        """How many readers share the channel's stream now."""
        st = self.streams.get(channel_id)
        return len(st.readers) if st is not None else 0

    # ---- readers -----------------------------------------------------------------------------
    async def _on_reader(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._reader_tasks.add(task)
            task.add_done_callback(self._reader_tasks.discard)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        m = _REQUEST.match(head)
        if m is None or not hmac.compare_digest(m.group(2), self.key.encode()):
            await self._refuse(writer, "403 Forbidden", "bad request or key")
            return
        channel = m.group(1).decode()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE)
        try:
            st = await self._join(channel, queue)
        except NotReadyError as exc:
            await self._refuse(writer, "503 Service Unavailable", str(exc))
            return
        try:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: video/MP2P\r\nCache-Control: no-store\r\n\r\n")
            gone = asyncio.create_task(reader.read(1))  # a reader sends nothing more: EOF means it left
            while True:
                get = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    get.cancel()
                    break
                chunk = get.result()
                if chunk is None:
                    break
                writer.write(chunk)
                await writer.drain()
            gone.cancel()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            await self._leave(st, queue)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: str, why: str) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(f"HTTP/1.0 {status}\r\nContent-Type: text/plain\r\n\r\n{why[:200]}\n".encode())
            await writer.drain()
        writer.close()

    async def _join(self, channel: str, queue: asyncio.Queue[bytes | None]) -> _Stream:
        async with self._locks.setdefault(channel, asyncio.Lock()):
            st = self.streams.get(channel)
            if st is None:
                st = await self._open(channel)
                self.streams[channel] = st
            st.readers.add(queue)
            return st

    async def _leave(self, st: _Stream, queue: asyncio.Queue[bytes | None]) -> None:
        st.readers.discard(queue)
        if st.readers:
            return
        if self.linger_s:
            await asyncio.sleep(self.linger_s)
        async with self._locks.setdefault(st.channel_id, asyncio.Lock()):
            if not st.readers and self.streams.get(st.channel_id) is st:
                del self.streams[st.channel_id]
                await self._close(st)

    # ---- media sessions ----------------------------------------------------------------------
    async def _open(self, channel: str) -> _Stream:
        """INVITE the channel's device to send to a new port; the stream once its 200 OK is ACKed."""
        srv = self.server
        device = await srv.in_db(store.device_of_channel, channel) if srv.vigil is not None else None
        if device is None or device not in srv.registrar.sessions:
            raise NotReadyError(f"channel {channel}: its GB/T 28181 device is not registered")
        st = _Stream(channel, RtpPsReceiver(lambda b: st.fan_out(b)))
        host, loop = srv.config.host, asyncio.get_running_loop()
        if self.transport == "udp":
            udp, port = await open_rtp_udp(lambda: st.receiver, host)
            st.closers.append(udp)
        elif self.transport == "tcp-passive":
            tcp, port = await serve_rtp_tcp(st.receiver, host)
            st.closers.append(tcp)
        else:
            port = 9  # TCP active: we connect to the device; the offer's port is not used
        st.media_port = port if self.transport != "tcp-active" else 0
        tcp_role = {"udp": "", "tcp-passive": "passive", "tcp-active": "active"}[self.transport]
        try:
            st.dialog = await srv.invite(device, channel, host, port, tcp=tcp_role)
            self.invites += 1
            st.receiver.expected_ssrc = int(st.dialog.ssrc)
            if self.transport == "tcp-active":
                st.closers.append(await self._connect(st, st.dialog))
        except (NotReadyError, OSError) as exc:
            await self._close(st)
            raise NotReadyError(f"channel {channel}: {exc}") from None
        st.closers.append(loop.create_task(self._watch(st)))
        log.info("gb28181 hub: %s streaming over %s", channel, self.transport)
        return st

    async def _watch(self, st: _Stream) -> None:
        """End the readers of a device silent for ``stall_s``, so that no reader hangs on it.

        FFmpeg sees the end and exits; a recorder reconnects, which INVITEs again.
        """
        seen, quiet = -1, 0.0
        while True:
            await asyncio.sleep(min(1.0, self.stall_s / 2))
            got = st.receiver.received
            quiet = 0.0 if got != seen else quiet + min(1.0, self.stall_s / 2)
            seen = got
            if quiet >= self.stall_s:
                log.info("gb28181 hub: %s sent nothing for %.0f s; ending its readers", st.channel_id, quiet)
                for q in list(st.readers):
                    with contextlib.suppress(asyncio.QueueFull):
                        q.put_nowait(None)
                return

    async def _connect(self, st: _Stream, d: Dialog) -> asyncio.Task[None]:
        """TCP active: connect to the device's ``c=``/``m=`` and read RFC 4571-framed RTP."""
        if d.answer.transport != "TCP":
            raise NotReadyError("the device answered TCP active with a non-TCP media line")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(d.answer.ip, d.answer.port), 5)
        return asyncio.get_running_loop().create_task(read_rtp_tcp(reader, writer, st.receiver))

    async def _close(self, st: _Stream) -> None:
        for c in st.closers:
            if isinstance(c, asyncio.Task):
                c.cancel()
            else:
                c.close()
        st.closers.clear()
        if st.dialog is not None:
            d, st.dialog = st.dialog, None
            self.byes += 1
            with contextlib.suppress(Exception):
                self.bye_ok += bool(await self.server.bye(d))
            log.info("gb28181 hub: %s ended (BYE)", st.channel_id)
