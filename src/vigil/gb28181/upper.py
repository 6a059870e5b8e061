"""Cascade, network side: Vigil registers to an upper platform and answers it as a device would.

An :class:`UpperLink` registers with digest, refreshes before expiry, sends keepalives, and after
``misses`` failed keepalives registers again after a random delay (so that many lower platforms do not
return at once). Catalog queries get :func:`.cascade.shared_catalog` in groups paced by the upper's
200 OK; DeviceInfo and DeviceStatus describe this platform. A catalog SUBSCRIBE (``Expires``
required) is accepted; while it lasts, the shared catalog is compared every ``notify_interval``
seconds with the last one and the changes go up as NOTIFY (ADD, DEL, ON, OFF, UPDATE). An INVITE
for a shared channel is relayed (:mod:`.relay`): from the GB device below through the registrar
(``source``), or from the camera's RTSP stream, as RTP/PS with the SSRC the upper asked for, over UDP or TCP
(``TCP/RTP/AVP``, either ``a=setup``); BYE ends it and closes the TCP connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from vigil.access.audit import record
from vigil.core.context import Vigil
from vigil.core.errors import InputError, NotReadyError
from vigil.gb28181.agent import DeviceAgent
from vigil.gb28181.cascade import UpperConfig, catalog_changes, shared_catalog, write_upper_state
from vigil.gb28181.manscdp import CatalogItem, build, catalog_items_xml
from vigil.gb28181.relay import Relay, start_relay
from vigil.gb28181.sdp import answer, decode_sdp, make_ssrc, parse_answer
from vigil.gb28181.server import GbServer
from vigil.gb28181.sip import SipMessage, uri_user

__all__ = ["UpperLink"]

log = logging.getLogger("vigil.gb28181")


@dataclass
class _Subscription:
    """The upper platform's catalog subscription (one dialog)."""

    call_id: str
    local: str  # our From in NOTIFYs: the To of the SUBSCRIBE, tagged
    remote: str  # the subscriber
    event: str
    until: float
    snapshot: dict[str, CatalogItem]
    cseq: int = 0


@dataclass
class _MediaDialog:
    """The upper platform's INVITE dialog, for in-dialog MESSAGEs (MediaStatus)."""

    local: str  # our To of the 200 OK, tagged
    remote: str  # the upper's From
    cseq: int = 0


class UpperLink(DeviceAgent):
    """One upward link; ``await run()`` until cancelled, then ``await stop()``."""

    def __init__(self, cfg: UpperConfig, vigil: Vigil | None, *, retry: float = 60.0, jitter: float = 10.0,
                 misses: int = 3, catalog_group: int = 4, notify_interval: float = 30.0,
                 source: GbServer | None = None) -> None:
        super().__init__(device_id=cfg.local_id, password=cfg.password, server=(cfg.host, cfg.port),
                         platform_id=cfg.upper_id, catalog_group=catalog_group,
                         info={"DeviceName": "Vigil", "Manufacturer": "Vigil", "Model": "platform",
                               "Firmware": version("vigil")},
                         bind_host=source.config.host if source is not None else "127.0.0.1")
        self.cfg, self.vigil = cfg, vigil
        self.retry, self.jitter, self.misses = retry, jitter, misses
        self.registered = False
        self.registrations = 0
        self.notify_interval = notify_interval
        self.subscription: _Subscription | None = None
        self.notified = 0
        self._sn = 0
        self._watch: asyncio.Task[None] | None = None
        self.source: GbServer | None = source
        self._streams: dict[str, Relay] = {}
        self._dialogs: dict[str, _MediaDialog] = {}

    async def catalog_items(self) -> list[CatalogItem]:
        if self.vigil is None:
            return self.items
        vigil, rules, who = self.vigil, self.cfg.rules, self.cfg.upper_id

        def read() -> list[CatalogItem]:
            with vigil.db.session() as s:
                return shared_catalog(s, rules, actor=who)

        return await asyncio.get_running_loop().run_in_executor(None, read)

    async def run(self) -> None:
        """Register, keep alive, refresh; re-register with jitter after failures."""
        if self.transport is None:
            await self.start()
        loop = asyncio.get_running_loop()
        while True:
            status = await self.register(self.cfg.expires)
            if status != 200:
                self.registered = False
                log.warning("gb28181 upper %s: REGISTER got %s; retrying", self.cfg.upper_id, status or "no answer")
                await self._report(False, error=f"REGISTER: {status or 'no answer'}")
                await asyncio.sleep(self.retry + random.uniform(0, self.jitter))
                continue
            self.registered = True
            self.registrations += 1
            await self._report(True)
            refresh_at = loop.time() + self.cfg.expires * 0.8
            failures = 0
            while loop.time() < refresh_at and failures < self.misses:
                await asyncio.sleep(self.cfg.keepalive)
                self._sn += 1
                ok = await self.keepalive(self._sn, timeout=min(5.0, self.cfg.keepalive)) == 200
                failures = 0 if ok else failures + 1
                if ok:
                    await self._report(True, keepalive=True)
            if failures >= self.misses:
                self.registered = False
                log.warning("gb28181 upper %s: %d keepalives failed; registering again", self.cfg.upper_id,
                            failures)
                await self._report(False, error=f"{failures} keepalives unanswered")
                await asyncio.sleep(random.uniform(0, self.jitter))

    async def _report(self, registered: bool, *, keepalive: bool = False, error: str = "") -> None:
        """Write the link's state for the console (one small update, off the event loop)."""
        if self.vigil is None:
            return
        vigil, who = self.vigil, self.cfg.upper_id

        def write() -> None:
            with vigil.db.session() as s:
                write_upper_state(s, who, registered=registered, keepalive=keepalive, error=error)

        try:
            await asyncio.get_running_loop().run_in_executor(None, write)
        except Exception:  # the link keeps running when the database is away; the next report tries again
            log.warning("gb28181 upper %s: could not record the link state", who, exc_info=True)

    async def _answer(self, msg: SipMessage) -> None:
        if msg.method in ("INVITE", "BYE"):
            await self._media(msg)
            return
        if msg.method != "SUBSCRIBE":
            await super()._answer(msg)
            return
        assert self.transport is not None
        expires = msg.get("Expires").strip()
        if not msg.get("Event").lower().startswith("catalog"):
            self.transport.sendto(msg.response(489, "Bad Event", to_tag=self._tag).to_bytes(), self.server)
            return
        if not expires.isdigit() or len(expires) > 6:
            self.transport.sendto(msg.response(400, "Bad Request (Expires required)", to_tag=self._tag).to_bytes(),
                                  self.server)
            return
        loop = asyncio.get_running_loop()
        ok = msg.response(200, "OK", to_tag=self._tag, extra=[("Expires", expires)])
        # the snapshot comes before the 200: every change after the subscriber hears "OK" is notified
        snapshot = {i.device_id: i for i in await self.catalog_items()}
        self.subscription = _Subscription(msg.call_id, ok.get("To"), msg.get("From"), msg.get("Event"),
                                          loop.time() + int(expires), snapshot)
        self.transport.sendto(ok.to_bytes(), self.server)
        if self._watch is None or self._watch.done():
            self._watch = loop.create_task(self._watch_catalog())

    def _reply(self, msg: SipMessage, status: int, reason: str, **kw: Any) -> SipMessage:
        assert self.transport is not None
        resp = msg.response(status, reason, to_tag=self._tag, **kw)
        self.transport.sendto(resp.to_bytes(), self.server)
        return resp

    async def _media(self, msg: SipMessage) -> None:
        """INVITE for a shared channel: relay the device's stream with the SSRC asked for; BYE ends it."""
        if msg.method == "BYE":
            self._dialogs.pop(msg.call_id, None)
            stream = self._streams.pop(msg.call_id, None)
            self._reply(msg, 200 if stream else 481, "OK" if stream else "Call Does Not Exist")
            if stream is not None and self.source is not None:
                await stream.close(self.source)
            return
        channel = uri_user(msg.uri)
        if self.source is None:
            self._reply(msg, 503, "Service Unavailable (no media source)")
            return
        if channel not in {i.device_id for i in await self.catalog_items()}:
            self._reply(msg, 404, "Not Found (not a shared channel)")
            return
        try:
            want = parse_answer(decode_sdp(msg.body))
        except InputError:
            self._reply(msg, 488, "Not Acceptable Here")
            return
        # over TCP the upper's a=setup says who connects; actpass leaves it to us: we connect
        setup = ("passive" if want.setup in ("passive", "actpass", "") else want.setup) if want.transport == "TCP" else ""
        self._reply(msg, 100, "Trying")
        ssrc = want.ssrc or make_ssrc(self.device_id[:10], len(self._streams), live=True)
        call_id = msg.call_id
        try:
            relay = await start_relay(self.source, channel, (want.ip, want.port), int(ssrc), start=want.start,
                                      end=want.end, on_end=lambda: self._ended(call_id, channel), tcp=setup)
        except NotReadyError as exc:
            self._reply(msg, 480, f"Temporarily Unavailable ({str(exc)[:80]})")
            return
        except InputError as exc:
            self._reply(msg, 488, f"Not Acceptable Here ({str(exc)[:80]})")
            return
        self._streams[msg.call_id] = relay
        host, port = self.source.config.host, relay.port
        sdp = answer(self.device_id, host, port, ssrc, tcp=relay.setup)
        lhost, lport = self.local
        ok = self._reply(msg, 200, "OK", extra=[("Contact", f"<sip:{self.device_id}@{lhost}:{lport}>"),
                                                ("Content-Type", "APPLICATION/SDP")], body=sdp.encode())
        self._dialogs[msg.call_id] = _MediaDialog(ok.get("To"), msg.get("From"))
        if self.vigil is not None:
            vigil, who = self.vigil, self.cfg.upper_id

            def audit() -> None:
                with vigil.db.session() as s:
                    record(s, "gb28181", "gb.upper.stream", channel, upper=who, ssrc=ssrc)

            await asyncio.get_running_loop().run_in_executor(None, audit)

    def _ended(self, call_id: str, channel: str) -> None:
        """The device below finished a playback: tell the upper platform (MediaStatus 121)."""
        if call_id in self._dialogs:
            asyncio.get_running_loop().create_task(self.media_status(call_id, channel))

    async def media_status(self, call_id: str, channel: str, notify_type: str = "121") -> bool:
        """Send MediaStatus (121: end of a playback or download) in the upper's INVITE dialog; True if answered 200."""
        d = self._dialogs.get(call_id)
        if d is None:
            return False
        self._sn += 1
        d.cseq += 1
        body = build("Notify", "MediaStatus", self._sn, channel, {"NotifyType": notify_type})
        host, port = self.local
        heads = [("Via", f"SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
                 ("From", d.local), ("To", d.remote), ("Call-ID", call_id), ("CSeq", f"{d.cseq} MESSAGE"),
                 ("Max-Forwards", "70"), ("Content-Type", "Application/MANSCDP+xml")]
        msg = SipMessage(method="MESSAGE", uri=f"sip:{self.platform_id}@{self.server[0]}:{self.server[1]}",
                         headers=heads, body=body)
        resp = await self.request(msg, timeout=5.0)
        log.info("gb28181 upper %s: MediaStatus %s for %s %s", self.cfg.upper_id, notify_type, channel,
                 "answered" if resp is not None else "unanswered")
        return resp is not None and resp.status == 200

    async def _watch_catalog(self) -> None:
        """While subscribed: compare the shared catalog with the last one; NOTIFY what changed."""
        loop = asyncio.get_running_loop()
        while self.subscription is not None and loop.time() < self.subscription.until:
            await asyncio.sleep(self.notify_interval)
            sub = self.subscription
            if sub is None:
                return
            items = await self.catalog_items()
            changes = catalog_changes(sub.snapshot, items)
            sub.snapshot = {i.device_id: i for i in items}
            for i in range(0, len(changes), self.catalog_group):
                await self._notify(sub, changes[i:i + self.catalog_group], len(changes))
        self.subscription = None

    async def _notify(self, sub: _Subscription, items: list[CatalogItem], total: int) -> None:
        self._sn += 1
        sub.cseq += 1
        body = build("Notify", "Catalog", self._sn, self.device_id, {"SumNum": str(total)},
                     raw=catalog_items_xml(items))
        host, port = self.local
        left = max(0, int(sub.until - asyncio.get_running_loop().time()))
        heads = [("Via", f"SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
                 ("From", sub.local), ("To", sub.remote), ("Call-ID", sub.call_id), ("CSeq", f"{sub.cseq} NOTIFY"),
                 ("Max-Forwards", "70"), ("Event", sub.event), ("Subscription-State", f"active;expires={left}"),
                 ("Content-Type", "Application/MANSCDP+xml")]
        msg = SipMessage(method="NOTIFY", uri=f"sip:{self.platform_id}@{self.server[0]}:{self.server[1]}",
                         headers=heads, body=body)
        if await self.request(msg, timeout=5.0) is not None:
            self.notified += len(items)

    async def stop(self) -> None:
        """Unregister (Expires: 0) and close the socket."""
        if self._watch is not None:
            self._watch.cancel()
        for relay in list(self._streams.values()):
            if self.source is not None:
                await relay.close(self.source)
        self._streams.clear()
        self._dialogs.clear()
        if self.registered:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.register(0), 2.0)
            await self._report(False, error="stopped")
        self.registered = False
        self.close()
