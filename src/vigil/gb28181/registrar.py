"""The registrar's state machine: REGISTER with digest, keepalives, liveness; no I/O, clock injected.

:meth:`Registrar.handle` takes one parsed request and where it came from, and returns the reply and
the events the server acts on (audit a refusal, query a new device, store a catalog part). Keepalives
touch one dict entry and a dirty set: no database, constant time. :meth:`Registrar.sweep` turns devices
offline after ``misses`` missed keepalives (plus half an interval of grace); coming back needs a new
REGISTER or ``recover`` keepalives in a row, so a device does not flap.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from vigil.gb28181 import digest
from vigil.gb28181.manscdp import ManscdpError, build, parse
from vigil.gb28181.sip import SipMessage, param, uri_user
from vigil.gb28181.store import DeviceConfig, DeviceState

__all__ = ["Event", "Peer", "Registrar", "Session"]

MIN_EXPIRES, MAX_EXPIRES = 60, 86_400


@dataclass(frozen=True)
class Peer:
    """Where a message came from: transport (UDP/TCP), host and port."""

    transport: str
    host: str
    port: int


@dataclass(frozen=True)
class Event:
    """Something the server acts on.

    ``kind`` is registered, refreshed, unregistered, refused, offline, online, bad (a bad message from
    a peer: it counts towards muting that peer) or message (a MANSCDP body other than a keepalive).
    """

    kind: str
    device_id: str = ""
    peer: Peer | None = None
    detail: str = ""
    message: SipMessage | None = None


@dataclass
class Session:
    """A registered device in memory."""

    device_id: str
    peer: Peer
    call_id: str
    expires_at: float
    registered_wall: datetime
    last_alive: float
    online: bool = True
    recover: int = 0


@dataclass
class Reply:
    """What :meth:`Registrar.handle` returns."""

    response: SipMessage | None
    events: list[Event] = field(default_factory=list)


def _wall() -> datetime:
    return datetime.now(UTC)


class Registrar:
    """Registrations and liveness of GB/T 28181 devices for one platform ID."""

    def __init__(self, platform_id: str, *, devices: dict[str, DeviceConfig], keepalive_interval: float = 60.0,
                 misses: int = 3, recover: int = 2, algorithms: tuple[str, ...] = ("MD5", "SM3"),
                 challenge_algorithm: str = "MD5", qop: bool = True, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = _wall) -> None:
        self.platform_id = platform_id
        self.domain = platform_id[:10]
        self.devices = devices
        self.interval, self.misses, self.recover_after = keepalive_interval, misses, recover
        self.algorithms, self.challenge_algorithm, self.qop = algorithms, challenge_algorithm, qop
        self.clock, self.wall = clock, wall
        self.nonces = digest.NonceStore(clock=clock)
        self.sessions: dict[str, Session] = {}
        self.dirty: dict[str, DeviceState] = {}
        self._retrans: OrderedDict[tuple[str, str, str, Peer], SipMessage] = OrderedDict()
        self._tag = secrets.token_hex(4)

    # ---- entry point -------------------------------------------------------------------------
    def handle(self, msg: SipMessage, peer: Peer) -> Reply:
        """React to one request from ``peer``."""
        if msg.method == "REGISTER":
            return self._register(msg, peer)
        if msg.method in ("MESSAGE", "NOTIFY"):
            return self._message(msg, peer)
        if msg.method == "OPTIONS":
            return Reply(self._answer(msg, peer, 200, "OK"))
        if msg.method == "ACK":
            return Reply(None)
        return Reply(self._answer(msg, peer, 405, "Method Not Allowed"))

    def _answer(self, msg: SipMessage, peer: Peer, status: int, reason: str,
                extra: tuple[tuple[str, str], ...] = ()) -> SipMessage:
        resp = msg.response(status, reason, to_tag=self._tag, extra=extra)
        vias = [(i, v) for i, (n, v) in enumerate(resp.headers) if n == "Via"]
        if vias and peer.transport == "UDP":
            i, v = vias[0]
            if ";rport" in v and not param(v, "rport"):
                v = v.replace(";rport", f";rport={peer.port};received={peer.host}", 1)
                resp.headers[i] = ("Via", v)
        return resp

    # ---- REGISTER ----------------------------------------------------------------------------
    def _register(self, msg: SipMessage, peer: Peer) -> Reply:
        branch = param(msg.get("Via"), "branch")
        key = (msg.call_id, msg.get("CSeq"), branch, peer)
        cached = self._retrans.get(key)
        if cached is not None:  # a retransmission: the same answer, no state change
            return Reply(cached)
        device_id = uri_user(msg.get("To")) or uri_user(msg.get("From"))
        cfg = self.devices.get(device_id)
        if cfg is None:
            why = "unknown device" if len(device_id) == 20 and device_id.isdigit() else "not a 20-digit ID"
            return Reply(self._answer(msg, peer, 403, f"Forbidden ({why})"),
                         [Event("refused", device_id[:20], peer, why)])
        if cfg.allowed_hosts and peer.host not in cfg.allowed_hosts:
            return Reply(self._answer(msg, peer, 403, "Forbidden (address not allowed)"),
                         [Event("refused", device_id, peer, f"address {peer.host} not in the whitelist")])
        expires = self._expires(msg)
        if expires is None:
            return Reply(self._answer(msg, peer, 400, "Bad Request (Expires missing)"),
                         [Event("bad", device_id, peer, "REGISTER without Expires")])
        creds = digest.parse_authorization(msg.get("Authorization"))
        if creds is None:
            return Reply(self._challenge(msg, peer))
        if creds.username != device_id or creds.algorithm not in self.algorithms or not digest.verify(
                creds, cfg.password, "REGISTER", self.domain):
            return Reply(self._answer(msg, peer, 403, "Forbidden (wrong credentials)"),
                         [Event("bad", device_id, peer, "wrong digest")])
        if not self.nonces.use(creds.nonce, creds.nc):  # replayed or stale: challenge again
            return Reply(self._challenge(msg, peer, stale=True))
        reply = self._registered(msg, peer, device_id, expires)
        self._retrans[key] = reply.response  # type: ignore[assignment]
        while len(self._retrans) > 4096:
            self._retrans.popitem(last=False)
        return reply

    def _expires(self, msg: SipMessage) -> int | None:
        text = param(msg.get("Contact"), "expires") or msg.get("Expires")
        text = text.strip()
        if not text.isdigit() or len(text) > 10:
            return None
        return int(text)

    def _challenge(self, msg: SipMessage, peer: Peer, *, stale: bool = False) -> SipMessage:
        www = digest.challenge(self.domain, self.nonces.issue(), algorithm=self.challenge_algorithm, qop=self.qop,
                               stale=stale)
        return self._answer(msg, peer, 401, "Unauthorized", (("WWW-Authenticate", www),))

    def _registered(self, msg: SipMessage, peer: Peer, device_id: str, expires: int) -> Reply:
        now, wall = self.clock(), self.wall()
        old = self.sessions.get(device_id)
        date = wall.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wall.microsecond // 1000:03d}"
        if expires == 0:
            self.sessions.pop(device_id, None)
            self.dirty[device_id] = DeviceState(device_id, False, wall, peer.transport, peer.host, peer.port,
                                                wall, wall)
            resp = self._answer(msg, peer, 200, "OK", (("Date", date), ("Expires", "0")))
            return Reply(resp, [Event("unregistered", device_id, peer)] if old else [])
        expires = min(max(expires, MIN_EXPIRES), MAX_EXPIRES)
        fresh = old is None or not old.online or old.call_id != msg.call_id or old.peer != peer
        self.sessions[device_id] = Session(device_id, peer, msg.call_id, now + expires,
                                           wall if fresh or old is None else old.registered_wall, now)
        exp_wall = datetime.fromtimestamp(wall.timestamp() + expires, UTC)
        self.dirty[device_id] = DeviceState(device_id, True, wall, peer.transport, peer.host, peer.port,
                                            self.sessions[device_id].registered_wall, exp_wall)
        extra: tuple[tuple[str, str], ...] = (
            ("Contact", msg.get("Contact") or f"<sip:{device_id}@{peer.host}:{peer.port}>"),
            ("Expires", str(expires)), ("Date", date))
        if msg.get("X-GB-Ver"):
            extra += (("X-GB-Ver", msg.get("X-GB-Ver")),)
        event = Event("registered" if fresh else "refreshed", device_id, peer)
        return Reply(self._answer(msg, peer, 200, "OK", extra), [event])

    # ---- MESSAGE / NOTIFY --------------------------------------------------------------------
    def _message(self, msg: SipMessage, peer: Peer) -> Reply:
        device_id = uri_user(msg.get("From"))
        sess = self.sessions.get(device_id)
        if sess is None or sess.peer.host != peer.host:
            # no strike: after a restart every device keeps sending until it hears it must register again
            return Reply(self._answer(msg, peer, 403, "Forbidden (not registered)"))
        if b"<CmdType>Keepalive</CmdType>" in msg.body[:400]:
            return self._keepalive(msg, peer, sess)
        return Reply(self._answer(msg, peer, 200, "OK"), [Event("message", device_id, peer, message=msg)])

    def _keepalive(self, msg: SipMessage, peer: Peer, sess: Session) -> Reply:
        try:
            body = parse(msg.body)
        except ManscdpError as exc:
            return Reply(self._answer(msg, peer, 400, "Bad Request"), [Event("bad", sess.device_id, peer, str(exc))])
        if body.device_id != sess.device_id:
            return Reply(self._answer(msg, peer, 400, "Bad Request (DeviceID differs from From)"),
                         [Event("bad", sess.device_id, peer, "keepalive for another device")])
        sess.last_alive = self.clock()
        if sess.peer != peer:  # NAT rebinding: same host, new port
            sess.peer = peer
        events: list[Event] = []
        if not sess.online:
            sess.recover += 1
            if sess.recover >= self.recover_after:
                sess.online, sess.recover = True, 0
                events.append(Event("online", sess.device_id, peer))
        self._touch(sess.device_id, sess.online, self.wall())
        return Reply(self._answer(msg, peer, 200, "OK"), events)

    # ---- liveness ----------------------------------------------------------------------------
    def sweep(self) -> list[Event]:
        """Turn silent or expired devices offline; call it every few seconds."""
        now = self.clock()
        limit = self.interval * (self.misses + 0.5)
        events: list[Event] = []
        for dev, sess in list(self.sessions.items()):
            expired = now > sess.expires_at
            if sess.online and (expired or now - sess.last_alive > limit):
                sess.online, sess.recover = False, 0
                self._touch(dev, False, None)
                events.append(Event("offline", dev, sess.peer, "registration expired" if expired else
                                    f"{self.misses} keepalives missed"))
            if expired:
                del self.sessions[dev]
        return events

    def mark_offline(self, device_id: str, reason: str) -> Event | None:
        """A failed active probe: offline now (the same debounce applies to coming back)."""
        sess = self.sessions.get(device_id)
        if sess is None or not sess.online:
            return None
        sess.online, sess.recover = False, 0
        self._touch(device_id, False, None)
        return Event("offline", device_id, sess.peer, reason)

    def _touch(self, device_id: str, online: bool, seen: datetime | None) -> None:
        """Note liveness for the next batch, keeping a pending registration's fields."""
        prev = self.dirty.get(device_id)
        if prev is not None:
            self.dirty[device_id] = replace(prev, online=online, last_seen=seen or prev.last_seen)
        else:
            self.dirty[device_id] = DeviceState(device_id, online, seen)

    def take_dirty(self) -> list[DeviceState]:
        """The state changes since the last call (for one batched write)."""
        out, self.dirty = list(self.dirty.values()), {}
        return out

    # ---- outgoing requests -------------------------------------------------------------------
    def request(self, device_id: str, body: bytes, *, local: str, method: str = "MESSAGE",
                target: str = "") -> tuple[SipMessage, Peer] | None:
        """A request to a registered device (a MANSCDP query by default), and where to send it."""
        sess = self.sessions.get(device_id)
        if sess is None:
            return None
        p = sess.peer
        heads = [("Via", f"SIP/2.0/{p.transport} {local};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
                 ("From", f"<sip:{self.platform_id}@{self.domain}>;tag={secrets.token_hex(4)}"),
                 ("To", f"<sip:{target or device_id}@{self.domain}>"),
                 ("Call-ID", f"{secrets.token_hex(10)}@{local.split(':')[0]}"), ("CSeq", f"1 {method}"),
                 ("Max-Forwards", "70"), ("Content-Type", "Application/MANSCDP+xml")]
        msg = SipMessage(method=method, uri=f"sip:{target or device_id}@{p.host}:{p.port}", headers=heads,
                         body=body)
        return msg, p

    def query(self, device_id: str, cmd_type: str, sn: int, *, local: str) -> tuple[SipMessage, Peer] | None:
        """A Catalog / DeviceInfo / DeviceStatus query for a registered device."""
        return self.request(device_id, build("Query", cmd_type, sn, device_id), local=local)
