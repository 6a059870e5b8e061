"""The child's rules for a parent's retrieval request (library level, one real SQLite child).

Over HTTP, through real processes, the slow tests play a class-1 camera only after the village's approval;
here each of the child's refusals is checked on its own: live-only links, un-shared cameras, no reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fedkit import TOWN_A, VILLAGE_A, add_cameras, instance, link

from vigil.core.errors import AccessDenied, InputError, NotFoundError
from vigil.federation.links import ShareRules, parent_link, set_rules
from vigil.federation.video import RemoteRequestIn, child_retrieval

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def _ask(v, cam: str, reason: str = "case 2026-40 burglary") -> dict:  # type: ignore[no-untyped-def]
    body = RemoteRequestIn(cam=cam, start=T0, end=T0 + timedelta(minutes=5), reason=reason, user="tina")
    with v.db.session() as s:
        return child_retrieval(v, s, parent_link(s), body, "rid-1")


def test_the_child_refuses_what_its_rules_do_not_allow(tmp_path):
    town, village = instance(tmp_path, "town", TOWN_A), instance(tmp_path, "village", VILLAGE_A)
    try:
        link(town, village, "village", VILLAGE_A)  # default rules: live view only
        plain = add_cameras(village, VILLAGE_A, 1)[0]
        school = add_cameras(village, VILLAGE_A, 1, site_class=1, start=50)[0]
        with pytest.raises(AccessDenied, match="live view only"):
            _ask(village, plain)
        with village.db.session() as s:
            set_rules(s, ShareRules(recordings=True, exclude=[plain]), actor="test")
        with pytest.raises(NotFoundError):  # an excluded camera is not there for the parent
            _ask(village, plain)
        with pytest.raises(InputError, match="reason is required"):
            _ask(village, school, reason="  ")
        filed = _ask(village, school)
        assert filed["state"] == "pending" and filed["needs_approval"], "a class-1 site waits for the child"
        with village.db.session() as s:
            set_rules(s, ShareRules(recordings=True), actor="test")
        assert not _ask(village, plain)["needs_approval"]
    finally:
        town.close()
        village.close()
