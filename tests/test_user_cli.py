"""`vigil user list|disable|passwd|set-role`: each change goes through the library, is audited, and the
last active admin cannot be disabled or demoted."""

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import select

from vigil.access.users import authenticate
from vigil.core.context import Vigil
from vigil.core.errors import AuthError
from vigil.core.models import AuditEntry, Region

VIGIL = [sys.executable, "-m", "vigil"]


def _run(args, env, cwd, stdin=None, rc=0):
    r = subprocess.run(VIGIL + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, input=stdin)
    assert r.returncode == rc, r.stderr
    assert "Traceback" not in r.stderr
    return r


def _password(out: str) -> str:
    return re.search(r"password: (\S+)", out).group(1)


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_user_commands_change_and_audit(tmp_path):
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home")}
    _run(["init", "--region", "5301"], env, tmp_path)
    gone = _run(["user", "set-role", "admin", "admin", "--region", "530181"], env, tmp_path, rc=2)
    assert "region 530181 does not exist" in gone.stderr
    v = Vigil.open(None, str(tmp_path / "home"))
    with v.db.session() as s:
        s.add(Region(code="530181", name="安宁市", level=2, parent_code="5301"))
    first = _password(_run(["user", "add", "li", "--role", "duty_officer", "--region", "5301"], env, tmp_path).stdout)
    listed = _run(["user", "list"], env, tmp_path).stdout
    assert re.search(r"li\s+duty_officer\s+5301\s+-\s+active", listed) and "admin" in listed
    out = _run(["user", "set-role", "li", "maintenance", "--region", "530181", "--team", "东片"], env, tmp_path).stdout
    assert "maintenance in 530181" in out
    second = _password(_run(["user", "passwd", "li"], env, tmp_path).stdout)
    assert second != first
    _run(["user", "passwd", "li", "--stdin"], env, tmp_path, stdin="a-brand-new-password\n")
    bad = _run(["user", "set-role", "li", "wizard"], env, tmp_path, rc=2)
    assert "unknown role" in bad.stderr
    # the only admin can be neither disabled nor demoted
    assert "last active admin" in _run(["user", "disable", "admin"], env, tmp_path, rc=2).stderr
    assert "last active admin" in _run(["user", "set-role", "admin", "auditor"], env, tmp_path, rc=2).stderr
    _run(["user", "disable", "li"], env, tmp_path)
    assert re.search(r"li\s+maintenance\s+530181\s+东片\s+disabled", _run(["user", "list"], env, tmp_path).stdout)
    assert "does not exist" in _run(["user", "disable", "nobody"], env, tmp_path, rc=2).stderr
    with v.db.session() as s:
        try:
            authenticate(s, "li", "a-brand-new-password")
            raise AssertionError("a disabled user signed in")
        except AuthError:
            pass
        rows = s.execute(select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.target == "user:li")
                         .order_by(AuditEntry.seq)).all()
    assert [a for a, _ in rows] == ["user.create", "user.update", "user.password", "user.password", "user.deactivate"]
    assert rows[1][1]["role"] == "maintenance" and rows[1][1]["regions"] == ["530181"]
    assert all(first not in str(d) and second not in str(d) for _, d in rows)   # no password in the log
