"""The registrar's database side on SQLite and PostgreSQL: sealed passwords, batched writes, catalog tree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gbkit import NVR

from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.models import AuditEntry, Camera, Region
from vigil.gb28181 import store
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.models import GbDevice


@pytest.fixture
def world(vigil):
    with vigil.db.session() as s:
        s.add(Region(code="3402", name="P", level=1, lon=117.0, lat=31.0))
        s.flush()
        s.add(Region(code="340200", name="C", level=2, parent_code="3402"))
        s.flush()
        store.add_device(s, vigil.box, NVR, "pw-1", actor="test", allowed_hosts=[" 127.0.0.1 ", ""])
    return vigil


def test_devices_are_sealed_loaded_and_refused_twice(world):
    with world.db.session() as s:
        row = s.get(GbDevice, NVR)
        assert row.region_code == "340200" and b"pw-1" not in row.password_enc
        cfg = store.load_devices(s, world.box)[NVR]
        assert cfg.password == "pw-1" and cfg.allowed_hosts == {"127.0.0.1"}
        with pytest.raises(ConflictError):
            store.add_device(s, world.box, NVR, "x", actor="t")
        with pytest.raises(InputError, match="password"):
            store.add_device(s, world.box, "34020000001320000009", "", actor="t")
        with pytest.raises(NotFoundError):
            store.add_device(s, world.box, "34020000001320000009", "x", actor="t", region="9999")
        assert s.query(AuditEntry).filter_by(action="gb.device.add").count() == 1


def test_batched_states_keep_last_seen_when_going_offline(world):
    t1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with world.db.session() as s:
        n = store.write_states(s, [store.DeviceState(NVR, True, t1, "UDP", "127.0.0.1", 5070, t1, t1)])
        assert n == 1
    with world.db.session() as s:
        store.write_states(s, [store.DeviceState(NVR, False, None)])
    with world.db.session() as s:
        row = s.get(GbDevice, NVR)
        assert (row.online, row.last_seen, row.host, row.port, row.transport) == (False, t1, "127.0.0.1", 5070, "UDP")


def test_a_catalog_becomes_cameras_under_civil_code_regions_with_the_tree(world):
    items = [CatalogItem("34020000002160000001", name="group", parent_id=NVR),
             CatalogItem("34020000001310000001", name="a", parent_id="34020000002160000001", civil_code="340200"),
             CatalogItem("34020000001310000002", name="b", civil_code="3402", longitude=117.2, latitude=31.2),
             CatalogItem("44010000001310000003", name="far", civil_code="440100")]  # no such region: the NVR's
    with world.db.session() as s:
        acc = store.apply_catalog(s, NVR, items)
        assert (acc.cameras_created, acc.directories, acc.unplaced) == (3, 1, 0)
    with world.db.session() as s:
        cams = {c.id: (c.region_code, c.lon, c.lat) for c in s.query(Camera).all()}
        tree = {c.channel_id: c.parent_id for c in store.channels(s, NVR)}
        assert s.get(GbDevice, NVR).channel_count == 3
    assert cams == {"34020000001310000001": ("340200", 0.0, 0.0), "34020000001310000002": ("3402", 117.2, 31.2),
                    "44010000001310000003": ("340200", 0.0, 0.0)}
    assert tree["34020000001310000001"] == "34020000002160000001" and tree["34020000002160000001"] == NVR
    with world.db.session() as s:  # a second catalog links, it does not duplicate
        assert store.apply_catalog(s, NVR, items[1:2]).cameras_linked == 1
