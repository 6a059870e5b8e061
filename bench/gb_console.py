"""What the console's GB/T 28181 page costs: the cascade view of an upper platform over a city's cameras.

``GET /api/v1/gb/uppers`` counts, per upper platform, the cameras its sharing rules show it; the same
selection builds every Catalog answer (``shared_catalog``). Printed, on a real SQLite instance with
``--cameras`` cameras in 40 towns (a third of them on sites), each the best of ``--repeat`` runs:
- the view (``views.uppers``) and one catalog build, reading the cameras as column rows;
- baseline in the same run: the same selection through ORM objects with each camera's site loaded
  (how the selection was read before), and the ratio.

Usage: nice -n 10 python bench/gb_console.py [--cameras 20547] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.models import Camera, Lifecycle, Region, Site
from vigil.federation.links import parse_rules
from vigil.federation.publish import camera_shared
from vigil.gb28181 import cascade, views

RULES = "regions=3402;classes=2,3"


def _world(folder: Path, n: int) -> Vigil:
    v = Vigil.open(f"sqlite:///{folder / 'v.db'}", str(folder / "home"))
    with v.db.session() as s:
        s.add(Region(code="3402", name="Prefecture", level=1))
        s.flush()
        towns = [f"3402{c:02d}{t:02d}" for c in range(1, 5) for t in range(1, 11)]
        s.add_all(Region(code=c, name=c, level=2, parent_code="3402") for c in {t[:6] for t in towns})
        s.flush()
        s.add_all(Region(code=t, name=t, level=3, parent_code=t[:6]) for t in towns)
        sites = [Site(name=f"site {i}", kind="residential", protection_class=1 + i % 3, region_code=towns[i % 40],
                      lon=117.0, lat=31.0) for i in range(400)]
        s.add_all(sites)
        s.flush()
        s.add_all(Camera(id=f"{towns[i % 40]}00132{i // 1_000_000}{i % 1_000_000:06d}", name=f"cam {i}",
                         region_code=towns[i % 40], site_id=sites[i % 400].id if i % 3 == 0 else None,
                         lon=117.0, lat=31.0) for i in range(n))
        cascade.add_upper(s, v.box, "34000000002000000001", host="127.0.0.1", port=5060, password="bench-pw",
                          local_id="34020000002000000009", rules=parse_rules(RULES), actor="bench")
    return v


def _orm_count(v: Vigil) -> int:
    """The baseline: ORM objects, each camera's site loaded on access."""
    rules = parse_rules(RULES)
    with v.db.session() as s:
        stmt = select(Camera).where(Camera.lifecycle != Lifecycle.RETIRED.value, rules.scope().clause(Camera.region_code))
        return sum(1 for c in s.scalars(stmt.order_by(Camera.id))
                   if camera_shared(rules, c.id, c.region_code, c.kind, c.site.protection_class if c.site else None))


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=20_547)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-gbconsole-") as d:
        v = _world(Path(d), a.cameras)

        def view() -> int:
            with v.db.session() as s:
                return views.uppers(s, Scope.everything())[0].shared_channels

        def catalog() -> int:
            with v.db.session() as s:
                return len(cascade.shared_catalog(s, parse_rules(RULES)))

        t_view, shared = _best(view, a.repeat)
        t_cat, items = _best(catalog, a.repeat)
        t_base, base = _best(lambda: _orm_count(v), a.repeat)
        v.close()
    assert shared == base, (shared, base)
    print(f"cameras {a.cameras:,}, shared with the upper platform ({RULES}): {shared:,}")
    print(f"GET /gb/uppers view       {t_view:6.2f} s")
    print(f"catalog build ({items:,} items) {t_cat:6.2f} s")
    print(f"baseline: ORM objects + site loads  {t_base:6.2f} s  (view is {t_base / t_view:.1f}x faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
