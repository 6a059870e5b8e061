"""Builders shared by the health tests: a small region tree with cameras."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region

T0 = datetime(2026, 11, 1, tzinfo=UTC)

REGIONS = [
    ("5301", "Pref", 1, None),
    ("530102", "City", 2, "5301"),
    ("53010201", "Town A", 3, "530102"),
    ("53010202", "Town B", 3, "530102"),
    ("53010201001", "Village 1", 4, "53010201"),
    ("53010201002", "Village 2", 4, "53010201"),
]


def add_regions(session) -> None:
    for code, name, level, parent in REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent))
    session.flush()


def add_camera(session, region: str, serial: int, *, lifecycle: str = "in_service", url: str = "") -> str:
    cid = str(generate_device_id(region, serial))
    session.add(Camera(id=cid, name=f"cam {serial}", region_code=region, lon=102.7, lat=25.0,
                       lifecycle=lifecycle, main_url=url))
    session.flush()
    return cid
