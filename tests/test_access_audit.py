import pytest
from sqlalchemy import delete, select, update

from vigil.access.audit import record, verify_chain
from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, authenticate, issue_token, principal_for_token
from vigil.core.errors import AuthError, ConflictError, InputError
from vigil.core.models import AuditEntry, Region, User


@pytest.fixture
def inst(vigil):
    res = init_instance(vigil, root_code="5301", root_name="Pref")
    with vigil.db.session() as s:
        s.add(Region(code="530181", name="City", level=2, parent_code="5301"))
    return vigil, res


def test_init_creates_admin_with_generated_password_and_argon2(inst):
    v, res = inst
    assert len(res.password) >= 16
    with v.db.session() as s:
        u = s.scalar(select(User).where(User.name == "admin"))
        assert u.password_hash.startswith("$argon2")
        assert res.password not in u.password_hash
        assert authenticate(s, "admin", res.password).id == u.id
        with pytest.raises(AuthError):
            authenticate(s, "admin", res.password + "x")
    with pytest.raises(ConflictError):
        init_instance(v, root_code="5301", root_name="Pref")


def test_tokens_resolve_to_scoped_principal(inst):
    v, _ = inst
    with v.db.session() as s:
        u = add_user(s, "town-op", "a-long-password", "duty_officer", ["530181"])
        tok = issue_token(s, u)
    with v.db.session() as s:
        p = principal_for_token(s, tok)
        assert p.scope.covers("53018101") and not p.scope.covers("530182")
        assert p.can("video.live") and not p.can("users.manage")
        with pytest.raises(AuthError):
            principal_for_token(s, tok + "x")


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"password": "short"}, "at least 10"),
    ({"role": "emperor"}, "unknown role"),
    ({"regions": []}, "at least one region"),
])
def test_add_user_rejects_bad_input(inst, kwargs, msg):
    v, _ = inst
    args = {"name": "x", "password": "long-enough-pw", "role": "planner", "regions": ["5301"]} | kwargs
    with v.db.session() as s, pytest.raises(InputError, match=msg):
        add_user(s, **args)


@pytest.mark.parametrize("tamper", ["edit", "delete_middle", "reorder", "truncate"])
def test_audit_chain_detects_tampering(inst, tamper):
    v, _ = inst
    with v.db.session() as s:
        for i in range(5):
            record(s, "alice", "camera.view", f"camera:{i}", reason="case 42")
    with v.db.session() as s:
        assert verify_chain(s).ok
        n = verify_chain(s).entries
        if tamper == "edit":
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
        elif tamper == "delete_middle":
            s.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
        elif tamper == "reorder":
            a, b = s.get(AuditEntry, 2), s.get(AuditEntry, 3)
            fields = ("ts", "actor", "action", "target", "detail", "prev_hash", "hash")
            va = {f: getattr(a, f) for f in fields}
            vb = {f: getattr(b, f) for f in fields}
            s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(**vb))
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(**va))
        else:
            s.execute(delete(AuditEntry).where(AuditEntry.seq == n))
    with v.db.session() as s:
        rep = verify_chain(s)
        assert not rep.ok, rep
        assert rep.reason
