"""Database side of the registrar: device configuration, batched state writes, catalog -> registry.

Every function takes a session and runs in the caller's transaction; the registrar calls them from a
worker thread, never per keepalive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, get_in_scope
from vigil.core.crypto import CredentialBox
from vigil.core.errors import ConflictError, InputError, NotFoundError, RowError
from vigil.core.ids import DeviceId
from vigil.core.models import Camera, Lifecycle, Region
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.models import GbChannel, GbDevice
from vigil.registry.io_common import Columns, Source, read_rows, reject_if_bad

__all__ = ["CatalogApplied", "DeviceConfig", "DeviceState", "add_device", "apply_catalog", "apply_notify",
           "audit_refused", "channels", "device_channels", "device_of_channel", "get_device", "import_devices",
           "list_devices", "load_device", "load_devices", "write_info", "write_states"]


@dataclass(frozen=True)
class DeviceConfig:
    """What the registrar needs in memory for one device."""

    device_id: str
    password: str
    allowed_hosts: frozenset[str]
    region_code: str | None


@dataclass(frozen=True)
class DeviceState:
    """One batched write of a device's registration and liveness."""

    device_id: str
    online: bool
    last_seen: datetime | None
    transport: str = ""
    host: str = ""
    port: int = 0
    registered_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass
class CatalogApplied:
    """Counts of one catalog written to the registry."""

    cameras_created: int = 0
    cameras_linked: int = 0
    directories: int = 0
    unplaced: int = 0
    deleted: int = 0


def _longest_region(session: Session, *codes: str | None) -> str | None:
    for code in codes:
        digits = (code or "").strip()
        if not digits.isdigit():
            continue
        cands = [digits[:n] for n in (11, 8, 6, 4) if len(digits) >= n]
        found = session.scalars(select(Region.code).where(Region.code.in_(cands))).all()
        if found:
            return max(found, key=len)
    return None


def add_device(session: Session, box: CredentialBox, device_id: str, password: str, *, actor: str,
               region: str | None = None, allowed_hosts: Sequence[str] = (), name: str = "") -> GbDevice:
    """Configure a device that may register; its password is sealed with the instance key."""
    dev = DeviceId.parse(device_id)
    if not password or len(password) > 128:
        raise InputError("a GB/T 28181 device needs a password of 1 to 128 characters")
    if session.get(GbDevice, dev.value) is not None:
        raise ConflictError(f"GB/T 28181 device {dev.value} is already configured")
    code = region or _longest_region(session, dev.value[:8])
    if code is not None and session.get(Region, code) is None:
        raise NotFoundError(f"region {code} does not exist")
    hosts = sorted({h.strip() for h in allowed_hosts if h.strip()})
    row = GbDevice(id=dev.value, name=name or dev.value, password_enc=box.seal(password), region_code=code,
                   allowed_hosts=",".join(hosts))
    session.add(row)
    record(session, actor, "gb.device.add", dev.value, region=code, allowed_hosts=hosts)
    session.flush()
    return row


DEVICE_COLUMNS = Columns(required=("id", "password"), optional=("region", "allow", "name"))


def import_devices(session: Session, box: CredentialBox, source: Source, *, actor: str) -> int:
    """Add devices from a CSV (id, password[, region, allow (';'-separated), name]); all rows or none.

    Returns the number added; raises :class:`ImportRejected` naming every bad row (nothing stored).
    """
    rows = read_rows(source, DEVICE_COLUMNS)
    seen: set[str] = set()
    for line, cells in rows.items:
        cid = cells.get("id", "").strip()
        try:
            dev = DeviceId.parse(cid)
        except InputError as exc:
            rows.errors.append(RowError(line, "id", str(exc)))
            continue
        if dev.value in seen or session.get(GbDevice, dev.value) is not None:
            rows.errors.append(RowError(line, "id", f"{dev.value} is already configured"))
        seen.add(dev.value)
        if not 0 < len(cells.get("password", "")) <= 128:
            rows.errors.append(RowError(line, "password", "needs 1 to 128 characters"))
        region = cells.get("region", "").strip()
        if region and session.get(Region, region) is None:
            rows.errors.append(RowError(line, "region", f"region {region} does not exist"))
    reject_if_bad(rows)
    for _, cells in rows.items:
        add_device(session, box, cells["id"], cells["password"], actor=actor, region=cells.get("region") or None,
                   allowed_hosts=cells.get("allow", "").split(";"), name=cells.get("name", ""))
    return len(rows.items)


def _config(row: GbDevice, box: CredentialBox) -> DeviceConfig:
    hosts = frozenset(h for h in row.allowed_hosts.split(",") if h)
    return DeviceConfig(row.id, box.open(row.password_enc), hosts, row.region_code)


def load_devices(session: Session, box: CredentialBox) -> dict[str, DeviceConfig]:
    """Every enabled device, keyed by ID."""
    rows = session.scalars(select(GbDevice).where(GbDevice.enabled.is_(True))).all()
    return {r.id: _config(r, box) for r in rows}


def load_device(session: Session, box: CredentialBox, device_id: str) -> DeviceConfig | None:
    """One enabled device, or None."""
    row = session.get(GbDevice, device_id)
    return _config(row, box) if row is not None and row.enabled else None


def list_devices(session: Session, scope: Scope) -> list[GbDevice]:
    """The configured devices whose region lies in ``scope``, by ID (a device without a region: the instance's)."""
    return list(session.scalars(select(GbDevice).where(scope.clause(GbDevice.region_code))
                                .order_by(GbDevice.id)).all())


def get_device(session: Session, scope: Scope, device_id: str) -> GbDevice:
    """One configured device in ``scope``; :class:`NotFoundError` alike for a missing or a hidden one."""
    return get_in_scope(session, GbDevice, device_id[:40], scope, what=f"GB/T 28181 device {device_id[:40]}")


def device_channels(session: Session, scope: Scope, device_id: str) -> list[GbChannel]:
    """A device's channel tree in ``scope``: directory nodes, and the camera channels whose camera is visible."""
    device = get_device(session, scope, device_id)
    stmt = (select(GbChannel).outerjoin(Camera, Camera.id == GbChannel.camera_id)
            .where(GbChannel.device_id == device.id,
                   GbChannel.camera_id.is_(None) | scope.clause(Camera.region_code))
            .order_by(GbChannel.channel_id))
    return list(session.scalars(stmt).all())


def write_states(session: Session, states: Iterable[DeviceState]) -> int:
    """Write a batch of device states, one executemany per shape; returns the rows written.

    A state without ``last_seen`` (gone offline) keeps the stored last-seen time.
    """
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    n = 0
    for s in states:
        row: dict[str, object] = {"id": s.device_id, "online": s.online}
        if s.last_seen is not None:
            row["last_seen"] = s.last_seen
        if s.registered_at is not None:
            row.update(transport=s.transport, host=s.host, port=s.port, registered_at=s.registered_at,
                       expires_at=s.expires_at)
        groups.setdefault(tuple(row), []).append(row)
        n += 1
    for rows in groups.values():
        session.execute(update(GbDevice), rows)
    return n


def write_info(session: Session, device_id: str, info: dict[str, str]) -> None:
    """Keep what a DeviceInfo response said about the device."""
    row = session.get(GbDevice, device_id)
    if row is not None:
        row.manufacturer = info.get("Manufacturer", "")[:100]
        row.model = info.get("Model", "")[:100]
        row.firmware = info.get("Firmware", "")[:100]
        if info.get("DeviceName"):
            row.name = info["DeviceName"][:200]


def audit_refused(session: Session, device_id: str, host: str, reason: str) -> None:
    """An audit entry for a registration that was refused (unknown device, not whitelisted)."""
    record(session, "gb28181", "gb.register.refused", device_id[:20], host=host, reason=reason)


def _position(session: Session, item: CatalogItem, region: str) -> tuple[float, float]:
    if item.longitude and item.latitude:
        return item.longitude, item.latitude
    r = session.get(Region, region)
    return (r.lon or 0.0, r.lat or 0.0) if r is not None else (0.0, 0.0)


def _is_camera(channel_id: str) -> bool:
    try:
        return DeviceId.parse(channel_id).is_camera
    except InputError:
        return False


def _upsert(session: Session, device: GbDevice, item: CatalogItem, acc: CatalogApplied) -> None:
    ch = session.get(GbChannel, (device.id, item.device_id)) or GbChannel(device_id=device.id,
                                                                         channel_id=item.device_id)
    ch.parent_id = item.parent_id[:20] or (device.id if item.device_id != device.id else "")
    ch.civil_code, ch.name = item.civil_code[:12], item.name or ch.name or item.device_id
    ch.status = item.status[:12] or ch.status
    session.add(ch)
    if not _is_camera(item.device_id):
        ch.kind = "directory"
        acc.directories += 1
        return
    ch.kind = "camera"
    cam = session.get(Camera, item.device_id)
    if cam is None:
        region = _longest_region(session, item.civil_code, item.device_id[:8]) or device.region_code
        if region is None:
            acc.unplaced += 1
            return
        lon, lat = _position(session, item, region)
        cam = Camera(id=item.device_id, name=ch.name, region_code=region, lon=lon, lat=lat,
                     lifecycle=Lifecycle.IN_SERVICE.value)
        session.add(cam)
        acc.cameras_created += 1
    else:
        acc.cameras_linked += 1
    session.flush()
    ch.camera_id = cam.id


def _device(session: Session, device_id: str) -> GbDevice:
    device = session.get(GbDevice, device_id)
    if device is None:
        raise NotFoundError(f"GB/T 28181 device {device_id} is not configured")
    return device


def apply_catalog(session: Session, device_id: str, items: Iterable[CatalogItem]) -> CatalogApplied:
    """Write a device's catalog: channels keep their ParentID tree, cameras join the registry."""
    device = _device(session, device_id)
    acc = CatalogApplied()
    for item in items:
        _upsert(session, device, item, acc)
    device.channel_count = session.query(GbChannel).filter_by(device_id=device_id, kind="camera").count()
    record(session, "gb28181", "gb.catalog", device_id, region=device.region_code, created=acc.cameras_created,
           linked=acc.cameras_linked, directories=acc.directories, unplaced=acc.unplaced)
    return acc


def apply_notify(session: Session, device_id: str, items: Iterable[CatalogItem]) -> CatalogApplied:
    """A catalog NOTIFY: ADD/UPDATE upsert, DEL removes the channel (the camera stays), ON/OFF set status."""
    device = _device(session, device_id)
    acc = CatalogApplied()
    for item in items:
        ch = session.get(GbChannel, (device_id, item.device_id))
        if item.event in ("DEL", "DELETE"):
            if ch is not None:
                session.delete(ch)
                acc.deleted += 1
        elif item.event in ("ON", "OFF", "VLOST", "DEFECT"):
            if ch is not None:
                ch.status = item.event
        else:
            _upsert(session, device, item, acc)
    session.flush()
    return acc


def device_of_channel(session: Session, channel_id: str) -> str | None:
    """The registered device a camera channel belongs to (its latest catalog), or None."""
    return session.scalar(select(GbChannel.device_id).where(GbChannel.channel_id == channel_id,
                                                            GbChannel.kind == "camera")
                          .order_by(GbChannel.updated_at.desc()).limit(1))


def channels(session: Session, device_id: str) -> list[GbChannel]:
    """A device's channel tree rows."""
    return list(session.scalars(select(GbChannel).where(GbChannel.device_id == device_id)
                                .order_by(GbChannel.channel_id)).all())
