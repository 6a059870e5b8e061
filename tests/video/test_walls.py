"""Wall layouts in the library, on SQLite and PostgreSQL: saved per user, replaced by name, scoped, checked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from video_helpers import add_camera

from vigil.access.users import add_user, principal_of
from vigil.core.errors import AccessDenied, InputError, NotFoundError
from vigil.video.models import WallLayout
from vigil.video.walls import WallIn, list_walls, save_wall

A1, A2, B1 = "53010200001320000301", "53010200001320000302", "53010300001320000303"


def test_layouts_are_per_user_replaced_by_name_and_scoped(vigil) -> None:
    with vigil.db.session() as s:
        add_camera(s, cam_id=A1)
        add_camera(s, cam_id=A2)
        add_camera(s, cam_id=B1, region="530103")
        me = principal_of(add_user(s, "desk1", "a-long-password", "duty_officer", ["530102", "530103"]))
        other = principal_of(add_user(s, "desk2", "a-long-password", "duty_officer", ["530102"]))
        fixer = principal_of(add_user(s, "fixer", "a-long-password", "maintenance", ["530102"]))
        save_wall(s, me, WallIn(name="night", size=4, cameras=[A1, None, B1], cycle_s=10))
        saved = save_wall(s, me, WallIn(name="night", size=9, cameras=[A2, B1]))  # the same name: replaced
        assert (saved.size, saved.cameras, saved.cycle_s) == (9, [A2, B1], 0)
        assert s.scalar(select(func.count()).select_from(WallLayout)) == 1
        assert list_walls(s, other) == []
        with pytest.raises(NotFoundError, match=B1):
            save_wall(s, other, WallIn(name="mine", size=4, cameras=[B1]))  # another town's camera
        with pytest.raises(InputError, match="1, 4, 9 or 16"):
            save_wall(s, me, WallIn(name="odd", size=6))
        with pytest.raises(InputError, match="5 s"):
            save_wall(s, me, WallIn(name="fast", size=4, cycle_s=2))
        with pytest.raises(AccessDenied):
            list_walls(s, fixer)
    # the user's regions shrink: the camera no longer visible is an empty tile, the rest stays
    with vigil.db.session() as s:
        narrowed = principal_of(add_user(s, "desk1b", "a-long-password", "duty_officer", ["530102"]))
        row = s.scalar(select(WallLayout))
        row.user_id = narrowed.user_id
    with vigil.db.session() as s:
        (w,) = list_walls(s, narrowed)
        assert w.cameras == [A2, None]


def test_a_layout_is_deleted_by_its_owner_only_and_audited(vigil) -> None:
    from vigil.core.models import AuditEntry
    from vigil.video.walls import delete_wall

    with vigil.db.session() as s:
        add_camera(s, cam_id=A1)
        me = principal_of(add_user(s, "desk1", "a-long-password", "duty_officer", ["530102"]))
        other = principal_of(add_user(s, "desk2", "a-long-password", "duty_officer", ["530102"]))
        fixer = principal_of(add_user(s, "fixer", "a-long-password", "maintenance", ["530102"]))
        keep = save_wall(s, me, WallIn(name="day", size=1, cameras=[A1]))
        gone = save_wall(s, me, WallIn(name="night", size=4, cameras=[A1]))
        with pytest.raises(NotFoundError, match=f"wall layout {gone.id}"):
            delete_wall(s, other, gone.id)  # someone else's layout: as if it did not exist
        with pytest.raises(AccessDenied):
            delete_wall(s, fixer, gone.id)
        delete_wall(s, me, gone.id)
        assert [w.name for w in list_walls(s, me)] == ["day"] and keep.id != gone.id
        with pytest.raises(NotFoundError):
            delete_wall(s, me, gone.id)  # already gone
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "video.wall.delete", AuditEntry.target == f"wall:{gone.id}")) == 1
