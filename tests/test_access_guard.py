"""The access guard's pure parts: Scope arithmetic, permission checks, object-in-scope-or-404."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from vigil.access.guard import (
    Scope,
    check_permission,
    check_shared_edit,
    ensure_visible,
    get_in_scope,
    region_visible,
)
from vigil.access.users import Principal
from vigil.core.errors import AccessDenied, NotFoundError
from vigil.core.models import Camera, Region, Role

TOWN_A, TOWN_B = "53018101", "53018102"


@pytest.mark.parametrize(("scope", "code", "seen"), [
    (Scope.of([TOWN_A]), TOWN_A, True),
    (Scope.of([TOWN_A]), TOWN_A + "001", True),
    (Scope.of([TOWN_A]), TOWN_B, False),
    (Scope.of([TOWN_A]), "530181", False),      # the parent city is not inside a town scope
    (Scope.of([TOWN_A]), None, False),
    (Scope.of([TOWN_A]), "", False),
    (Scope(), TOWN_A, False),                    # an empty scope sees nothing
    (Scope.everything(), TOWN_B, True),
    (Scope.everything(), None, True),
])
def test_covers(scope, code, seen):
    assert scope.covers(code) is seen
    assert region_visible(scope, code) is seen


def test_of_folds_nested_codes_and_contains():
    s = Scope.of([TOWN_A + "001", "530181", TOWN_B])
    assert s.prefixes == ("530181",)
    assert s.contains(Scope.of([TOWN_A, TOWN_B]))
    assert not Scope.of([TOWN_A]).contains(Scope.of([TOWN_B]))
    assert not Scope.of([TOWN_A]).contains(Scope.everything())
    assert Scope.everything().contains(Scope.of([TOWN_A]))


def test_ancestors_are_paths_not_scope():
    s = Scope.of([TOWN_A + "001"])
    assert s.ancestors() == {"5301", "530181", TOWN_A}
    assert s.is_ancestor_of_scope("530181")
    assert not s.covers("530181")
    assert not s.is_ancestor_of_scope(TOWN_B)


codes = st.text(alphabet="0123456789", min_size=4, max_size=11)


@given(st.lists(codes, min_size=1, max_size=5), codes)
def test_of_is_the_union_of_its_subtrees(roots, code):
    """Folding nested codes never changes which regions are seen."""
    assert Scope.of(roots).covers(code) == any(code.startswith(r) for r in roots)


def _who(role: Role, *scopes: str) -> Principal:
    return Principal(1, "u", role, tuple(scopes))


@pytest.mark.parametrize(("role", "perm", "ok"), [
    (Role.ADMIN, "users.manage", True),
    (Role.PLANNER, "plan.run", True),
    (Role.PLANNER, "video.live", False),
    (Role.AUDITOR, "registry.write", False),
    (Role.DUTY_OFFICER, "video.approve", True),
])
def test_check_permission(role, perm, ok):
    who = _who(role, TOWN_A)
    if ok:
        check_permission(who, perm)
    else:
        with pytest.raises(AccessDenied, match=perm):
            check_permission(who, perm)


def test_get_in_scope_hides_existence(vigil):
    with vigil.db.session() as s:
        s.add_all([Region(code="5301", name="P", level=1), Region(code="530181", name="C", level=2,
                                                                    parent_code="5301"),
                   Region(code=TOWN_A, name="A", level=3, parent_code="530181"),
                   Region(code=TOWN_B, name="B", level=3, parent_code="530181")])
    who = _who(Role.ADMIN, TOWN_A)
    with vigil.db.session() as s:
        assert get_in_scope(s, Region, TOWN_A, who).name == "A"
        with pytest.raises(NotFoundError) as hidden:
            get_in_scope(s, Region, TOWN_B, who)
        with pytest.raises(NotFoundError) as missing:
            get_in_scope(s, Region, "53018199", who)
        assert str(hidden.value).replace(TOWN_B, "X") == str(missing.value).replace("53018199", "X")
        with pytest.raises(NotFoundError):
            get_in_scope(s, Region, 2**70, who)   # an absurd key is "not found", not a crash
        assert get_in_scope(s, Region, TOWN_B, Scope.everything()).name == "B"
    with pytest.raises(NotFoundError, match="camera x not found"):
        ensure_visible(who, TOWN_B, "camera x")


@pytest.mark.parametrize(("scope", "users", "ok"), [
    (Scope.of([TOWN_A]), [TOWN_A + "001", TOWN_A], True),     # every user of the object is in scope
    (Scope.of([TOWN_A]), [TOWN_A + "001", TOWN_B + "001"], False),  # one user elsewhere is enough to refuse
    (Scope.of([TOWN_A]), [], True),                           # an unused shared object
    (Scope.of(["530181"]), [TOWN_A, TOWN_B], True),           # the city covers both towns
    (Scope.everything(), [TOWN_B, None], True),
])
def test_shared_objects_change_only_under_a_scope_covering_every_user(scope, users, ok):
    if ok:
        check_shared_edit(scope, users, "camera model 'M'")
    else:
        with pytest.raises(AccessDenied, match="camera model 'M' is also used outside your regions") as exc:
            check_shared_edit(scope, users, "camera model 'M'")
        assert TOWN_B not in str(exc.value)  # the refusal names no region the caller may not see


def test_clause_and_outside_partition_the_rows(vigil):
    tree = {"5301": (1, None), "530181": (2, "5301"), TOWN_A: (3, "530181"), TOWN_A + "001": (4, TOWN_A),
            TOWN_B: (3, "530181"), TOWN_B + "001": (4, TOWN_B)}
    codes = list(tree)
    with vigil.db.session() as s:
        for c, (level, parent) in tree.items():
            s.add(Region(code=c, name=c, level=level, parent_code=parent))
            s.flush()
            s.add(Camera(id=f"cam-{c}", name=c, region_code=c, lon=0.0, lat=0.0))
    for scope in (Scope.of([TOWN_A]), Scope.of([TOWN_A, TOWN_B + "001"]), Scope.everything(), Scope()):
        with vigil.db.session() as s:
            inside = set(s.scalars(select(Camera.region_code).where(scope.clause(Camera.region_code))))
            outside = set(s.scalars(select(Camera.region_code).where(scope.outside(Camera.region_code))))
        assert inside == {c for c in codes if scope.covers(c)} and outside == set(codes) - inside
