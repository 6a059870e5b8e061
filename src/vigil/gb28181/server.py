"""``vigil gb serve``: the registrar on asyncio, over UDP and TCP on one address and port.

I/O only: parsing is :mod:`.sip`, decisions are :class:`.registrar.Registrar`, the database is
:mod:`.store` on one worker thread (state written in batches every ``flush_interval`` seconds).
Every source address has a token bucket; hosts that keep sending bad messages are muted for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vigil.core.context import Vigil
from vigil.core.errors import InputError, NotReadyError
from vigil.gb28181 import store
from vigil.gb28181.catalog import CatalogAssembler, CatalogResult
from vigil.gb28181.dialog import Dialog, ack, bye, target_of
from vigil.gb28181.dialog import invite as sdp_invite
from vigil.gb28181.limits import BadPeers, RateLimiter
from vigil.gb28181.manscdp import ManscdpError, build, parse, parse_catalog_part
from vigil.gb28181.registrar import Event, Peer, Registrar
from vigil.gb28181.sdp import decode_sdp, make_ssrc, offer, parse_answer
from vigil.gb28181.sip import SipMessage, SipParseError, StreamParser, parse_message, uri_user

__all__ = ["GbConfig", "GbServer", "Stats"]

log = logging.getLogger("vigil.gb28181")


@dataclass(frozen=True)
class GbConfig:
    """Registrar settings (seconds unless named otherwise)."""

    platform_id: str = "34020000002000000001"
    host: str = "127.0.0.1"
    port: int = 5060
    keepalive_interval: float = 60.0
    misses: int = 3
    flush_interval: float = 2.0
    sweep_interval: float = 1.0
    reload_interval: float = 10.0
    rate: float = 20.0
    burst: float = 40.0
    query_on_register: bool = True
    catalog_idle: float = 10.0
    query_timeout: float = 5.0
    invite_timeout: float = 32.0  # RFC 3261 Timer B (64 x T1): how long a proceeding INVITE may take
    max_tcp: int = 20_000


@dataclass
class Stats:
    """Counters and a bounded sample of per-message handling times (seconds)."""

    received: int = 0
    keepalives: int = 0
    rate_limited: int = 0
    muted: int = 0
    parse_errors: int = 0
    offline: int = 0
    online: int = 0
    flushed: int = 0
    catalogs: list[CatalogResult] = field(default_factory=list)
    handle_s: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: GbServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.server.on_bytes(data, Peer("UDP", addr[0], addr[1]), None)


class GbServer:
    """The registrar process. ``start()`` binds and starts the background loops; ``stop()`` ends them."""

    def __init__(self, vigil: Vigil | None, config: GbConfig,
                 devices: dict[str, store.DeviceConfig] | None = None) -> None:
        self.vigil, self.config = vigil, config
        self.registrar = Registrar(config.platform_id, devices=dict(devices or {}),
                                   keepalive_interval=config.keepalive_interval, misses=config.misses)
        self.stats = Stats()
        self.limiter = RateLimiter(config.rate, config.burst)
        # registered peers (a lower platform sends thousands of catalog parts) get a wider allowance
        self.trusted_limiter = RateLimiter(config.rate * 200, config.burst * 100)
        self._trusted: set[Peer] = set()
        self.bad = BadPeers()
        self.catalogs = CatalogAssembler(idle=config.catalog_idle)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: dict[Peer, asyncio.StreamWriter] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gb-db")
        self._waiters: dict[tuple[str, int, str], asyncio.Future[Any]] = {}
        self._calls: dict[str, asyncio.Future[SipMessage]] = {}
        self._proceeding: set[str] = set()  # calls a provisional (1xx) answer said are being worked on
        self._media_watch: dict[str, tuple[str, Any]] = {}  # INVITE Call-ID -> (device host, watcher)
        self._ssrc_seq = 0
        self._audit_budget = RateLimiter(1.0, 60.0)
        self._refused: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._sn = 0
        self.address = f"{config.host}:{config.port}"

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.vigil is not None:
            self.registrar.devices.update(await self.in_db(store.load_devices, self.vigil.box))
        for attempt in range(20):  # UDP and TCP on one port: with port 0, find a number free for both
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self),
                                                         local_addr=(self.config.host, self.config.port))
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._on_tcp, self.config.host, port)
                break
            except OSError:
                udp.close()
                if self.config.port or attempt == 19:
                    raise
        self._udp = udp
        with contextlib.suppress(OSError):  # a registration storm arrives at once: room for it in the kernel
            udp.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.address = f"{self.config.host}:{port}"
        self._tasks = [asyncio.create_task(self._every(self.config.flush_interval, self.flush)),
                       asyncio.create_task(self._every(self.config.sweep_interval, self._sweep))]
        if self.vigil is not None:
            self._tasks.append(asyncio.create_task(self._every(self.config.reload_interval, self.reload)))
        log.info("gb28181 registrar %s listening on udp+tcp %s", self.config.platform_id, self.address)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.flush()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for w in list(self._writers.values()):
            w.close()
        self._db.shutdown(wait=True)

    async def _every(self, seconds: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:  # a loop must survive one bad round (logged, retried next round)
                log.exception("gb28181 background task failed")

    async def in_db(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(session, *args)`` in a transaction on the registrar's one database thread."""
        assert self.vigil is not None
        vigil = self.vigil

        def run() -> Any:
            with vigil.db.session() as s:
                return fn(s, *args)

        return await asyncio.get_running_loop().run_in_executor(self._db, run)

    async def flush(self) -> None:
        """Write the batched device states (one transaction)."""
        states = self.registrar.take_dirty()
        if states and self.vigil is not None:
            self.stats.flushed += await self.in_db(store.write_states, states)

    async def reload(self) -> None:
        """Pick up devices added or removed since start."""
        assert self.vigil is not None
        self.registrar.devices = await self.in_db(store.load_devices, self.vigil.box)

    async def _sweep(self) -> None:
        for ev in self.registrar.sweep():
            self._dispatch(ev)
        for result in self.catalogs.expire():
            self._catalog_done(result)

    # ---- input -------------------------------------------------------------------------------
    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = Peer("TCP", host, port)
        if len(self._writers) >= self.config.max_tcp or self.bad.muted(host, port):
            writer.close()
            return
        framer = StreamParser()
        self._writers[peer] = writer
        try:
            while data := await reader.read(65_536):
                if not self.limiter.allow(peer, len(data) / 4096) or self.bad.muted(host, port):
                    self.stats.rate_limited += 1
                    break
                try:
                    messages = framer.feed(data)
                except SipParseError as exc:
                    self.stats.parse_errors += 1
                    self.bad.strike(host, port, str(exc))
                    break
                for msg in messages:
                    self.on_message(msg, peer, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.pop(peer, None)
            writer.close()

    def on_bytes(self, data: bytes, peer: Peer, writer: asyncio.StreamWriter | None) -> None:
        """One datagram: rate limit, parse, handle."""
        self.stats.received += 1
        if self.bad.muted(peer.host, peer.port):
            self.stats.muted += 1
            return
        limiter = self.trusted_limiter if peer in self._trusted else self.limiter
        if not limiter.allow(peer):
            self.stats.rate_limited += 1
            self.bad.strike(peer.host, peer.port, "over its message rate")
            return
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self.stats.parse_errors += 1
            self.bad.strike(peer.host, peer.port, str(exc))
            return
        self.on_message(msg, peer, writer)

    def on_message(self, msg: SipMessage, peer: Peer, writer: asyncio.StreamWriter | None) -> None:
        t0 = time.perf_counter()
        if not msg.is_request:
            self._on_response(msg)
            return
        watch = self._media_watch.get(msg.call_id) if msg.method == "MESSAGE" else None
        if watch is not None and watch[0] == peer.host:  # in one of our INVITE dialogs (From: the channel)
            self.send(msg.response(200, "OK"), peer)
            self._on_body(uri_user(msg.get("From")), msg, peer)
            return
        reply = self.registrar.handle(msg, peer)
        if reply.response is not None:
            self.send(reply.response, peer)
        for ev in reply.events:
            self._dispatch(ev)
        if msg.method == "MESSAGE" and not reply.events:
            self.stats.keepalives += 1
        self.stats.handle_s.append(time.perf_counter() - t0)

    def send(self, msg: SipMessage, peer: Peer) -> None:
        data = msg.to_bytes()
        if peer.transport == "TCP":
            w = self._writers.get(peer)
            if w is not None and not w.is_closing():
                w.write(data)
        elif self._udp is not None:
            self._udp.sendto(data, (peer.host, peer.port))

    def _on_response(self, msg: SipMessage) -> None:
        """Final answers to INVITE/BYE wake their caller; for queries the content comes in a later MESSAGE."""
        if msg.status < 200:
            key = f"{msg.call_id} {msg.get('CSeq')}"
            if key in self._calls:
                self._proceeding.add(key)
            return
        fut = self._calls.pop(f"{msg.call_id} {msg.get('CSeq')}", None)
        if fut is not None and not fut.done():
            fut.set_result(msg)
        elif msg.status >= 300:
            log.info("gb28181: %s answered %d %s", msg.get("To")[:60], msg.status, msg.reason[:60])

    # ---- events ------------------------------------------------------------------------------
    def _dispatch(self, ev: Event) -> None:
        host, port = (ev.peer.host, ev.peer.port) if ev.peer else ("", 0)
        if ev.kind in ("bad", "refused"):
            self.bad.strike(host, port, f"{ev.device_id}: {ev.detail}")
        if ev.kind == "refused":
            self._audit_refused(ev.device_id, host, ev.detail)
        if ev.peer is not None:
            if ev.kind in ("registered", "refreshed", "online"):
                self._trusted.add(ev.peer)
            elif ev.kind in ("unregistered", "offline"):
                self._trusted.discard(ev.peer)
        if ev.kind == "registered":
            log.info("gb28181 device %s registered from %s:%s/%s", ev.device_id, host, ev.peer and ev.peer.port,
                     ev.peer and ev.peer.transport)
            if self.config.query_on_register:
                asyncio.get_running_loop().create_task(self._after_register(ev.device_id))
        elif ev.kind in ("offline", "online"):
            setattr(self.stats, ev.kind, getattr(self.stats, ev.kind) + 1)
            log.info("gb28181 device %s %s (%s)", ev.device_id, ev.kind, ev.detail)
        elif ev.kind == "message" and ev.message is not None:
            self._on_body(ev.device_id, ev.message, ev.peer)

    def _audit_refused(self, device_id: str, host: str, reason: str) -> None:
        key, now = (device_id, host), time.monotonic()
        if now - self._refused.get(key, -1e9) < 600:  # one audit entry per device and host per 10 min
            return
        if not self._audit_budget.allow("refused"):  # and at most about one a second in all
            return
        self._refused[key] = now
        while len(self._refused) > 4096:
            self._refused.popitem(last=False)
        if self.vigil is not None:
            asyncio.get_running_loop().create_task(self.in_db(store.audit_refused, device_id, host, reason))

    def _on_body(self, device_id: str, msg: SipMessage, peer: Peer | None) -> None:
        body = msg.body
        host, port = (peer.host, peer.port) if peer else ("", 0)
        if b"<CmdType>Catalog</CmdType>" in body[:400]:
            self._on_catalog(device_id, msg, host, port)
            return
        try:
            doc = parse(body)
        except ManscdpError as exc:
            self.bad.strike(host, port, f"{device_id}: {exc}")
            return
        if doc.cmd_type == "MediaStatus":  # in the INVITE's dialog: 121 = the playback or download ended
            watch = self._media_watch.pop(msg.call_id, None)
            if watch is not None:
                watch[1](doc.element.findtext("NotifyType", "").strip())
            return
        fut = self._waiters.pop((doc.device_id, doc.sn, doc.cmd_type), None)
        if fut is not None and not fut.done():
            fut.set_result({child.tag: (child.text or "").strip() for child in doc.element})

    def watch_media_status(self, d: Dialog, watcher: Any) -> None:
        """Call ``watcher(notify_type)`` once, when the device of dialog ``d`` sends MediaStatus in it."""
        sess = self.registrar.sessions.get(d.device_id)
        self._media_watch[d.call_id] = (sess.peer.host if sess is not None else "", watcher)
        while len(self._media_watch) > 10_000:  # dialogs that ended without one
            self._media_watch.pop(next(iter(self._media_watch)))

    def _on_catalog(self, device_id: str, msg: SipMessage, host: str, port: int) -> None:
        try:
            part = parse_catalog_part(msg.body)
        except ManscdpError as exc:
            self.bad.strike(host, port, f"{device_id}: catalog part unreadable: {exc}")
            for d, sn in list(self._open_catalogs(device_id)):
                self.catalogs.bad_part(d, sn)
            return
        if msg.method == "NOTIFY" or b"<Notify>" in msg.body[:200]:
            if self.vigil is not None:
                asyncio.get_running_loop().create_task(self.in_db(store.apply_notify, device_id, part.items))
            return
        result = self.catalogs.add(part)
        if result is not None:
            self._catalog_done(result)

    def _open_catalogs(self, device_id: str) -> list[tuple[str, int]]:
        return [(k[0], k[1]) for k in self._waiters if k[0] == device_id and k[2] == "Catalog"]

    def _catalog_done(self, result: CatalogResult) -> None:
        self.stats.catalogs.append(result)
        del self.stats.catalogs[:-100]
        fut = self._waiters.pop((result.device_id, result.sn, "Catalog"), None)
        if fut is not None and not fut.done():
            fut.set_result(result)

    # ---- queries -----------------------------------------------------------------------------
    def _next_sn(self) -> int:
        self._sn = self._sn % 999_999 + 1
        return self._sn

    async def _ask(self, device_id: str, cmd: str, timeout: float) -> Any:
        sn = self._next_sn()
        out = self.registrar.query(device_id, cmd, sn, local=self.address)
        if out is None:
            return None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[(device_id, sn, cmd)] = fut
        if cmd == "Catalog":
            self.catalogs.expect(device_id, sn)
        self.send(*out)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiters.pop((device_id, sn, cmd), None)

    async def device_info(self, device_id: str) -> dict[str, str] | None:
        """Ask a registered device for DeviceInfo; its fields, or None without an answer."""
        return await self._ask(device_id, "DeviceInfo", self.config.query_timeout)

    async def device_status(self, device_id: str) -> dict[str, str] | None:
        return await self._ask(device_id, "DeviceStatus", self.config.query_timeout)

    async def probe(self, device_id: str) -> bool:
        """Active probe (DeviceStatus): an answer counts as a keepalive; none takes the device offline."""
        answer = await self.device_status(device_id)
        sess = self.registrar.sessions.get(device_id)
        if answer is not None:
            if sess is not None:
                sess.last_alive = self.registrar.clock()
            return True
        ev = self.registrar.mark_offline(device_id, "no answer to an active probe")
        if ev is not None:
            self._dispatch(ev)
        return False

    async def subscribe_catalog(self, device_id: str, expires: int = 3600) -> bool:
        """SUBSCRIBE to a registered device's (or lower platform's) catalog; its NOTIFYs update the registry."""
        out = self.registrar.request(device_id, build("Query", "Catalog", self._next_sn(), device_id),
                                     local=self.address, method="SUBSCRIBE")
        if out is None:
            return False
        msg, peer = out
        msg.set("Event", "Catalog;id=1")
        msg.set("Expires", str(expires))
        resp = await self._transact(msg, peer, self.config.query_timeout)
        return resp is not None and resp.status == 200

    async def catalog(self, device_id: str) -> CatalogResult | None:
        """Query and assemble a device's catalog (complete, or what came before it went quiet)."""
        return await self._ask(device_id, "Catalog", self.config.catalog_idle * 6)

    async def _after_register(self, device_id: str) -> None:
        info = await self.device_info(device_id)
        if info is not None and self.vigil is not None:
            await self.in_db(store.write_info, device_id, info)
        result = await self.catalog(device_id)
        if result is not None and self.vigil is not None and result.items:
            applied = await self.in_db(store.apply_catalog, device_id, list(result.items.values()))
            log.info("gb28181 catalog of %s: %d items, %d missing, %d unreadable; %s", device_id,
                     len(result.items), result.missing, result.bad_items + result.bad_parts, applied)

    # ---- media sessions ----------------------------------------------------------------------
    async def _transact(self, msg: SipMessage, peer: Peer, timeout: float, *,
                        proceeding: float = 0.0) -> SipMessage | None:
        """Send ``msg``; its final answer, or None after ``timeout`` seconds.

        A provisional answer (100 Trying) within ``timeout`` stretches the wait to ``proceeding`` seconds
        in all, as RFC 3261 lets an INVITE take while the far end works on it (a relay asks further down).
        """
        key = f"{msg.call_id} {msg.get('CSeq')}"
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[SipMessage] = loop.create_future()
        self._calls[key] = fut
        self.send(msg, peer)
        t0 = loop.time()
        try:
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout)
            except TimeoutError:
                rest = proceeding - (loop.time() - t0)
                if key not in self._proceeding or rest <= 0:
                    return None
            try:
                return await asyncio.wait_for(fut, rest)
            except TimeoutError:
                return None
        finally:
            self._calls.pop(key, None)
            self._proceeding.discard(key)
            if not fut.done():
                fut.cancel()

    async def invite(self, device_id: str, channel_id: str, media_ip: str, media_port: int, *,
                     tcp: str = "", start: int = 0, end: int = 0) -> Dialog:
        """INVITE a channel to send RTP/PS to ``media_ip:media_port``; the dialog once ACKed.

        ``tcp='passive'``: we listen there and the device connects (RFC 4571 framing); 'active': we
        connect to the device's answer; '' is UDP. ``start``/``end`` (epoch seconds) ask for a playback.

        Raises :class:`NotReadyError` when the device is not registered, does not answer, or refuses.
        """
        self._ssrc_seq += 1
        ssrc = make_ssrc(self.registrar.domain, self._ssrc_seq, live=not end)
        base = self.registrar.request(device_id, b"", local=self.address, target=channel_id)
        if base is None:
            raise NotReadyError(f"GB/T 28181 device {device_id} is not registered")
        msg, peer = base
        sdp = offer(self.config.platform_id, channel_id, media_ip, media_port, ssrc, tcp=tcp, start=start, end=end)
        msg = sdp_invite(msg, platform_id=self.config.platform_id, channel_id=channel_id, ssrc=ssrc,
                         contact=self.address, sdp=sdp)
        ok = await self._transact(msg, peer, self.config.query_timeout, proceeding=self.config.invite_timeout)
        if ok is None or ok.status != 200:
            why = "no answer" if ok is None else f"{ok.status} {ok.reason[:60]}"
            raise NotReadyError(f"channel {channel_id} of {device_id} did not start a stream: {why}")
        try:
            answer = parse_answer(decode_sdp(ok.body))
        except InputError as exc:
            raise NotReadyError(f"channel {channel_id}: unusable SDP answer ({exc})") from None
        d = Dialog(msg.call_id, msg.get("From"), ok.get("To"), target_of(ok, msg.uri), channel_id, device_id, ssrc,
                   answer)
        self.send(ack(d, local=self.address, transport=peer.transport), peer)
        return d

    async def bye(self, d: Dialog) -> bool:
        """End a media session; True if the device answered 200."""
        self._media_watch.pop(d.call_id, None)
        sess = self.registrar.sessions.get(d.device_id)
        if sess is None:
            return False
        resp = await self._transact(bye(d, local=self.address, transport=sess.peer.transport), sess.peer,
                                    self.config.query_timeout)
        return resp is not None and resp.status == 200
