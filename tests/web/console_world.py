"""A small seeded city for the console tests, with Chinese place names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraModel, Region, Site
from vigil.web.layoutcheck import OVERFLOW_JS

PREF, CITY = "5301", "530181"
TOWNS = {"53018101": "连然街道", "53018102": "金方街道"}
VILLAGES = {"53018101001": ("53018101", "金色家园社区"), "53018101002": ("53018101", "大屯新区"),
            "53018102001": ("53018102", "金方社区")}
KINDS = ["community_entrance", "gas_station", "public_area", "high_point", "traffic_checkpoint"]
LIFECYCLES = ["in_service", "in_service", "in_service", "installed", "planned"]


@dataclass
class City:
    """What the seeded console instance holds."""

    base: str
    admin_password: str
    cameras: dict[str, dict] = field(default_factory=dict)  # id -> fields
    town_user: tuple[str, str] = ("", "")


def _square(lon: float, lat: float, d: float) -> dict:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def seed_city(v: Vigil) -> City:
    """A prefecture, a city, two towns, three villages, a site per village and 11 cameras per village."""
    res = init_instance(v, root_code=PREF, root_name="昆明市")
    city = City(base="", admin_password=res.password)
    with v.db.session() as s:
        s.add(Region(code=CITY, name="安宁市", level=2, parent_code=PREF, lon=102.48, lat=24.92))
        s.add(CameraModel(name="Bullet-4MP", vendor="Acme", h_res_px=2560, v_res_px=1440, hfov_deg=90,
                          vfov_deg=52, unit_cost=900))
        s.flush()
        for code, name in TOWNS.items():
            s.add(Region(code=code, name=name, level=3, parent_code=CITY))
        s.flush()
        for vi, (code, (town, name)) in enumerate(VILLAGES.items()):
            lon0, lat0 = 102.47 + vi * 0.01, 24.91 + vi * 0.004
            s.add(Region(code=code, name=name, level=4, parent_code=town, lon=lon0, lat=lat0))
            s.flush()
            site = Site(name=f"{name}小区", kind="residential", protection_class=1 + vi % 3, region_code=code,
                        geometry=_square(lon0, lat0, 0.002), lon=lon0, lat=lat0)
            s.add(site)
            s.flush()
            for i in range(11):
                kind, life = KINDS[i % len(KINDS)], LIFECYCLES[i % len(LIFECYCLES)]
                cid = generate_device_id(code, vi * 100 + i + 1).value
                label = "加油站入口" if kind == "gas_station" else f"{i + 1}号门"
                cam = Camera(id=cid, name=f"{name}{label}", region_code=code, site_id=site.id,
                             lon=lon0 - 0.0018 + (i % 4) * 0.0012, lat=lat0 - 0.0015 + (i // 4) * 0.0012,
                             height_m=6.0, heading_deg=i * 33.0 % 360, tilt_deg=15.0, kind=kind, lifecycle=life,
                             main_url=f"rtsp://127.0.0.1:8554/{cid}/main", sub_url=f"rtsp://127.0.0.1:8554/{cid}/sub",
                             model_id=1)
                s.add(cam)
                city.cameras[cid] = {"name": cam.name, "region": code, "town": town, "kind": kind, "lifecycle": life}
        add_user(s, "town-officer", "a-long-password", "duty_officer", ["53018102"])
        add_user(s, "city-officer", "a-long-password", "duty_officer", [CITY])
    city.town_user = ("town-officer", "a-long-password")
    return city


def browser_errors(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """Severe console messages (JS errors), ignoring expected 401s before sign-in, favicon misses, and a live
    playlist's 503 (a camera "starting" or with "no video": an answer the page shows, not an error in it)."""
    out = []
    for e in driver.get_log("browser"):
        msg = e.get("message", "")
        live_503 = "/api/v1/video/live/" in msg and "status of 503" in msg
        if e.get("level") == "SEVERE" and "401" not in msg and "favicon" not in msg and not live_503:
            out.append(msg)
    return out


def choose_language(driver, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``lang`` in the top bar's language switch (the console re-renders; remembered for the user)."""
    driver.execute_script("const s = document.getElementById('lang-switch'); s.value = arguments[0];"
                          "s.dispatchEvent(new Event('change'));", lang)


def overflowing(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """The boxes wider inside than out (document, scrolling panels, cards, the nav); see ``vigil.web.layoutcheck``."""
    return driver.execute_script(OVERFLOW_JS)


def seed_events(v: Vigil, city: City, *, per_camera: int = 2) -> list[int]:
    """Analytics events for the in-service cameras of 金方街道, each with a real JPEG snapshot."""
    from datetime import timedelta
    from pathlib import Path
    from uuid import uuid4

    import cv2
    import numpy as np

    from vigil.analytics.models import Event
    from vigil.core.models import utcnow

    snaps = Path(v.settings.home) / "snapshots"
    snaps.mkdir(parents=True, exist_ok=True)
    img = np.full((180, 320, 3), 60, np.uint8)
    cv2.rectangle(img, (120, 40), (170, 160), (40, 180, 250), -1)
    jpeg = snaps / "person.jpg"
    jpeg.write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    ids = []
    now = utcnow()
    with v.db.session() as s:
        cams = [cid for cid, c in city.cameras.items() if c["town"] == "53018102" and c["lifecycle"] == "in_service"]
        for n, cid in enumerate(cams):
            for k in range(per_camera):
                start = now - timedelta(minutes=5 + 17 * (n * per_camera + k))
                ev = Event(uid=str(uuid4()), camera_id=cid, region_code=city.cameras[cid]["region"],
                           type="intrusion" if k else "object", label="car" if n % 3 == 2 else "person",
                           start=start, end=start + timedelta(seconds=40), zone="gate" if k else None,
                           box=[0.37, 0.22, 0.53, 0.89], score=0.81, snapshot_path=str(jpeg),
                           clip_url=f"/api/v1/video/cameras/{cid}/playback?start={start.isoformat()}")
                s.add(ev)
                s.flush()
                ids.append(ev.id)
    return ids


def seed_health(v: Vigil, city: City) -> dict[str, str]:
    """Probe history for the in-service cameras: online for 8 days, every fourth down for the last 3 hours."""
    from datetime import timedelta

    from vigil.core.models import utcnow
    from vigil.health.models import Alarm, CameraStatus, StatusChange

    now = utcnow()
    states = {}
    with v.db.session() as s:
        live = [cid for cid, c in city.cameras.items() if c["lifecycle"] == "in_service"]
        for n, cid in enumerate(live):
            s.add(StatusChange(camera_id=cid, ts=now - timedelta(days=8), state="online", ms=12.0))
            down = n % 4 == 0
            since = now - timedelta(hours=3) if down else now - timedelta(days=8)
            if down:
                s.add(StatusChange(camera_id=cid, ts=since, state="down", reason="timeout"))
                s.add(Alarm(camera_id=cid, region_code=city.cameras[cid]["region"], kind="offline",
                            severity="major", state="active", raised_at=since))
            s.add(CameraStatus(camera_id=cid, state="down" if down else "online", reason="timeout" if down else "",
                               since=since, last_probe_at=now, last_ms=None if down else 12.0))
            states[cid] = "down" if down else "online"
    return states


def seed_recording(v: Vigil, camera_id: str, *, seconds: int = 6) -> tuple[datetime, datetime]:
    """A real H.264 MP4 segment (FFmpeg test pattern) indexed as the camera's recording ten minutes ago."""
    import subprocess
    from datetime import timedelta
    from pathlib import Path

    from vigil.core.models import utcnow
    from vigil.video.models import RecordingSegment

    out = Path(v.settings.home) / "recordings" / camera_id
    out.mkdir(parents=True, exist_ok=True)
    seg = out / "seg-00001.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
                    "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", str(seg)],
                   check=True, timeout=60)
    start = utcnow() - timedelta(minutes=10)
    end = start + timedelta(seconds=seconds)
    with v.db.session() as s:
        s.add(RecordingSegment(camera_id=camera_id, path=str(seg), start=start, end=end,
                               bytes=seg.stat().st_size, complete=True))
    return start, end


def seed_plan(v: Vigil, region: str = "53018101001") -> int:
    """A plan's output folder as `vigil plan` writes it (3 existing and 4 new cameras, 120 targets), recorded."""
    import json
    from pathlib import Path

    import cv2
    import numpy as np

    from vigil.coverage.apply import record_plan

    out = Path(v.settings.home) / "plans" / "jinse-demo"
    out.mkdir(parents=True, exist_ok=True)
    lon0, lat0 = 102.47, 24.91
    feats = []
    for i in range(7):
        status = "existing" if i < 3 else "new"
        feats.append({"type": "Feature", "geometry": {"type": "Point",
                      "coordinates": [lon0 - 0.0015 + 0.0005 * i, lat0 + (0.0008 if i % 2 else -0.0008)]},
                      "properties": {"id": f"c{i}", "status": status, "model": "Bullet-4MP", "h_res_px": 2560,
                                     "hfov_deg": 90.0, "height_m": 6.0, "heading_deg": 45.0 * i, "tilt_deg": 15.0,
                                     "range_m": 20.5, "cost": 0 if status == "existing" else 900}})
    (out / "plan.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    targets = [{"type": "Feature", "geometry": {"type": "Point",
                "coordinates": [lon0 - 0.0018 + 0.0003 * (k % 12), lat0 - 0.0015 + 0.0003 * (k // 12)]},
                "properties": {"required_ppm": 62.5, "covered_before": k % 3 == 0, "covered_after": k % 17 != 0}}
               for k in range(120)]
    (out / "targets.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": targets}))
    # the longest solver name (its card must not overflow), stopped at its time limit (the page warns)
    summary = {"level": "observe", "ppm": 62.5, "targets": 120, "coverable": 118, "coverage_before": 0.33,
               "coverage_after": 0.94, "cameras_existing": 3, "cameras_new": 4, "cost_new": 3600.0,
               "lower_bound": 4, "gap": 0.004, "solver": "greedy+prune+local-search", "status": "time_limit",
               "seconds": {"visibility": 0.8, "optimise": 0.2, "total": 1.0},
               "communities": [{"name": "金色家园社区", "targets": 120, "coverage_before": 0.33,
                                "coverage_after": 0.94}]}
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False))
    png = cv2.imencode(".png", np.full((120, 200, 3), 230, np.uint8))[1].tobytes()
    (out / "map.png").write_bytes(png)
    (out / "tradeoff.png").write_bytes(png)
    (out / "report.html").write_text("<!doctype html><title>report</title><h1>金色家园社区</h1>", encoding="utf-8")
    with v.db.session() as s:
        return record_plan(s, summary, out, region_code=region, created_by="admin", name="金色家园补点").id
