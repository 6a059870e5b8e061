"""A tiny ONVIF device service: enough SOAP for ``GetDeviceInformation`` and ``GetSystemDateAndTime``.

Requests must carry a WS-Security UsernameToken (PasswordDigest = Base64(SHA-1(nonce +
created + password)), as ONVIF clients send); a wrong password gets the standard
``ter:NotAuthorized`` SOAP fault. Served on each simulated camera's RTSP port (HTTP is
told apart by its first bytes), and standalone through :func:`serve_onvif` for tests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vigil.sim.rtsp import SimCamera

__all__ = ["handle_http", "password_digest", "serve_onvif"]

_ENV = ('<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" '
        'xmlns:ter="http://www.onvif.org/ver10/error"><s:Body>{}</s:Body></s:Envelope>')
_FAULT = ("<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value>"
          "</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">Sender not authorized</s:Text></s:Reason>"
          "</s:Fault>")


def password_digest(nonce_b64: str, created: str, password: str) -> str:
    """The WS-Security UsernameToken PasswordDigest."""
    raw = base64.b64decode(nonce_b64) + created.encode() + password.encode()
    return base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode()


def _tag(xml: str, name: str) -> str:
    m = re.search(rf"<(?:\w+:)?{name}\b[^>]*>([^<]*)</", xml)
    return m.group(1).strip() if m else ""


def _authorized(xml: str, user: str, password: str) -> bool:
    if _tag(xml, "Username") != user:
        return False
    given, nonce, created = _tag(xml, "Password"), _tag(xml, "Nonce"), _tag(xml, "Created")
    if "PasswordDigest" in xml:
        try:
            return secrets.compare_digest(given, password_digest(nonce, created, password))
        except ValueError:
            return False
    return secrets.compare_digest(given, password)


def _response(status: str, body: str) -> bytes:
    data = _ENV.format(body).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nServer: Vigil-Sim/1.0\r\n\r\n")
    return head.encode() + data


def _soap(xml: str, cam: SimCamera) -> bytes:
    if "GetSystemDateAndTime" in xml:  # unauthenticated by the ONVIF spec
        now = datetime.now(UTC)
        return _response("200 OK", (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time>"
            f"<tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}</tt:Second>"
            f"</tt:Time><tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
            "</tds:GetSystemDateAndTimeResponse>"))
    if not _authorized(xml, cam.username, cam.live_password):
        return _response("400 Bad Request", _FAULT)
    if "GetDeviceInformation" in xml:
        return _response("200 OK", (
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>Vigil</tds:Manufacturer>"
            "<tds:Model>SimCam-768</tds:Model><tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{cam.serial}</tds:SerialNumber><tds:HardwareId>sim-{cam.index}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"))
    return _response("400 Bad Request", "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>"
                     "ter:ActionNotSupported</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">"
                     "Action not supported</s:Text></s:Reason></s:Fault>")


def handle_http(head: str, body: bytes, cam: SimCamera) -> bytes:
    """Answer one HTTP request made to a camera's ONVIF device service."""
    line = head.split("\r\n", 1)[0].split(" ")
    if len(line) < 2 or line[0] != "POST" or not line[1].startswith("/onvif/"):
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    return _soap(body.decode("utf-8", "replace"), cam)


async def serve_onvif(cam: SimCamera, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Serve ``cam``'s ONVIF device service alone over HTTP (``cam.onvif`` must be true)."""
    from vigil.sim.rtsp import CameraProtocol, SimContext

    ctx = SimContext()
    return await asyncio.get_running_loop().create_server(lambda: CameraProtocol(cam, ctx), host, port)
