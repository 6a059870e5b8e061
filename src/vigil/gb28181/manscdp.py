"""MANSCDP XML bodies (GB/T 28181 Annex A): safe parsing in GB2312/GB18030 or UTF-8, and building.

Parsing refuses any DTD, entity declaration or processing instruction besides the XML declaration
(the stdlib parser would otherwise expand internal entities), and bodies over :data:`MAX_BODY` bytes.
A Catalog body whose XML is broken is still read item by item: every ``<Item>`` that parses is kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from vigil.core.errors import InputError

__all__ = [
    "CatalogItem",
    "CatalogPart",
    "Manscdp",
    "ManscdpError",
    "build",
    "decode_body",
    "parse",
    "parse_catalog_part",
]

MAX_BODY = 262_144
_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ENC = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_-]+)[\"']", re.IGNORECASE)
_FORBIDDEN = re.compile(r"<!(?!--|\[CDATA\[)|<\?(?!xml\s)", re.IGNORECASE)
_GB = {"gb2312", "gbk", "gb18030", "gb-2312", "cp936"}
_ITEM = re.compile(r"<Item>.*?</Item>", re.DOTALL | re.IGNORECASE)


class ManscdpError(InputError):
    """A MANSCDP body that cannot be read."""


@dataclass
class Manscdp:
    """A parsed body: root (Query/Response/Notify/Control), CmdType, SN, DeviceID, the element."""

    root: str
    cmd_type: str
    sn: int
    device_id: str
    element: ET.Element

    def text(self, tag: str, default: str = "") -> str:
        el = self.element.find(tag)
        return (el.text or "").strip() if el is not None else default


@dataclass(frozen=True)
class CatalogItem:
    """One catalog entry: a camera, or a directory node (region, business group, virtual organisation)."""

    device_id: str
    name: str = ""
    manufacturer: str = ""
    model: str = ""
    civil_code: str = ""
    parent_id: str = ""
    business_group: str = ""
    parental: bool = False
    status: str = ""
    longitude: float | None = None
    latitude: float | None = None
    event: str = ""


@dataclass
class CatalogPart:
    """What one Catalog Response/Notify message carried."""

    device_id: str
    sn: int
    sum_num: int
    items: list[CatalogItem] = field(default_factory=list)
    bad_items: int = 0


def decode_body(data: bytes) -> str:
    """Decode by the XML declaration (GB2312 family -> GB18030, a superset); fall back to the other one."""
    if len(data) > MAX_BODY:
        raise ManscdpError(f"MANSCDP body of {len(data)} bytes is over the {MAX_BODY}-byte limit")
    m = _ENC.match(data)
    declared = m.group(1).decode().lower() if m else "utf-8"
    order = ["gb18030", "utf-8"] if declared in _GB else ["utf-8", "gb18030"]
    for enc in order:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ManscdpError(f"MANSCDP body is neither {order[0]} nor {order[1]}")


def _tree(text: str) -> ET.Element:
    text = _DECL.sub("", text, count=1)
    if _FORBIDDEN.search(text):
        raise ManscdpError("MANSCDP body has a DTD, entity or processing instruction (refused)")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ManscdpError(f"MANSCDP body is not well-formed XML: {exc}") from None


def _int(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        raise ManscdpError(f"{what} {text[:20]!r} is not a number")
    return int(text)


def parse(data: bytes) -> Manscdp:
    """Parse a MANSCDP body; CmdType and DeviceID are required, SN defaults to 0."""
    el = _tree(decode_body(data))
    cmd = (el.findtext("CmdType") or "").strip()
    dev = (el.findtext("DeviceID") or "").strip()
    if not cmd or not dev:
        raise ManscdpError("MANSCDP body lacks CmdType or DeviceID")
    sn_text = (el.findtext("SN") or "0").strip() or "0"
    return Manscdp(root=el.tag, cmd_type=cmd, sn=_int(sn_text, "SN"), device_id=dev, element=el)


def _float(text: str | None) -> float | None:
    try:
        v = float((text or "").strip())
    except ValueError:
        return None
    return v if -180.0 <= v <= 180.0 and v == v else None


def _item(el: ET.Element) -> CatalogItem:
    def t(tag: str) -> str:
        return (el.findtext(tag) or "").strip()[:200]

    dev = t("DeviceID")
    if not dev.isdigit() or not 2 <= len(dev) <= 20:
        raise ManscdpError(f"catalog item DeviceID {dev[:24]!r} is not a GB/T 28181 code")
    return CatalogItem(device_id=dev, name=t("Name"), manufacturer=t("Manufacturer"), model=t("Model"),
                       civil_code=t("CivilCode"), parent_id=t("ParentID"), business_group=t("BusinessGroupID"),
                       parental=t("Parental") == "1", status=t("Status").upper(),
                       longitude=_float(el.findtext("Longitude")), latitude=_float(el.findtext("Latitude")),
                       event=t("Event").upper())


def parse_catalog_part(data: bytes) -> CatalogPart:
    """Read one Catalog Response/Notify; a broken document is read item by item (bad ones counted)."""
    text = decode_body(data)
    try:
        el = _tree(text)
    except ManscdpError:
        return _salvage(text)
    head = _head(el.findtext("DeviceID"), el.findtext("SN"), el.findtext("SumNum"))
    part = CatalogPart(*head)
    for item_el in el.iter("Item"):
        try:
            part.items.append(_item(item_el))
        except ManscdpError:
            part.bad_items += 1
    return part


def _head(dev: str | None, sn: str | None, sum_num: str | None) -> tuple[str, int, int]:
    dev = (dev or "").strip()
    if not dev:
        raise ManscdpError("catalog message lacks DeviceID")
    return dev, _int(sn or "0", "SN"), _int(sum_num or "0", "SumNum")


def _salvage(text: str) -> CatalogPart:
    if _FORBIDDEN.search(text):
        raise ManscdpError("MANSCDP body has a DTD, entity or processing instruction (refused)")

    def grab(tag: str) -> str | None:
        m = re.search(rf"<{tag}>\s*([^<]*?)\s*</{tag}>", text)
        return m.group(1) if m else None

    part = CatalogPart(*_head(grab("DeviceID"), grab("SN"), grab("SumNum")))
    for chunk in _ITEM.findall(text):
        try:
            part.items.append(_item(_tree(chunk)))
        except ManscdpError:
            part.bad_items += 1
    if not part.items and not part.bad_items:
        raise ManscdpError("catalog message is not XML and has no readable item")
    return part


def build(root: str, cmd_type: str, sn: int, device_id: str, fields: dict[str, str] | None = None,
          *, raw: str = "", charset: str = "GB2312") -> bytes:
    """Build a MANSCDP body; ``fields`` are escaped child elements, ``raw`` is appended as is."""
    lines = [f'<?xml version="1.0" encoding="{charset}"?>', f"<{root}>", f"<CmdType>{escape(cmd_type)}</CmdType>",
             f"<SN>{int(sn)}</SN>", f"<DeviceID>{escape(device_id)}</DeviceID>"]
    lines += [f"<{k}>{escape(str(v))}</{k}>" for k, v in (fields or {}).items()]
    if raw:
        lines.append(raw)
    lines.append(f"</{root}>")
    text = "\n".join(lines) + "\n"
    return text.encode("gb18030" if charset.lower() in _GB else "utf-8")


def catalog_items_xml(items: list[CatalogItem]) -> str:
    """``<DeviceList>`` for items (used by tests and a device simulator)."""
    out = [f'<DeviceList Num="{len(items)}">']
    for it in items:
        out.append("<Item>" + "".join(
            f"<{k}>{escape(v)}</{k}>" for k, v in (
                ("DeviceID", it.device_id), ("Name", it.name), ("CivilCode", it.civil_code),
                ("ParentID", it.parent_id), ("Parental", "1" if it.parental else "0"),
                ("Status", it.status or "ON"),
                ("Longitude", "" if it.longitude is None else f"{it.longitude:.6f}"),
                ("Latitude", "" if it.latitude is None else f"{it.latitude:.6f}"), ("Event", it.event)) if v)
            + "</Item>")
    out.append("</DeviceList>")
    return "".join(out)
