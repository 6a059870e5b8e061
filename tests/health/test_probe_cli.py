"""`vigil probe` (--csv, registry, --json) and `vigil sim` (run, manifest, live faults) as real processes."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from pathlib import Path

from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet

VIGIL = str(Path(sys.executable).with_name("vigil"))


async def run(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(VIGIL, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def test_probe_csv_json(tmp_path):
    async with Fleet(4, faults="1=refused,2=auth,3=garbage") as fleet:
        path = tmp_path / "cams.csv"
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["url", "username", "password"])
            for c in fleet.cameras:
                w.writerow([c.url, c.username, c.password])
        rc, out, err = await run("probe", "--csv", str(path), "--json", "--timeout", "2")
    assert rc == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["url"] for r in rows] == [c.url for c in fleet.cameras]
    assert [r["state"] for r in rows] == ["online", "refused", "auth", "protocol"]
    assert all(isinstance(r["ms"], float | int) and r["ms"] >= 0 for r in rows)
    assert all("password" not in json.dumps(r) for r in rows)


async def test_probe_registry_json_and_bad_csv(tmp_path, sqlite_vigil):
    from vigil.access.bootstrap import init_instance

    init_instance(sqlite_vigil, root_code="5301", root_name="Pref", admin="admin")
    db, home = sqlite_vigil.settings.db_url, str(sqlite_vigil.settings.home)
    async with Fleet(3, faults="2=offline") as fleet:
        ids = register_fleet(sqlite_vigil, fleet.manifest()["cameras"])
        rc, out, err = await run("probe", "--db", db, "--home", home, "--json", "--timeout", "1")
        assert rc == 0, err
        rows = {r["camera"]: r for r in map(json.loads, out.splitlines())}
        assert [rows[i]["state"] for i in ids] == ["online", "online", "timeout"]
        rc, out, err = await run("probe", "--db", db, "--home", home, "--region", "5302", "--timeout", "1")
        assert rc == 0 and "0 camera(s)" in out
    (tmp_path / "bad.csv").write_text("address,user\nx,y\n")
    rc, out, err = await run("probe", "--csv", str(tmp_path / "bad.csv"))
    assert rc == 2 and "url,username,password" in err and "Traceback" not in err


async def test_sim_cli_manifest_and_live_fault(tmp_path):
    manifest = tmp_path / "fleet.json"
    proc = await asyncio.create_subprocess_exec(
        VIGIL, "sim", "--cameras", "3", "--faults", "1=refused", "--manifest", str(manifest), "--duration", "60",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(200):
            if manifest.exists():
                break
            await asyncio.sleep(0.1)
        m = json.loads(manifest.read_text())
        assert [c["faults"] for c in m["cameras"]] == [[], ["refused"], []] and m["control"]
        rc, out, err = await run("sim", "fault", "0", "offline", "--manifest", str(manifest))
        assert rc == 0 and "offline" in out, err
        assert json.loads(manifest.read_text())["cameras"][0]["faults"] == ["offline"]  # kept current
        csv_path = tmp_path / "c.csv"
        csv_path.write_text("url,username,password\n" + "".join(
            f"{c['url']},{c['username']},{c['password']}\n" for c in m["cameras"]))
        rc, out, err = await run("probe", "--csv", str(csv_path), "--json", "--timeout", "1")
        assert [json.loads(x)["state"] for x in out.splitlines()] == ["timeout", "refused", "online"]
        rc, out, err = await run("sim", "fault", "7", "black", "--manifest", str(manifest))
        assert rc != 0 and "Traceback" not in err
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
