"""Properties: generated IDs never collide and stay in region; any text survives export → import unchanged."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importkit import CAMERA_HEADER, seed
from sqlalchemy import delete

from vigil.access.guard import Scope
from vigil.core.ids import DeviceId, generate_device_id
from vigil.core.models import Camera, Region
from vigil.registry.io import export_cameras, import_cameras
from vigil.registry.io_cameras import _id_for, _Lookups, _resolve_ids, _serials
from vigil.registry.io_common import Rows

REGIONS = ["53018101", "53018101001", "53018102", "53018102001", "530181"]


@given(stored=st.lists(st.tuples(st.sampled_from(REGIONS), st.integers(1, 40), st.sampled_from([131, 132])),
                       max_size=15),
       given_ids=st.lists(st.tuples(st.sampled_from(REGIONS), st.integers(1, 40)), max_size=10),
       new=st.lists(st.sampled_from(REGIONS), max_size=25))
def test_generated_ids_are_unique_valid_and_in_region(stored, given_ids, new):
    existing = {generate_device_id(r, n, type_code=t).value for r, n, t in stored}
    explicit = {}
    good = []
    for i, (r, n) in enumerate(given_ids):
        cid = generate_device_id(r, n).value
        if cid not in explicit and cid not in existing:
            explicit[cid] = i + 2
            good.append((i + 2, {"id": cid, "region_code": r, "name": f"given {i}"}))
    for j, r in enumerate(new):
        good.append((100 + j, {"id": "", "region_code": r, "name": f"new {j}"}))
    visible = set(sorted(existing)[::2])  # the rest are stored outside the importer's scope: still taken
    lk = _Lookups(regions=set(REGIONS), sites={}, models={}, cameras={c: {} for c in visible}, by_name={},
                  hidden=existing - visible, scope=Scope.everything())
    rows = Rows("prop", [])
    idless = {f"{v['region_code']}\x00{v['name']}": line for line, v in good if not v["id"]}
    generated = _resolve_ids(rows, idless, lk, explicit, {})
    assert not rows.errors and generated == len(new)
    top = _serials(lk, explicit)  # the second pass gives the IDs again, in line order
    for _, v in good:
        v["id"] = v["id"] or _id_for((v["region_code"], v["name"]), lk, {}, top)[0]
    ids = [v["id"] for _, v in good]
    assert len(set(ids)) == len(ids) and not (set(ids) - set(explicit)) & existing
    for _, v in good:
        d = DeviceId.parse(v["id"])
        assert d.belongs_to_region(v["region_code"]) and d.is_camera


names = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"], include_characters=',"\n'),
                min_size=1, max_size=40).map(str.strip).filter(bool)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cams=st.lists(st.tuples(names, st.floats(-179.9, 179.9), st.floats(-89.9, 89.9), names), min_size=1,
                     max_size=5, unique_by=lambda c: c[0]),
       fmt=st.sampled_from(["csv", "geojson"]))
def test_any_text_and_coordinates_round_trip(sqlite_vigil, cams, fmt):
    v = sqlite_vigil
    with v.db.session() as s:  # the fixture is shared by all examples: seed once, start each with no cameras
        seeded = s.get(Region, "53018101") is not None
        s.execute(delete(Camera))
    if not seeded:
        seed(v)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CAMERA_HEADER.split(","))
    for name, lon, lat, pw in cams:
        w.writerow(["", name, "53018101", "", lon, lat, "", "", "", "", "", "", "", "", "", name, pw])
    with v.db.session() as s:
        assert import_cameras(s, buf.getvalue().encode(), box=v.box, actor="t", scope=Scope.everything()).created == len(cams)
    with v.db.session() as s:
        data = export_cameras(s, scope=Scope.everything(), fmt=fmt, box=v.box, include_secrets=True)
    with v.db.session() as s:
        rep = import_cameras(s, data, box=v.box, actor="t", scope=Scope.everything(), name=f"x.{fmt}")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, len(cams))
