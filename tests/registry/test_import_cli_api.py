"""The shells over import/export: `vigil import|export` and /api/v1/import/*, /api/v1/export/cameras."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from importkit import CAMERA_HEADER, CAMERAS_CSV, MODELS_CSV, REGIONS_CSV, SITES_CSV, counts, seed, write
from pyogrio import read_info
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.api import problems
from vigil.api.routers import transfer
from vigil.core.models import AuditEntry
from vigil.registry.io import import_cameras

CLI = [sys.executable, "-c", "from vigil.cli import main; main()"]


def _cli(v, *args: str, monkeypatch, capsys) -> tuple[int, str, str]:
    import vigil.cli

    argv = ["vigil", *args, "--db", v.settings.db_url, "--home", str(v.settings.home)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        vigil.cli.main()
        sys.exit(0)
    out = capsys.readouterr()
    return exc.value.code, out.out, " ".join(out.err.split())  # Rich wraps long lines


def test_cli_imports_with_summary_and_exports(sqlite_vigil, tmp_path, monkeypatch, capsys):
    v = sqlite_vigil
    for kind, text in (("regions", REGIONS_CSV), ("models", MODELS_CSV), ("sites", SITES_CSV)):
        code, out, _ = _cli(v, "import", kind, str(write(tmp_path, f"{kind}.csv", text)),
                            monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0 and f"{kind}:" in out and "created" in out
    cams = write(tmp_path, "cams.csv", CAMERAS_CSV)
    code, out, _ = _cli(v, "import", "cameras", str(cams), "--dry-run", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "4 would be created" in out and "nothing was stored" in out
    assert counts(v)["cameras"] == 0
    code, out, _ = _cli(v, "import", "cameras", str(cams), monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "4 created, 0 updated, 0 unchanged" in out and "3 GB/T 28181 ID(s) generated" in out
    code, out, _ = _cli(v, "import", "cameras", str(cams), monkeypatch=monkeypatch, capsys=capsys)
    assert "0 created, 0 updated, 4 unchanged" in out
    gpkg = tmp_path / "out.gpkg"
    code, _, err = _cli(v, "export", "cameras", "--format", "gpkg", "--region", "53018101", "--out", str(gpkg),
                        monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "wrote" in err and read_info(str(gpkg))["features"] == 3
    code, out, _ = _cli(v, "export", "cameras", "-f", "geojson", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and len(json.loads(out)["features"]) == 4
    code, _, err = _cli(v, "export", "cameras", "--region", "53019999", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and "not found" in err


def test_cli_bad_file_exits_2_with_every_bad_row(sqlite_vigil, tmp_path):
    v = sqlite_vigil
    bad = write(tmp_path, "bad.csv", CAMERA_HEADER + "\n,Cam,5301,,999,25,,,,,,,,,,,\n,,5301,,102,25,,,,,,,,,,,\n")
    r = subprocess.run([*CLI, "import", "cameras", str(bad), "--db", v.settings.db_url, "--home",
                        str(v.settings.home)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "nothing was stored" in r.stderr
    assert "line 2: lon:" in r.stderr and "line 3: name: is required" in r.stderr
    assert "region 5301 does not exist" in r.stderr


def test_cli_missing_file(sqlite_vigil, tmp_path, monkeypatch, capsys):
    code, _, err = _cli(sqlite_vigil, "import", "regions", str(tmp_path / "nope.csv"), monkeypatch=monkeypatch,
                        capsys=capsys)
    assert code == 2 and "no such file" in err


# ----------------------------------------------------------------------------- API
TOWN1, TOWN2, VILLAGE1, VILLAGE2 = "53018101", "53018102", "53018101001", "53018102001"


@pytest.fixture
def api(vigil):
    """The small city with its cameras, a root admin, a town-1 admin and a town-1 duty officer."""
    seed(vigil)
    tokens = {}
    with vigil.db.session() as s:
        import_cameras(s, CAMERAS_CSV.encode(), box=vigil.box, actor="t", scope=Scope.everything())
        import_cameras(s, [{"name": "Far gate", "region": VILLAGE2, "lon": 102.9, "lat": 25.2,
                            "password": "other-secret"}], box=vigil.box, actor="t", scope=Scope.everything())
        for name, role, region in (("root", "admin", "5301"), ("admin1", "admin", TOWN1),
                                   ("officer1", "duty_officer", TOWN1)):
            tokens[name] = issue_token(s, add_user(s, name, "a-long-password", role, [region]))
    app = FastAPI()
    app.state.vigil = vigil
    problems.install(app)
    app.include_router(transfer.router, prefix="/api/v1")
    return TestClient(app, raise_server_exceptions=False), tokens, vigil


def h(tok):
    return {"Authorization": f"Bearer {tok}"}


def _cams(*rows: str) -> bytes:
    return ("\n".join([CAMERA_HEADER, *rows]) + "\n").encode()


def test_api_import_is_for_admins_within_scope(api):
    c, tok, v = api
    good = _cams(f",Api 1,{VILLAGE1},,102.7,25.0,,,,,,,,,,admin,pw1")
    up = {"file": ("cams.csv", good, "text/csv")}
    assert c.post("/api/v1/import/cameras", files=up).status_code == 401
    assert c.post("/api/v1/import/cameras", files=up, headers=h(tok["officer1"])).status_code == 403
    r = c.post("/api/v1/import/cameras", files=up, params={"dry_run": "true"}, headers=h(tok["admin1"]))
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["dry_run"] is True
    assert counts(v)["cameras"] == 5
    r = c.post("/api/v1/import/cameras", files=up, headers=h(tok["admin1"]))
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["generated_ids"] == 1
    mixed = _cams(f",Api 2,{VILLAGE1},,102.7,25.0,,,,,,,,,,,", f",Api 3,{VILLAGE2},,102.7,25.0,,,,,,,,,,,")
    r = c.post("/api/v1/import/cameras", files={"file": ("mixed.csv", mixed)}, headers=h(tok["admin1"]))
    # a row in another town is answered as that region would be anywhere else: not found, nothing stored
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"line": 3, "field": "region",
                                   "reason": f"region {VILLAGE2} not found"}]
    assert counts(v)["cameras"] == 6
    r = c.post("/api/v1/import/regions", files={"file": ("r.csv", b"")}, headers=h(tok["root"]))
    assert r.status_code == 422 and "empty" in r.json()["detail"] and "errors" not in r.json()
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Api 4",
          "region": VILLAGE2}, "geometry": {"type": "Point", "coordinates": [102.9, 25.2]}}]}
    r = c.post("/api/v1/import/cameras", files={"file": ("c.geojson", json.dumps(fc).encode())},
               headers=h(tok["root"]))
    assert r.status_code == 200 and r.json()["created"] == 1


def test_api_export_is_scoped_and_audited(api):
    c, tok, v = api
    assert c.get("/api/v1/export/cameras").status_code == 401
    officer = h(tok["officer1"])
    r = c.get("/api/v1/export/cameras", params={"format": "geojson"}, headers=officer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert sorted(f["properties"]["name"] for f in r.json()["features"]) == ["Gate East", "Gate West", "School Yard"]
    assert c.get("/api/v1/export/cameras", params={"region": TOWN2}, headers=officer).status_code == 404
    assert c.get("/api/v1/export/cameras", params={"format": "xls"}, headers=officer).status_code == 422
    r = c.get("/api/v1/export/cameras", params={"include_secrets": "true"}, headers=officer)
    assert r.status_code == 403
    r = c.get("/api/v1/export/cameras", params={"include_secrets": "true"}, headers=h(tok["admin1"]))
    assert r.status_code == 200 and "s3cret-1" in r.text and "other-secret" not in r.text and TOWN2 not in r.text
    r = c.get("/api/v1/export/cameras", params={"format": "gpkg"}, headers=h(tok["root"]))
    assert r.headers["content-type"] == "application/geopackage+sqlite3" and r.content.startswith(b"SQLite format 3")
    with v.db.session() as s:
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "cameras.export")).all()
    assert len(audits) == 3 and {a.region_code for a in audits} == {TOWN1, "5301"}
    assert {a.actor for a in audits} == {"officer1", "admin1", "root"}
