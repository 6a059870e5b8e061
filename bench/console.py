"""Page load times of the console's main pages on the demo city, in a real headless Chromium.

Builds the quick demo city (``vigil demo --cameras N --no-serve``: regions, sites, cameras, a week of health
history, teams, zones and the town's coverage plans) in a temp folder, serves it on a free loopback port and
times, for each main page, the navigation from a blank tab until its content is drawn (the page's own
"ready" test, as in ``scripts/screenshots.py``). Baseline in the same run: the sign-in page (static HTML, one
small script) timed the same way; the map is timed twice, until its cameras are in their layer and until
MapLibre has drawn them and come to rest ("map (drawn)"). Each page is loaded ``--rounds`` times; the median is printed.
``--pages map`` times only the pages named (and the baseline); ``--requests`` then lists, for the last load of
each, the API answers it fetched: when asked (ms from navigation), the server's time to first byte, the bytes
on the wire and decoded.

    nice -n 10 .venv/bin/python bench/console.py --cameras 2000 --rounds 3
    nice -n 10 .venv/bin/python bench/console.py --pages map --requests
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from screenshots import Page, chromium, load, page_list, serve, sign_in  # noqa: E402

from vigil.core.context import Vigil  # noqa: E402

BASELINE = Page("sign-in (baseline)", "/ui/login.html", "document.getElementById('username')")
#: the map once MapLibre has come to rest with the cameras in their layer (tiles cut and painted), timed after "map"
MAP_DRAWN = Page("map (drawn)", "/ui/#/map", "+(document.querySelector('#map canvas')?.dataset.drawn || 0) > 0")
#: the API answers of the page now open: path, start ms, server ms to first byte, bytes on the wire, decoded
REQUESTS_JS = """return performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname.startsWith('/api/'))
  .map(e => [e.name.slice(location.origin.length), e.startTime, e.responseStart - e.requestStart, e.transferSize,
             e.decodedBodySize])"""


def _print_requests(name: str, rows: list[list]) -> None:
    print(f"\n{name}: API answers of the last load")
    print(f"{'start ms':>9} {'server ms':>9} {'wire KB':>8} {'body KB':>8}  path")
    for path, start, ttfb, wire, body in rows:
        print(f"{start:>9.0f} {ttfb:>9.0f} {wire / 1024:>8.1f} {body / 1024:>8.1f}  {path}")


def _build(db: str, home: Path, cameras: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "vigil"), "demo", "--cameras", str(cameras), "--no-serve", "--db", db,
                    "--home", str(home)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Build the demo city, time each page, print the medians beside the baseline."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=2000, help="cameras in the demo city (20547: the full city)")
    ap.add_argument("--rounds", type=int, default=3, help="loads per page")
    ap.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"])
    ap.add_argument("--pages", nargs="*", default=None, help="time only these pages (by name: map, dashboard...)")
    ap.add_argument("--requests", action="store_true", help="list the API answers of each page's last load")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-console-") as tmp:
        home = Path(tmp) / "home"
        db = f"sqlite:///{home}/vigil.db"
        built = _build(db, home, args.cameras)
        print(f"demo city of {args.cameras} cameras built in {built:.0f} s")
        v = Vigil.open(db, str(home))
        pages = [q for p in page_list(v) if args.pages is None or p.name in args.pages
                 for q in ([p, MAP_DRAWN] if p.name == "map" else [p])]
        requests: dict[str, list[list]] = {}
        times: dict[str, list[float]] = {p.name: [] for p in [BASELINE, *pages]}
        with serve(v) as c, chromium(Path(tmp) / "chromium", lang=args.lang) as d:
            for r in range(args.rounds + 1):  # round 0 warms up: the browser's cache is filled like a user's
                d.delete_all_cookies()  # the sign-in page, signed out
                for p in [BASELINE, *pages]:
                    t0 = time.perf_counter()
                    load(d, c, p)
                    if r:
                        times[p.name].append(time.perf_counter() - t0)
                        if args.requests:
                            requests[p.name] = d.execute_script(REQUESTS_JS)
                    if p is BASELINE:
                        sign_in(d, c)
    base = statistics.median(times[BASELINE.name])
    print(f"{'page':<20} {'median s':>9} {'max s':>7} {'× baseline':>11}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<20} {med:>9.2f} {max(ts):>7.2f} {med / base:>11.1f}")
    for name, rows in requests.items():
        _print_requests(name, rows)
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
