"""Read sessions look things up beside a running write transaction, and refuse to write."""

from __future__ import annotations

import threading

import pytest

from vigil.access.users import add_user, issue_token, principal_for_token
from vigil.core.models import Region, Role


def test_a_lookup_does_not_queue_behind_a_writer(vigil):
    with vigil.db.session() as s:
        s.add(Region(code="5301", name="Kunming", level=1))
        s.flush()
        token = issue_token(s, add_user(s, "ops", "pw-0123456789", Role.ADMIN, ["5301"]))
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:  # a write transaction that stays open until the lookup is finished
        with vigil.db.session() as s:
            s.add(Region(code="5302", name="Qujing", level=1))
            s.flush()
            holding.set()
            done.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert holding.wait(30)
        with vigil.db.read_session() as rs:  # would wait for the writer's lock (then fail) if it took one
            assert principal_for_token(rs, token).name == "ops"
            assert rs.get(Region, "5302") is None  # the writer's row is not committed yet
    finally:
        done.set()
        t.join(30)
    with vigil.db.read_session() as rs:
        assert rs.get(Region, "5302") is not None


def test_a_read_session_refuses_to_write(vigil):
    with pytest.raises(RuntimeError, match="does not write"), vigil.db.read_session() as rs:
        rs.add(Region(code="5303", name="Yuxi", level=1))
        rs.flush()
    with vigil.db.read_session() as rs:
        assert rs.get(Region, "5303") is None


@pytest.mark.parametrize("statement", [
    "INSERT INTO regions (code, name, level) VALUES ('5304', 'Zhaotong', 1)",
    "  update regions SET name = 'X'",
    "DELETE FROM regions",
])
def test_a_read_session_refuses_a_core_write_it_would_lose(vigil, statement):
    """A Core statement skips the flush check; it is refused at the cursor, not rolled back without a word."""
    from sqlalchemy import text

    with vigil.db.session() as s:
        s.add(Region(code="5301", name="Kunming", level=1))
    with pytest.raises(RuntimeError, match="does not write"), vigil.db.read_session() as rs:
        rs.execute(text(statement))
    with vigil.db.read_session() as rs:  # reads still pass, and nothing changed
        assert [(r.code, r.name) for r in rs.query(Region).all()] == [("5301", "Kunming")]
    with vigil.db.session() as s:  # a write session still writes
        s.execute(text("UPDATE regions SET name = 'Kunming City'"))
    with vigil.db.read_session() as rs:
        assert rs.get(Region, "5301").name == "Kunming City"
