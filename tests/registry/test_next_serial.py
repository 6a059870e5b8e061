"""The next generated camera serial: per centre code and type code, across industries, from the ID-parts index."""

from __future__ import annotations

from sqlalchemy import text

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera
from vigil.registry.cameras import _SERIAL, next_serial


def test_the_next_serial_follows_the_highest_of_its_centre_and_type_in_any_industry(vigil) -> None:
    build_world(vigil)  # one camera per town, serials 1 and 2, each under its own centre code
    stored = [(TOWN1, 7, 132, 0), (VILLAGE1, 40, 132, 5),  # another industry of the same centre: counted
              (TOWN1, 900, 131, 0),  # another device type: not counted
              (TOWN2, 500, 132, 0)]  # another centre: not counted
    with vigil.db.session() as s:
        for region, serial, type_code, industry in stored:
            s.add(Camera(id=generate_device_id(region, serial, type_code=type_code, industry=industry).value,
                         name=f"c{serial}", region_code=region, lon=102.7, lat=25.0))
    with vigil.db.session() as s:
        assert next_serial(s, TOWN1) == 41
        assert next_serial(s, VILLAGE1) == 41  # a village's devices carry its town's centre code
        assert next_serial(s, TOWN1, type_code=131) == 901
        assert next_serial(s, TOWN2) == 501
        assert next_serial(s, "53018103") == 1  # a centre with no cameras yet


def test_the_serial_lookup_reads_its_index_after_every_migration(vigil) -> None:
    """A later batch change of ``cameras`` on SQLite rebuilds the table and drops expression indexes silently."""
    with vigil.db.engine.connect() as conn:
        if vigil.db.dialect == "sqlite":
            sql = str(_SERIAL.compile(vigil.db.engine))
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ("53018101", "132")))
            assert "ix_cameras_centre_type_serial" in plan
        else:
            names = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'cameras'")).scalars()
            assert "ix_cameras_centre_type_serial" in set(names)


def test_a_camera_added_but_not_yet_written_counts(vigil) -> None:
    build_world(vigil)
    with vigil.db.session() as s:
        s.add(Camera(id=generate_device_id(TOWN1, 77).value, name="pending", region_code=TOWN1, lon=102.7, lat=25.0))
        assert next_serial(s, TOWN1) == 78
