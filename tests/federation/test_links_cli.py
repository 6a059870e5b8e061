"""`vigil link` as an operator runs it, and links over real HTTPS: verified, or against a trusted certificate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fedkit import TOWN_A, VILLAGE_A, add_cameras
from loopback import Node
from sqlalchemy import select
from typer.testing import CliRunner

from test_serve_hardening import _self_signed
from vigil.access.bootstrap import init_instance
from vigil.cli import app
from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.core.models import Camera
from vigil.federation.models import FedLink
from vigil.federation.service import push_once, push_until_idle


def _vigil(*args: str, home) -> SimpleNamespace:
    """``vigil ARGS`` in this process (the real Typer app): exit code, standard output, standard error."""
    r = CliRunner().invoke(app, [*args, "--home", str(home)])
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def test_link_commands_and_https_with_a_trusted_certificate(tmp_path):
    cert, key = _self_signed(tmp_path)
    parent = Node("town", tmp_path / "town", args=("--no-scheduler", "--tls-cert", str(cert), "--tls-key", str(key)),
                  scheme="https")
    child_node = Node("village", tmp_path / "village")
    for node, code in ((parent, TOWN_A), (child_node, VILLAGE_A)):
        v = Vigil.open(node.db, str(node.home))
        init_instance(v, root_code=code, root_name=node.name)
        v.close()
    parent_home, child_home, pdb, cdb = parent.home, child_node.home, parent.db, child_node.db
    r = _vigil("link", "add-child", "village", "--region", VILLAGE_A, "--db", pdb, home=parent_home)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("vfl_")
    for bad, why in ((["http://192.0.2.1:8443"], "https"), (["https://127.0.0.1:1", "--share", "colour=red"], "rule")):
        r = _vigil("link", "add-parent", *bad, "--token", token, "--db", cdb, home=child_home)
        assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = _vigil("link", "add-parent", parent.url, "--token", token, "--share", "classes=2,3;recordings",
               "--ca-file", str(cert), "--db", cdb, home=child_home)
    assert r.returncode == 0, r.stderr
    assert token not in r.stdout + r.stderr
    r = _vigil("link", "list", "--db", cdb, home=child_home)
    assert r.returncode == 0 and "parent" in r.stdout and token not in r.stdout
    child = Vigil.open(cdb, str(child_home))
    ids = add_cameras(child, VILLAGE_A, 2) + add_cameras(child, VILLAGE_A, 1, site_class=1, start=10)
    parent.start()
    try:
        assert push_until_idle(child) > 0
        pv = Vigil.open(pdb, str(parent_home))
        with pv.db.session() as s:
            got = set(s.scalars(select(Camera.id)))
        pv.close()
        assert set(ids[:2]) <= got and ids[2] not in got, "class-1 cameras are not shared by classes=2,3"
        with child.db.session() as s:  # the same parent without the trusted certificate: refused by TLS
            s.scalar(select(FedLink)).ca_file = ""
        add_cameras(child, VILLAGE_A, 1, start=20)
        with pytest.raises(NotReadyError) as err:
            push_once(child)
        assert "certificate" in str(err.value).lower() and token not in str(err.value)
        with child.db.session() as s:
            link = s.scalar(select(FedLink))
            assert link.errors >= 1 and link.lag >= 1
    finally:
        parent.stop()
        child.close()
    assert "Traceback" not in parent.log()
