"""Two real ``vigil serve`` processes (village → town), the feed through a TCP proxy the tests cut.

* The link is blocked while the village keeps running and changing; once unblocked the town catches
  up with nothing lost and nothing duplicated, including a batch the town applied whose answer was lost.
* Approved playback of a class-1 camera of the village: refused at the town until a second person on the
  village approves, then the recorded bytes come through the town; both audit logs share the request ids.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta

import av
import httpx
import pytest
from fedkit import TOWN_A, VILLAGE_A, add_cameras
from loopback import Node, Proxy
from sqlalchemy import create_engine, delete, text

from video.video_helpers import make_segments
from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token
from vigil.core.context import Vigil
from vigil.core.models import Camera
from vigil.federation.links import ShareRules, add_child, add_parent
from vigil.health.models import QualityChange
from vigil.health.probe import ProbeResult
from vigil.health.state import apply_results

pytestmark = pytest.mark.slow  # two vigil serve processes: `make test-slow`
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The town and the village serving, the village's feed to the town through a proxy; users on both."""
    tmp = tmp_path_factory.mktemp("fed2")
    town, village = Node("town", tmp / "town"), Node("village", tmp / "village")
    proxy = Proxy(town.port).start()
    vs = {}
    for node, code in ((town, TOWN_A), (village, VILLAGE_A)):
        vs[node.name] = Vigil.open(node.db, str(node.home))
        init_instance(vs[node.name], root_code=code, root_name=node.name)
    with vs["town"].db.session() as s:
        token = add_child(s, "village", VILLAGE_A, actor="test")
        tokens = {"tina": issue_token(s, add_user(s, "tina", "a-long-password", "duty_officer", [TOWN_A]))}
    with vs["village"].db.session() as s:
        add_parent(s, vs["village"].box, proxy.url, token, ShareRules(recordings=True), actor="test",
                   advertise=village.url)
        for name, role in (("bob", "duty_officer"), ("ivan", "investigator")):
            tokens[name] = issue_token(s, add_user(s, name, "a-long-password", role, [VILLAGE_A]))
    try:
        town.start()
        village.start()
        yield town, village, proxy, vs, tokens
    finally:
        proxy.stop()
        village.stop()
        town.stop()
        for v in vs.values():
            v.close()
    for n in (town, village):
        assert "Traceback" not in n.log(), n.log()[-3000:]


def _rows(db: str, query: str) -> list[tuple]:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(query))]
    finally:
        eng.dispose()


def _until(check, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


_CATALOG = "SELECT id, name, region_code, site_id IS NOT NULL, lifecycle FROM cameras ORDER BY id"
_HISTORY = ("SELECT camera_id, ts, state, reason FROM status_changes"
            " UNION ALL SELECT camera_id, ts, faults, '' FROM quality_changes ORDER BY 1, 2, 3")


def _link(db: str) -> tuple[int, int, int]:
    """The village's parent link: (acknowledged seq, errors, newest seq of its log)."""
    (seq, errors), = _rows(db, "SELECT seq, errors FROM fed_links WHERE direction = 'parent'")
    return seq, errors, _rows(db, "SELECT coalesce(max(seq), 0) FROM fed_changes")[0][0]


def _in_step(town: Node, village: Node) -> bool:
    seq, _, top = _link(village.db)
    return seq >= top and _rows(town.db, _CATALOG) == _rows(village.db, _CATALOG) \
        and _rows(town.db, _HISTORY) == _rows(village.db, _HISTORY)


def _changes(v: Vigil, ids: list[str], at: datetime, *, state: str) -> None:
    with v.db.session() as s:
        for _ in range(2):  # debounced: two samples make a change
            apply_results(s, [ProbeResult(c, "", state, "refused" if state == "down" else "", 1.0) for c in ids],
                          now=at)
        s.add(QualityChange(camera_id=ids[0], ts=at, faults=["blur"] if state == "down" else [], metrics={}))


def test_blocked_link_catches_up_with_nothing_lost_or_duplicated(world):
    town, village, proxy, vs, _ = world
    v = vs["village"]
    ids = add_cameras(v, VILLAGE_A, 6, start=100)
    _changes(v, ids, T0, state="online")
    _until(lambda: _in_step(town, village), "the first catalog at the town")
    before = len(_rows(town.db, _HISTORY))

    # 1. answers lost: the town applies what it receives, the village never hears back
    proxy.cut("drop_answers")
    errors0 = _link(village.db)[1]
    _changes(v, ids[:2], T0 + timedelta(minutes=5), state="down")
    _until(lambda: _link(village.db)[1] > errors0, "a push whose answer was lost")
    _until(lambda: len(_rows(town.db, _HISTORY)) > before, "the town applying the batch it could not answer")

    # 2. the network is down: the village goes on changing
    proxy.cut("refuse")
    errors1 = _link(village.db)[1]
    added = add_cameras(v, VILLAGE_A, 3, start=200)
    _changes(v, ids[:2], T0 + timedelta(minutes=9), state="online")
    _changes(v, ids[2:4] + added[:1], T0 + timedelta(minutes=12), state="down")
    with v.db.session() as s:  # a camera deleted, another renamed
        s.execute(delete(Camera).where(Camera.id == ids[5]))
        s.get(Camera, ids[4]).name = "renamed while cut off"
    _until(lambda: _link(village.db)[1] >= errors1 + 2, "pushes refused by the blocked network")
    assert added[0] not in {r[0] for r in _rows(town.db, _CATALOG)}, "nothing can have passed the block"

    # 3. unblocked: the town holds exactly the village's catalog and history, each change once
    proxy.cut("pass")
    try:
        _until(lambda: _in_step(town, village), "the town catching up")
    except AssertionError:
        tc, vc = set(_rows(town.db, _CATALOG)), set(_rows(village.db, _CATALOG))
        th, vh = _rows(town.db, _HISTORY), _rows(village.db, _HISTORY)
        raise AssertionError(f"link {_link(village.db)}; catalog only here {tc - vc} only there {vc - tc}; "
                             f"history only at the town {set(th) - set(vh)} only at the village {set(vh) - set(th)}; "
                             f"{len(th)} vs {len(vh)}; {village.log()[-1500:]}") from None
    history = _rows(town.db, _HISTORY)
    assert len(history) == len(set(history)) == len(_rows(village.db, _HISTORY)), "no change applied twice"
    counts = dict(_rows(town.db, "SELECT camera_id, count(*) FROM status_changes GROUP BY camera_id"))
    assert counts == dict(_rows(village.db, "SELECT camera_id, count(*) FROM status_changes GROUP BY camera_id"))
    assert counts[ids[0]] == 3 and counts[added[0]] == 1 and ids[5] not in counts


def _media(tmp_path) -> str:
    out = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "6",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p",
                    str(out)], check=True, timeout=120)
    return out


def _audited(db: str, rid: str) -> list[str]:
    return [r[0] for r in _rows(db, f"SELECT action FROM audit_log WHERE detail LIKE '%{rid}%' ORDER BY seq")]


def test_playback_of_a_class1_camera_waits_for_the_village_approval(world, tmp_path):
    town, village, proxy, vs, tokens = world
    v = vs["village"]
    proxy.cut("pass")
    cam = add_cameras(v, VILLAGE_A, 1, site_class=1, start=300)[0]
    make_segments(v, cam, _media(tmp_path), T0, seconds=6, seg_s=2)
    _until(lambda: cam in {r[0] for r in _rows(town.db, _CATALOG)}, "the class-1 camera at the town")

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    with httpx.Client(base_url=town.url, timeout=60) as c, httpx.Client(base_url=village.url, timeout=30) as vc:
        body = {"camera_id": cam, "start": T0.isoformat(), "end": (T0 + timedelta(seconds=6)).isoformat(),
                "reason": "case 2026-31 stolen bicycle"}
        r = c.post("/api/v1/federation/retrievals", json=body, headers=h("tina"))
        assert r.status_code == 201, r.text
        filed = r.json()
        assert filed["state"] == "pending" and filed["needs_approval"]
        play = f"/api/v1/federation/cameras/{cam}/playback.mp4"
        r = c.get(play, params={"req": filed["remote_request"]}, headers=h("tina"))
        assert r.status_code == 403 and "approv" in r.text and "Traceback" not in r.text
        # on the village: an investigator may not approve; the duty officer (a second person) does
        req = f"/api/v1/video/retrievals/{filed['remote_request']}"
        r = vc.post(req + "/approve", json={}, headers=h("ivan"))
        assert r.status_code == 403 and "video.approve" in r.text, r.text
        assert c.get(play, params={"req": filed["remote_request"]}, headers=h("tina")).status_code == 403
        r = vc.post(req + "/approve", json={"note": "checked with the town"}, headers=h("bob"))
        assert r.status_code == 200 and r.json()["state"] == "approved", r.text
        r = c.get(play, params={"req": filed["remote_request"]}, headers=h("tina"))
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4", r.text[:300]
        # what the town's user got: no stream URL, user name or password of the village camera, anywhere
        answers = [json.dumps(filed), json.dumps(dict(r.headers)),
                   c.get("/api/v1/federation/remote", params={"ids": cam}, headers=h("tina")).text,
                   c.get(f"/api/v1/cameras/{cam}", headers=h("tina")).text]
        assert cam in answers[2] and cam in answers[3], answers[2:]  # the answers are about this camera
        for secret in ("rtsp://", "pw-secret-", "8554/cam", '"admin"'):
            assert not any(secret in a for a in answers), secret
    mp4 = tmp_path / "played.mp4"
    mp4.write_bytes(r.content)
    with av.open(str(mp4)) as f:  # the village's recording, proxied: its codec, size and length
        s = f.streams.video[0]
        pts = [p.pts for p in f.demux(s) if p.pts is not None]
        assert s.codec_context.name == "h264" and (s.width, s.height) == (320, 240)
        assert float((max(pts) - min(pts)) * s.time_base) >= 4.0
    assert not _rows(town.db, "SELECT count(*) FROM recording_segments")[0][0], "the town holds no recording"
    # one request id per call, at both ends: the filing, and each playback (the refused one too)
    rid = filed["request_id"]
    assert _audited(town.db, rid) == ["video.retrieve.remote"]
    assert "federation.retrieve" in _audited(village.db, rid)
    views = [r[0] for r in _rows(town.db, "SELECT detail FROM audit_log WHERE action = 'video.view.remote'")]
    assert len(views) == 3
    for detail in views:
        view_rid = json.loads(detail)["request_id"]
        assert _audited(village.db, view_rid)[:1] == ["federation.view"], view_rid
    assert set(_audited(village.db, rid)) <= {"federation.retrieve", "video.retrieve.request"}
