"""What the demo switches on beyond the registry: maintenance teams, analytics zones, and what it records.

* :func:`seed_teams`: one contractor's team per town (three contractors share the 16 towns), and every
  work order without a team is given its town's team, so the maintenance queues are not empty.
* :func:`demo_streaming_ids`: the simulated cameras that really stream H.264 (the first ``streams`` the
  fleet binds: town 1's community entrances), which the demo records and shows on the 3×3 wall.
* :func:`seed_analytics`: continuous analytics with an intrusion zone (people and vehicles) and a loitering
  zone on a few of those cameras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from vigil.access.guard import Scope
from vigil.analytics.settings import set_analytics
from vigil.core.context import Vigil
from vigil.core.models import Region
from vigil.demo.fleet import pick_cameras
from vigil.health.models import MaintenanceTeam, WorkOrder
from vigil.health.workorders import add_team

__all__ = ["CONTRACTORS", "DEMO_ZONES", "WALL_STREAMS", "demo_streaming_ids", "seed_analytics", "seed_teams"]

CONTRACTORS = ("云岭安防工程有限公司", "滇中智能科技有限公司", "春城视讯运维有限公司")
#: Enough streaming cameras to fill a 3×3 video wall.
WALL_STREAMS = 9
#: The zones the demo draws on its analytics cameras (normalised image coordinates).
DEMO_ZONES: dict[str, Any] = {
    "zones": [
        {"name": "出入口 entrance", "polygon": [[0.05, 0.45], [0.6, 0.45], [0.6, 0.98], [0.05, 0.98]],
         "rules": [{"type": "intrusion", "labels": ["person", "car", "truck", "bicycle", "motorcycle"]}]},
        {"name": "围墙 fence", "polygon": [[0.6, 0.3], [0.98, 0.3], [0.98, 0.9], [0.6, 0.9]],
         "rules": [{"type": "loitering", "labels": ["person"], "dwell_s": 30}]},
    ],
}


def seed_teams(v: Vigil, *, actor: str = "vigil-demo") -> dict[str, int]:
    """A team per town (contractors in turn) and each team-less work order given its town's team."""
    with v.db.session() as s:
        towns = list(s.execute(select(Region.code, Region.name).where(Region.level == 3).order_by(Region.code)))
        have = {t.region_code: t.id for t in s.scalars(select(MaintenanceTeam))}
        made = 0
        for i, (code, name) in enumerate(towns):
            if code not in have:
                team = add_team(s, f"{name}维护组", code, contractor=CONTRACTORS[i % len(CONTRACTORS)],
                                sla_hours=24.0, actor=actor)
                have[code] = team.id
                made += 1
        spread = 0
        for code, team_id in have.items():
            spread += cast(CursorResult[Any], s.execute(update(WorkOrder).where(
                WorkOrder.team_id.is_(None), WorkOrder.region_code.startswith(code))
                .values(team_id=team_id))).rowcount or 0
    return {"teams": made, "orders_assigned": spread}


def demo_streaming_ids(v: Vigil, *, sim: int, streams: int) -> list[str]:
    """The registry ids the demo fleet will stream video for (the fleet streams its first ``streams``)."""
    return pick_cameras(v, sim)[:max(0, min(streams, sim))]


def seed_analytics(v: Vigil, camera_ids: Sequence[str], *, actor: str = "vigil-demo") -> list[str]:
    """Switch analytics on, with :data:`DEMO_ZONES`, for ``camera_ids``; returns them."""
    with v.db.session() as s:
        for cid in camera_ids:
            set_analytics(s, cid, enabled=True, zones=DEMO_ZONES, actor=actor, scope=Scope.everything())
    return list(camera_ids)

