"""The device side of GB/T 28181 on asyncio UDP: digest REGISTER, keepalives, answers to queries.

A :class:`DeviceAgent` is what a camera, an NVR or a lower platform does towards the platform above it:
it is the simulated device of the tests and the benchmark, and the base of Vigil's own upward link
(:mod:`.upper`). One agent is one UDP socket. A Catalog query is answered with the items of
:meth:`DeviceAgent.catalog_items` in parts of ``catalog_group``, each sent after the 200 OK of the one
before (or after its retransmissions ran out); ``catalog_parts`` replaces them with raw bodies, so tests
can send parts out of order, leave one out, or break one.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.gb28181 import digest
from vigil.gb28181.manscdp import CatalogItem, build, catalog_items_xml, parse
from vigil.gb28181.sip import SipMessage, SipParseError, parse_message

__all__ = ["DeviceAgent", "catalog_bodies"]


def catalog_bodies(device_id: str, sn: int, items: list[CatalogItem], per_part: int = 1) -> list[bytes]:
    """Catalog Response bodies of ``per_part`` items each, with SumNum = len(items)."""
    out = []
    for i in range(0, max(len(items), 1), per_part):
        chunk = items[i:i + per_part]
        out.append(build("Response", "Catalog", sn, device_id, {"SumNum": str(len(items))},
                         raw=catalog_items_xml(chunk)))
    return out


@dataclass
class DeviceAgent(asyncio.DatagramProtocol):
    """One device. ``await start()``, then ``register()`` and ``keepalive()``."""

    device_id: str
    password: str
    server: tuple[str, int]
    platform_id: str = "34020000002000000001"
    algorithm: str = "MD5"
    items: list[CatalogItem] = field(default_factory=list)
    catalog_parts: Callable[[int], list[bytes]] | None = None
    catalog_group: int = 2
    info: dict[str, str] = field(default_factory=lambda: {"Manufacturer": "Vigil", "Model": "sim"})
    latencies: list[float] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    _waiting: dict[str, asyncio.Future[SipMessage]] = field(default_factory=dict)
    bind_host: str = "127.0.0.1"
    _cseq: int = 0
    _call: str = ""
    _tag: str = field(default_factory=lambda: secrets.token_hex(4))

    async def start(self, local_port: int = 0) -> None:
        """Resolve the platform's address and bind the socket (on ``bind_host``)."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.server[0], self.server[1], family=socket.AF_INET,
                                       type=socket.SOCK_DGRAM)
        self.server = (str(infos[0][4][0]), int(infos[0][4][1]))
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.bind_host, local_port))
        self._call = f"{secrets.token_hex(8)}@{self.bind_host}"

    @property
    def local(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ---- protocol ----------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        try:
            msg = parse_message(data)
        except SipParseError:
            return
        if msg.is_request:
            if addr[0] == self.server[0]:  # requests are taken from the platform this agent registered to only
                asyncio.get_running_loop().create_task(self._answer(msg))
            return
        fut = self._waiting.pop(f"{msg.call_id} {msg.get('CSeq')}", None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _headers(self, method: str, to: str, call_id: str = "") -> list[tuple[str, str]]:
        self._cseq += 1
        host, port = self.local
        domain = self.platform_id[:10]
        return [("Via", f"SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
                ("From", f"<sip:{self.device_id}@{domain}>;tag={self.device_id[-6:]}"),
                ("To", f"<sip:{to}@{domain}>"), ("Call-ID", call_id or self._call),
                ("CSeq", f"{self._cseq} {method}"), ("Max-Forwards", "70")]

    async def request(self, msg: SipMessage, timeout: float = 5.0) -> SipMessage | None:
        """Send (retransmitting after 0.5, 1, 2 s... as RFC 3261 timer A) and wait for the final response.

        None on timeout; the time from the first send to the answer is recorded.
        """
        assert self.transport is not None
        fut: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        key = f"{msg.call_id} {msg.get('CSeq')}"
        self._waiting[key] = fut
        data, t0, wait = msg.to_bytes(), time.perf_counter(), 0.5
        try:
            while True:
                self.transport.sendto(data, self.server)
                left = timeout - (time.perf_counter() - t0)
                if left <= 0:
                    return None
                try:
                    resp = await asyncio.wait_for(asyncio.shield(fut), min(wait, left))
                    break
                except TimeoutError:
                    wait *= 2
        finally:
            self._waiting.pop(key, None)
        self.latencies.append(time.perf_counter() - t0)
        return resp

    def register_request(self, expires: int = 3600, auth: str = "") -> SipMessage:
        host, port = self.local
        heads = self._headers("REGISTER", self.device_id)
        heads += [("Contact", f"<sip:{self.device_id}@{host}:{port}>"), ("Expires", str(expires))]
        if auth:
            heads.append(("Authorization", auth))
        return SipMessage(method="REGISTER", uri=f"sip:{self.platform_id}@{self.platform_id[:10]}", headers=heads)

    def authorization(self, challenge: str, *, password: str | None = None) -> str:
        """The Authorization header answering a WWW-Authenticate challenge."""
        f = digest.parse_challenge(challenge)
        realm, nonce, qop = f.get("realm", ""), f.get("nonce", ""), "auth" if "auth" in f.get("qop", "") else ""
        uri = f"sip:{self.platform_id}@{self.platform_id[:10]}"
        c = digest.Credentials(self.device_id, realm, nonce, uri, "", self.algorithm, qop, "00000001" if qop else "",
                               secrets.token_hex(4) if qop else "")
        resp = digest.digest_response(c, self.password if password is None else password, "REGISTER")
        value = (f'Digest username="{c.username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                 f'response="{resp}", algorithm={self.algorithm}')
        if qop:
            value += f', qop=auth, nc={c.nc}, cnonce="{c.cnonce}"'
        return value

    async def register(self, expires: int = 3600, *, timeout: float = 5.0) -> int:
        """REGISTER, answer the challenge; the final status (0 on timeout of either transaction)."""
        first = await self.request(self.register_request(expires), timeout)
        if first is None:
            return 0
        if first.status != 401:
            return first.status
        auth = self.authorization(first.get("WWW-Authenticate"))
        second = await self.request(self.register_request(expires, auth), timeout)
        return second.status if second is not None else 0

    def keepalive_request(self, sn: int = 1) -> SipMessage:
        body = build("Notify", "Keepalive", sn, self.device_id, {"Status": "OK"})
        heads = self._headers("MESSAGE", self.platform_id) + [("Content-Type", "Application/MANSCDP+xml")]
        return SipMessage(method="MESSAGE", uri=f"sip:{self.platform_id}@{self.platform_id[:10]}",
                          headers=heads, body=body)

    async def keepalive(self, sn: int = 1, *, timeout: float = 5.0) -> int:
        """Send a keepalive; the status of the answer (0 on timeout)."""
        resp = await self.request(self.keepalive_request(sn), timeout)
        return resp.status if resp is not None else 0

    async def _answer(self, msg: SipMessage) -> None:
        assert self.transport is not None
        if msg.method == "ACK":
            return
        if msg.method != "MESSAGE":
            self.transport.sendto(msg.response(501, "Not Implemented", to_tag=self._tag).to_bytes(), self.server)
            return
        self.transport.sendto(msg.response(200, "OK", to_tag=self._tag).to_bytes(), self.server)
        try:
            q = parse(msg.body)
        except ValueError:
            return
        if q.cmd_type == "Catalog":
            bodies = (self.catalog_parts(q.sn) if self.catalog_parts else
                      catalog_bodies(self.device_id, q.sn, await self.catalog_items(), per_part=self.catalog_group))
        elif q.cmd_type == "DeviceInfo":
            bodies = [build("Response", "DeviceInfo", q.sn, self.device_id, {"Result": "OK", **self.info})]
        elif q.cmd_type == "DeviceStatus":
            bodies = [build("Response", "DeviceStatus", q.sn, self.device_id,
                            {"Result": "OK", "Online": "ONLINE", "Status": "OK"})]
        else:
            return
        for body in bodies:
            out = SipMessage(method="MESSAGE", uri=f"sip:{self.platform_id}@{self.platform_id[:10]}",
                             headers=self._headers("MESSAGE", self.platform_id, secrets.token_hex(8))
                             + [("Content-Type", "Application/MANSCDP+xml")], body=body)
            await self.request(out, timeout=2.0)

    async def catalog_items(self) -> list[CatalogItem]:
        """What a Catalog query gets (override to read it from somewhere)."""
        return self.items
