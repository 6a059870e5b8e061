"""Four real Vigil processes on loopback: village → town → city → prefecture, a simulated fleet on the village.

The catalog reaches the prefecture; an outage at the village shows there; a town stopped for a while
catches up with nothing lost or duplicated; scope holds at the prefecture; un-sharing removes upward.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fedkit import CITY, PREF, TOWN_A, TOWN_B, VILLAGE_A, add_cameras
from loopback import Node, until
from sqlalchemy import create_engine, text

from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token
from vigil.core.context import Vigil
from vigil.core.models import Camera, Region, Site
from vigil.federation.links import ShareRules, add_child, add_parent
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet


def _link(parent: Vigil, child: Vigil, name: str, region: str, parent_url: str, child_url: str) -> None:
    with parent.db.session() as s:
        token = add_child(s, name, region, actor="test")
    with child.db.session() as s:
        add_parent(s, child.box, parent_url, token, ShareRules(recordings=True), actor="test", advertise=child_url)


def _history(db: str, cam: str) -> list[tuple[str, str]]:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(
                "SELECT ts, state FROM status_changes WHERE camera_id = :c ORDER BY ts, id"), {"c": cam})]
    finally:
        eng.dispose()


def _setup(tmp_path, fleet_cams) -> tuple[dict[str, Node], dict[str, str], list[str], str]:
    levels = [("prefecture", PREF), ("city", CITY), ("town", TOWN_A), ("village", VILLAGE_A)]
    nodes = {n: Node(n, tmp_path / n) for n, _ in levels}
    nodes["village"].args = ("--probe-interval", "1")
    vs = {n: Vigil.open(nodes[n].db, str(nodes[n].home)) for n in nodes}
    for n, code in levels:
        init_instance(vs[n], root_code=code, root_name=n)
    for (pn, _), (cn, code) in zip(levels, levels[1:], strict=False):
        _link(vs[pn], vs[cn], cn, code, nodes[pn].url, nodes[cn].url)
    town_b_cam = add_cameras(vs["city"], TOWN_B, 1)[0]  # the city's own camera in town B
    ids = register_fleet(vs["village"], fleet_cams, region=VILLAGE_A)
    with vs["village"].db.session() as s:  # the last camera watches a class-1 site
        school = Site(name="school", kind="school", protection_class=1, region_code=VILLAGE_A, lon=102.7, lat=25.0)
        s.add(school)
        s.flush()
        s.get(Camera, ids[3]).site_id = school.id
    with vs["prefecture"].db.session() as s:  # the prefecture knows its own tree down to the towns
        for code, parent in ((CITY, PREF), (TOWN_A, CITY), (TOWN_B, CITY)):
            s.add(Region(code=code, name=code, level=len(code) // 2, parent_code=parent))
            s.flush()
        tokens = {name: issue_token(s, add_user(s, f"{name}-user", "a-long-password", role, scope))
                  for name, role, scope in (("all", "duty_officer", [PREF]), ("a", "duty_officer", [TOWN_A]),
                                            ("b", "duty_officer", [TOWN_B]))}
    for v in vs.values():
        v.close()
    return nodes, tokens, ids, town_b_cam


@pytest.mark.slow  # four vigil serve processes, a fleet and Chromium: `make test-slow`
async def test_four_levels_on_loopback(tmp_path):
    async with Fleet(4, streams=4) as fleet:
        nodes, tokens, ids, town_b_cam = _setup(tmp_path, fleet.manifest()["cameras"])
        pref = nodes["prefecture"]
        try:
            for n in nodes.values():  # all four start at once
                n.spawn()
            for n in nodes.values():
                n.wait_ready()
            async with httpx.AsyncClient(base_url=pref.url, timeout=10) as c:
                def h(who: str) -> dict[str, str]:
                    return {"Authorization": f"Bearer {tokens[who]}"}

                async def remote(who: str = "all") -> dict[str, dict]:
                    r = await c.get("/api/v1/federation/remote", headers=h(who))
                    return {x["id"]: x for x in r.json()} if r.status_code == 200 else {}

                async def state(cam: str) -> str:
                    r = await c.get(f"/api/v1/health/cameras/{cam}", headers=h("all"))
                    return r.json()["status"]["state"] if r.status_code == 200 and r.json().get("status") else ""

                # 1. the catalog reaches the prefecture, marked with the instance each camera lives on
                got = await until(lambda: _all(remote(), ids + [town_b_cam]), "the catalog at the prefecture")
                assert {got[i]["origin"] for i in ids} == {"city/town/village"} and got[town_b_cam]["origin"] == "city"
                cam = (await c.get(f"/api/v1/cameras/{ids[0]}", headers=h("all"))).text
                secrets = [x for m in fleet.manifest()["cameras"] for x in (m["url"], m["password"]) if x]
                assert ids[0] in cam and "rtsp://" not in cam and not [x for x in secrets if x in cam]

                # 2. an outage at the village shows at the prefecture
                await until(lambda: _is(state(ids[0]), "online"), "camera online at the prefecture")
                await fleet.set_faults(0, ["offline"])
                await until(lambda: _is(state(ids[0]), "down"), "the village outage at the prefecture")

                # 3. the town is stopped; changes at the village meanwhile arrive once it is back
                nodes["town"].stop()
                await fleet.set_faults(0, [])
                await fleet.set_faults(1, ["offline"])
                rc = subprocess.run([sys.executable, "-m", "vigil", "link", "unshare", ids[2], "--db",
                                     nodes["village"].db, "--home", str(nodes["village"].home)],
                                    capture_output=True, text=True, timeout=60)
                assert rc.returncode == 0, rc.stderr
                await until(lambda: _village_has(nodes["village"].db, ids[1]), "the outage seen by the village")
                assert await state(ids[1]) == "online", "the town is stopped: nothing can have passed it"
                nodes["town"].start()
                await until(lambda: _is(state(ids[1]), "down"), "catch-up after the town's outage")
                await until(lambda: _is(state(ids[0]), "online"), "the recovery during the outage")
                await until(lambda: _gone(remote(), ids[2]), "the un-shared camera leaving the prefecture")

                # 4. scope at the prefecture: town A's user never sees town B, and the reverse
                a, b = await remote("a"), await remote("b")
                assert set(a) == set(ids) - {ids[2]} and town_b_cam not in a
                assert set(b) == {town_b_cam}
                r = await c.get(f"/api/v1/cameras/{ids[0]}", headers=h("b"))
                assert r.status_code == 404
                kpi = (await c.get("/api/v1/health/kpi", params={"region": VILLAGE_A}, headers=h("a"))).json()
                assert kpi, "the KPI route answers for remote cameras"

                # 5. live view through three hops: the prefecture never sees the camera's URL or password
                live = f"/api/v1/federation/live/{ids[3]}/index.m3u8"
                assert (await c.get(live, headers=h("b"))).status_code == 404
                r = await c.get(live, headers=h("all"), timeout=90)
                assert r.status_code == 200 and r.text.startswith("#EXTM3U"), r.text[:300]
                assert not [x for x in secrets if x in r.text]
                seg = next(line for line in r.text.splitlines() if line and not line.startswith("#"))
                r = await c.get(f"/api/v1/federation/live/{ids[3]}/{seg}", headers=h("all"), timeout=60)
                assert r.status_code == 200 and r.content[:1] == b"\x47", "an MPEG-TS segment"

                await _plays_in_chromium(pref.url, ids[3], tokens["all"])

                # 6. playback of a class-1 camera waits for the village's own approval
                body = {"camera_id": ids[3], "start": "2026-01-01T08:00:00Z", "end": "2026-01-01T08:05:00Z",
                        "reason": "case 2026-17 theft"}
                r = await c.post("/api/v1/federation/retrievals", json=body, headers=h("all"))
                assert r.status_code == 201, r.text
                filed = r.json()
                assert filed["state"] == "pending" and filed["needs_approval"]
                r = await c.get(f"/api/v1/federation/cameras/{ids[3]}/playback.mp4",
                                params={"req": filed["remote_request"]}, headers=h("all"))
                assert r.status_code == 403 and "approval" in r.text
        finally:
            for n in reversed(list(nodes.values())):
                n.stop()
    # nothing lost and nothing duplicated: the prefecture holds the village's state history exactly
    for cid in ids[:2]:
        assert _history(nodes["prefecture"].db, cid) == _history(nodes["village"].db, cid)
    for n in nodes.values():
        assert "Traceback" not in n.log(), n.log()[-3000:]
    # the retrieval is audited at the prefecture and at the village under one request id
    rid = filed["request_id"]
    for n in ("prefecture", "city", "town", "village"):
        assert _audited(nodes[n].db, rid), f"{n} did not audit request {rid}"


async def _plays_in_chromium(base: str, cam: str, token: str) -> None:
    """The console's live page plays the remote camera in real headless Chromium (skipped without one)."""
    from video.video_cdp import CHROMIUM, Chromium  # tests/video's CDP driver

    if not Path(CHROMIUM).exists():
        return
    browser = await asyncio.to_thread(Chromium)
    try:
        await asyncio.to_thread(browser.goto, f"{base}/ui/live.html?camera={cam}&remote=1#token={token}")

        async def advanced() -> bool:
            t = await asyncio.to_thread(browser.eval, "document.getElementById('video').currentTime")
            return (t or 0) > 1.0

        await until(advanced, "the remote camera playing in Chromium", timeout=60, every=0.5)
    finally:
        await asyncio.to_thread(browser.close)


def _audited(db: str, rid: str) -> bool:
    eng = create_engine(db)
    try:
        with eng.connect() as c:
            return bool(c.execute(text("SELECT count(*) FROM audit_log WHERE detail LIKE :r"), {"r": f"%{rid}%"}).scalar())
    finally:
        eng.dispose()


async def _all(coro, want):
    got = await coro
    return got if set(want) <= set(got) else None


async def _is(coro, want):
    return (await coro) == want


async def _gone(coro, cam):
    return cam not in (await coro)


async def _village_has(db: str, cam: str) -> bool:
    return any(s == "down" for _, s in _history(db, cam))


