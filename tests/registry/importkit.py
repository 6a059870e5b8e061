"""Small files and helpers for the import/export tests: a prefecture, a city, two towns, villages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.api import problems
from vigil.api.routers import transfer
from vigil.core.context import Vigil
from vigil.core.models import AuditEntry, Camera, CameraModel, Region, Site
from vigil.registry.io import import_models, import_regions, import_sites

# deliberately out of order: children before parents
REGIONS_CSV = """code,name,level,parent
53018101001,Dongcun,village,53018101
53018101,Town One,3,530181
5301,Kunming,prefecture,
530181,Anning,city,5301
53018102,Town Two,town,530181
53018102001,Xicun,4,53018102
"""

MODELS_CSV = """name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost
Bullet-4MP,Acme,2560,1440,90,52,30,bullet,900
Dome-2MP,Acme,1920,1080,100,56,20,dome,700.5
"""

SITES_CSV = """name,kind,protection_class,region,sensitive,geometry
School,school,1,53018101,true,"POLYGON ((102.70 25.00, 102.71 25.00, 102.71 25.01, 102.70 25.01, 102.70 25.00))"
Gas 1,gas_station,2,53018101001,,"{""type"": ""Polygon"", ""coordinates"": [[[102.72, 25.0], [102.73, 25.0], [102.73, 25.01], [102.72, 25.0]]]}"
Square,square,3,53018102,no,
"""

CAMERA_HEADER = "id,name,region,site,lon,lat,height_m,heading_deg,tilt_deg,model,kind,owner,lifecycle,main_url,sub_url,username,password"
CAMERAS_CSV = CAMERA_HEADER + """
,Gate East,53018101001,Gas 1,102.725,25.005,6,90,20,Bullet-4MP,gas_station,public_security,in_service,rtsp://127.0.0.1:8554/a,rtsp://127.0.0.1:8554/a-sub,admin,s3cret-1
,Gate West,53018101001,School,102.705,25.005,5.5,270,15,Dome-2MP,key_site,town,installed,,,,
53018101001320000007,School Yard,53018101,School,102.706,25.006,4,0,10,,key_site,project,planned,,,op,pw-7
,Square North,53018102,Square,102.80,25.10,8,180,25,Bullet-4MP,public_area,traffic,In Service,rtsp://127.0.0.2/m,,,
"""


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def seed(v: Vigil) -> None:
    """Regions, models and sites of the small city."""
    with v.db.session() as s:
        import_regions(s, REGIONS_CSV.encode(), actor="test", scope=Scope.everything())
        import_models(s, MODELS_CSV.encode(), actor="test", scope=Scope.everything())
        import_sites(s, SITES_CSV.encode(), actor="test", scope=Scope.everything())


def counts(v: Vigil) -> dict[str, int]:
    """Row counts of the registry tables and the audit log."""
    with v.db.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Region, Site, CameraModel, Camera, AuditEntry)}


def transfer_client(v: Vigil) -> tuple[TestClient, dict[str, str]]:
    """The seeded instance behind only the import/export router, and an admin's auth header."""
    seed(v)
    with v.db.session() as s:
        tok = issue_token(s, add_user(s, "root", "a-long-password", "admin", ["5301"]))
    app = FastAPI()
    app.state.vigil = v
    problems.install(app)
    app.include_router(transfer.router, prefix="/api/v1")
    return TestClient(app, raise_server_exceptions=False), {"Authorization": f"Bearer {tok}"}
