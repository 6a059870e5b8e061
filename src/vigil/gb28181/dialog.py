"""INVITE dialogs (live view / playback): the INVITE, and the in-dialog ACK and BYE built from its 200 OK."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from vigil.gb28181.sdp import SdpAnswer
from vigil.gb28181.sip import SipMessage

__all__ = ["Dialog", "ack", "bye", "invite", "target_of"]


@dataclass
class Dialog:
    """An established media session with one channel of a device."""

    call_id: str
    local_from: str
    remote_to: str
    target: str
    channel_id: str
    device_id: str
    ssrc: str
    answer: SdpAnswer
    cseq: int = 1


def invite(base: SipMessage, *, platform_id: str, channel_id: str, ssrc: str, contact: str, sdp: str) -> SipMessage:
    """Turn a request skeleton (Via, From, To, Call-ID) into an INVITE with SDP and the GB Subject."""
    base.method = "INVITE"
    base.set("CSeq", "1 INVITE")
    base.set("Contact", f"<sip:{platform_id}@{contact}>")
    base.set("Content-Type", "APPLICATION/SDP")
    base.set("Subject", f"{channel_id}:{ssrc},{platform_id}:0")
    base.body = sdp.encode()
    return base


def _in_dialog(d: Dialog, method: str, cseq: int, local: str, transport: str) -> SipMessage:
    heads = [("Via", f"SIP/2.0/{transport} {local};rport;branch=z9hG4bK{secrets.token_hex(8)}"),
             ("From", d.local_from), ("To", d.remote_to), ("Call-ID", d.call_id), ("CSeq", f"{cseq} {method}"),
             ("Max-Forwards", "70")]
    return SipMessage(method=method, uri=d.target, headers=heads)


def ack(d: Dialog, *, local: str, transport: str = "UDP") -> SipMessage:
    """The ACK of the 200 OK (CSeq number of the INVITE)."""
    return _in_dialog(d, "ACK", 1, local, transport)


def bye(d: Dialog, *, local: str, transport: str = "UDP") -> SipMessage:
    """End the session."""
    d.cseq += 1
    return _in_dialog(d, "BYE", d.cseq, local, transport)


def target_of(ok: SipMessage, fallback: str) -> str:
    """The remote target: the 200 OK's Contact URI, else the INVITE's Request-URI."""
    contact = ok.get("Contact")
    start, end = contact.find("<"), contact.find(">")
    uri = contact[start + 1:end] if 0 <= start < end else contact.split(";")[0].strip()
    return uri if uri.startswith("sip:") else fallback
