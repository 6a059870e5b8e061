"""Stream URLs: one rule on every way in (API, import, simulator) and every reader; credentials never shown.

Each attack from the review is replayed: ``file:///etc/passwd`` and ``rtsp://user:password@host`` as a
camera's stream URL through the API (create and patch) and through a CSV import, a file path stored in the
database behind the API's back and then handed to each reader (prober, quality sampler, analytics, recorder).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import TOWN1, VILLAGE1, build_world
from vigil.access.guard import Scope
from vigil.analytics.models import AnalyticsSetting
from vigil.analytics.pipeline import frames
from vigil.analytics.settings import enabled_cameras
from vigil.api.app import create_app
from vigil.core.errors import ImportRejected, InputError, NotFoundError
from vigil.core.models import Camera, Lifecycle
from vigil.health.probe import ProbeTarget, load_targets, probe_one
from vigil.health.vqd import diagnose_camera
from vigil.health.vqd_sample import sample_keyframes
from vigil.registry.io_cameras import import_cameras
from vigil.registry.streams import (
    check_reader_url,
    in_service_population,
    redact_text,
    redact_url,
    stream_url_with_credentials,
    validate_stream_url,
)
from vigil.sim.register import register_fleet
from vigil.video.recorder import Recorder

SECRET = "Hunter2-pw"

GOOD = [
    ("rtsp://127.0.0.1/Streaming/Channels/101", "rtsp"),
    ("RTSP://127.0.0.1:8554/a?channel=1&subtype=0", "rtsp"),
    ("rtsps://cam.example:322/main", "rtsp"),
    ("rtsp://[::1]:554/live", "rtsp"),
    ("http://127.0.0.1/onvif/device_service", "onvif"),
    ("https://127.0.0.1:8443/onvif/device_service", "onvif"),
    ("", "rtsp"),
]
BAD = [
    ("file:///etc/passwd", "rtsp", "not file:"),
    ("/etc/passwd", "rtsp", "bare path"),
    ("data:text/plain,hello", "rtsp", "not data:"),
    ("http://127.0.0.1/stream", "rtsp", "not http:"),
    ("rtmp://127.0.0.1/live", "rtsp", "not rtmp:"),
    ("rtsp:/127.0.0.1/x", "rtsp", "without //"),
    (f"rtsp://user:{SECRET}@127.0.0.1/s", "rtsp", "must not contain credentials"),
    ("rtsp://user@127.0.0.1/s", "rtsp", "must not contain credentials"),
    (f"rtsp://127.0.0.1/s?user=a&password={SECRET}", "rtsp", "query string"),
    ("rtsp:///path-only", "rtsp", "has no host"),
    ("rtsp://127.0.0.1:99999/s", "rtsp", "not a valid URL"),
    ("rtsp://127.0.0.1/a b", "rtsp", "spaces"),
    ("rtsp://127.0.0.1/" + "x" * 600, "rtsp", "longer than"),
    ("rtsp://127.0.0.1/onvif", "onvif", "not rtsp:"),
    ("file:///etc/passwd", "onvif", "not file:"),
    (f"http://admin:{SECRET}@127.0.0.1/onvif/device_service", "onvif", "must not contain credentials"),
]


@pytest.mark.parametrize(("url", "kind"), GOOD)
def test_allowed_urls_pass(url, kind):
    assert validate_stream_url(url, kind=kind) == url


@pytest.mark.parametrize(("url", "kind", "why"), BAD)
def test_refused_urls_name_the_field_and_never_echo_a_password(url, kind, why):
    with pytest.raises(InputError) as exc:
        validate_stream_url(url, kind=kind, field="sub_url")
    msg = str(exc.value)
    assert msg.startswith("sub_url: ") and why in msg, msg
    assert SECRET not in msg


def test_redaction():
    url = "rtsp://admin:p%40ss@127.0.0.1:554/sub"
    assert redact_url(url) == "rtsp://127.0.0.1:554/sub"
    assert redact_url("rtsp://127.0.0.1/s?password=x&ch=1") == "rtsp://127.0.0.1/s?password=***&ch=1"
    ffmpeg = f"[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized\n{url}: Server returned 401 (p@ss)"
    out = redact_text(ffmpeg, (url,))
    assert "p%40ss" not in out and "p@ss" not in out and "admin:" not in out
    assert "rtsp://127.0.0.1:554/sub" in out and "401 Unauthorized" in out
    assert redact_text(f"login {SECRET} refused", (SECRET,)) == "login *** refused"
    assert redact_text("plain text", ("rtsp://127.0.0.1/x", "")) == "plain text"


def test_credentials_go_into_the_url_for_readers_only(sqlite_vigil):
    v = sqlite_vigil
    cam = Camera(id="53010000001320000001", main_url="rtsp://127.0.0.1:8554/a", sub_url="",
                 username="ad min", password_enc=v.box.seal("p@ss:/w"))
    assert stream_url_with_credentials(cam, v.box) == "rtsp://ad%20min:p%40ss%3A%2Fw@127.0.0.1:8554/a"
    assert stream_url_with_credentials(cam, v.box, sub=True).endswith("@127.0.0.1:8554/a")  # no substream
    cam.main_url = "file:///etc/passwd"
    with pytest.raises(InputError, match="main_url"):
        stream_url_with_credentials(cam, v.box)
    cam.main_url = ""
    with pytest.raises(NotFoundError):
        stream_url_with_credentials(cam, v.box)
    check_reader_url("rtsp://u:p@127.0.0.1/s")  # an authenticated URL built by the registry is fine
    with pytest.raises(InputError):
        check_reader_url("file:///etc/passwd")


# --- the API ------------------------------------------------------------------------------------------------

@pytest.fixture
def api(vigil):
    w = build_world(vigil)
    return TestClient(create_app(vigil), raise_server_exceptions=False), w, vigil


def _count(v) -> int:
    with v.db.session() as s:
        return s.scalar(select(func.count()).select_from(Camera))


@pytest.mark.parametrize(("field", "url"), [("main_url", "file:///etc/passwd"),
                                            ("main_url", f"rtsp://user:{SECRET}@127.0.0.1/s"),
                                            ("sub_url", "http://127.0.0.1/x"),
                                            ("onvif_url", "file:///etc/passwd")])
def test_api_create_and_patch_refuse_bad_urls(api, field, url):
    c, w, v = api
    t = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    before = _count(v)
    r = c.post("/api/v1/cameras", headers=t, json={"name": "Attack", "region_code": VILLAGE1, "lon": 102.7,
                                                    "lat": 25.0, field: url})
    assert r.status_code == 422, r.text
    assert field in r.text and SECRET not in r.text
    assert _count(v) == before
    cam = w.cameras[TOWN1]
    r = c.patch(f"/api/v1/cameras/{cam}", headers=t, json={field: url})
    assert r.status_code == 422 and field in r.text and SECRET not in r.text, r.text
    with v.db.session() as s:
        assert getattr(s.get(Camera, cam), field) in ("", "rtsp://127.0.0.1/main")  # unchanged


def test_api_accepts_a_clean_url_and_never_returns_credentials(api):
    c, w, v = api
    t = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    r = c.post("/api/v1/cameras", headers=t, json={
        "name": "Clean", "region_code": VILLAGE1, "lon": 102.7, "lat": 25.0, "username": "op",
        "password": SECRET, "main_url": "rtsp://127.0.0.9/main", "onvif_url": "http://127.0.0.9/onvif/device_service"})
    assert r.status_code == 201, r.text
    cam = r.json()["id"]
    with v.db.session() as s:  # a URL stored with credentials before the rule existed is shown without them
        s.get(Camera, cam).sub_url = f"rtsp://op:{SECRET}@127.0.0.9/sub"
    r = c.get(f"/api/v1/cameras/{cam}", headers=t)
    assert r.status_code == 200 and SECRET not in r.text and r.json()["sub_url"] == "rtsp://127.0.0.9/sub"
    assert r.json()["allow_basic_auth"] is False


# --- import and simulator registration ----------------------------------------------------------------------

def test_csv_import_rejects_bad_urls_row_by_row(vigil):
    build_world(vigil)
    text = ("name,region,lon,lat,main_url,onvif_url\n"
            f"A,{VILLAGE1},102.7,25.0,file:///etc/passwd,\n"
            f"B,{VILLAGE1},102.7,25.0,rtsp://user:{SECRET}@127.0.0.1/s,\n"
            f"C,{VILLAGE1},102.7,25.0,rtsp://127.0.0.1/ok,file:///etc/passwd\n"
            f"D,{VILLAGE1},102.7,25.0,rtsp://127.0.0.1/ok,\n")
    before = _count(vigil)
    with vigil.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_cameras(s, text.encode(), box=vigil.box, actor="t", fmt="csv", name="cams.csv",
                       scope=Scope.everything())
    got = {(e.line, e.field): e.reason for e in exc.value.errors}
    assert set(got) == {(2, "main_url"), (3, "main_url"), (4, "onvif_url")}, got
    assert "file:" in got[(2, "main_url")] and "credentials" in got[(3, "main_url")]
    assert SECRET not in str(exc.value)
    assert _count(vigil) == before


def test_sim_registration_validates_urls(sqlite_vigil):
    build_world(sqlite_vigil)
    cam = {"index": 0, "url": "file:///etc/passwd", "sub_url": "", "username": "admin", "password": "x"}
    with pytest.raises(InputError, match="url"):
        register_fleet(sqlite_vigil, [cam], region=VILLAGE1)


# --- readers refuse what slipped into the database ----------------------------------------------------------

@pytest.fixture
def planted(sqlite_vigil):
    """A camera whose stored URL is a local file path (written behind the API's back)."""
    v = sqlite_vigil
    w = build_world(v)
    cam = w.cameras[TOWN1]
    with v.db.session() as s:
        c = s.get(Camera, cam)
        c.main_url, c.sub_url, c.username = "file:///etc/passwd", "file:///etc/passwd", "admin"
        s.add(AnalyticsSetting(camera_id=cam, enabled=True, zones=None, updated_by="t"))
    return v, cam


def test_every_reader_refuses_a_planted_file_url(planted, caplog):
    v, cam = planted
    with pytest.raises(InputError, match="main_url"):  # quality sampler
        diagnose_camera(v, cam)
    jobs, problems = enabled_cameras(v)  # analytics
    assert cam not in [j.camera_id for j in jobs] and any(cam in p and "sub_url" in p for p in problems)
    caplog.set_level(logging.WARNING, logger="vigil")
    assert cam not in Recorder(v)._wanted()  # recorder
    assert "cannot be recorded" in caplog.text and "secret1" not in caplog.text
    targets, _ = load_targets(v, ids=[cam])  # prober
    [target] = targets
    res = asyncio.run(probe_one(target, retries=0, timeout=5))
    assert res.reason == "unreachable" and "refused URL" in res.detail
    for reader in (lambda u: sample_keyframes(u, 1, 1.0), lambda u: next(frames(u, timeout_s=1.0))):
        for url in ("file:///etc/passwd", "http://127.0.0.1:9/x", "data:text/plain,x"):
            with pytest.raises(InputError):
                reader(url)


def test_probe_of_a_csv_url_with_credentials_is_refused():
    res = asyncio.run(probe_one(ProbeTarget(f"rtsp://admin:{SECRET}@127.0.0.1:9/s"), retries=0, timeout=2))
    assert res.reason == "unreachable" and SECRET not in res.url + res.detail


# --- the in-service population ------------------------------------------------------------------------------

def test_in_service_population_is_one_condition(vigil):
    build_world(vigil)
    with vigil.db.session() as s:
        first = s.scalars(select(Camera).order_by(Camera.id)).first()
        first.lifecycle = Lifecycle.INSTALLED.value
        everywhere = s.scalar(select(func.count()).select_from(Camera).where(in_service_population()))
        in_town1 = s.scalar(select(func.count()).select_from(Camera).where(in_service_population(TOWN1)))
        total = s.scalar(select(func.count()).select_from(Camera))
    assert (total, everywhere, in_town1) == (2, 1, 0 if first.region_code.startswith(TOWN1) else 1)


# --- live view of an unreachable camera -----------------------------------------------------------------------

def test_live_view_503_of_an_unreachable_camera_shows_no_password(sqlite_vigil, caplog):
    import socket

    from vigil.api.routers.video import close_live

    v = sqlite_vigil
    w = build_world(v)
    cam = w.cameras[TOWN1]
    with socket.socket() as sock:  # a port nothing listens on: FFmpeg's connection is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with v.db.session() as s:
        c = s.get(Camera, cam)
        c.main_url, c.username, c.password_enc = f"rtsp://127.0.0.1:{port}/main", "admin", v.box.seal(SECRET)
    app = create_app(v)
    caplog.set_level(logging.DEBUG, logger="vigil")
    try:
        r = TestClient(app, raise_server_exceptions=False).get(
            f"/api/v1/video/live/{cam}/index.m3u8", headers={"Authorization": f"Bearer {w.tokens['duty_officer-' + TOWN1]}"})
    finally:
        close_live(app)
    assert r.status_code == 503, r.text
    assert "not reachable" in r.text and SECRET not in r.text and "admin:" not in r.text
    assert SECRET not in caplog.text and "admin:" not in caplog.text


def test_export_without_secrets_drops_credentials_left_in_stored_urls(sqlite_vigil):
    from vigil.registry.io_export import export_cameras

    v = sqlite_vigil
    w = build_world(v)
    with v.db.session() as s:  # stored before the rule existed
        s.get(Camera, w.cameras[TOWN1]).main_url = f"rtsp://admin:{SECRET}@127.0.0.1/main"
        data = export_cameras(s, scope=Scope.everything(), fmt="csv").decode()
    assert SECRET not in data and "rtsp://127.0.0.1/main" in data


async def test_prober_never_hands_a_file_url_to_onvif():
    from vigil.sim.fleet import Fleet

    async with Fleet(1) as fleet:
        cam = fleet.cameras[0]
        res = await probe_one(ProbeTarget(cam.url, cam.username, cam.password, onvif_url="file:///etc/passwd"),
                              retries=0)
    assert res.ok and res.onvif == "unreachable" and res.device is None


def test_live_view_refuses_a_planted_file_url(planted):
    from vigil.access.users import add_user, issue_token
    from vigil.api.routers.video import close_live

    v, cam = planted
    app = create_app(v)
    with v.db.session() as s:
        tok = issue_token(s, add_user(s, "duty-x", "a-long-password", "duty_officer", [TOWN1]))
    try:
        r = TestClient(app, raise_server_exceptions=False).get(
            f"/api/v1/video/live/{cam}/index.m3u8", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 422 and "main_url" in r.text, r.text
        live = getattr(app.state, "video_live", None)
        assert live is None or live.active() == []  # no packager was started
    finally:
        close_live(app)
