"""Which role may do what. Region scope is checked separately, on every object."""

from __future__ import annotations

from vigil.core.models import Role

__all__ = ["PERMISSIONS", "has_permission"]

_READ = {"registry.read", "kpi.read", "health.read", "events.read"}

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"*"}),
    Role.DUTY_OFFICER: frozenset(_READ | {"video.live", "video.retrieve", "video.approve", "alarm.ack",
                                          "analytics.manage", "centre.read", "centre.duty"}),
    Role.INVESTIGATOR: frozenset(_READ | {"video.live", "video.retrieve", "centre.read", "centre.case"}),
    Role.MAINTENANCE: frozenset(_READ | {"health.write", "workorder.update", "alarm.ack"}),
    Role.AUDITOR: frozenset(_READ | {"audit.read", "centre.read"}),
    Role.PLANNER: frozenset(_READ | {"plan.run", "plan.apply", "registry.write_planned"}),
}


def has_permission(role: Role | str, permission: str) -> bool:
    """True if ``role`` grants ``permission``."""
    granted = PERMISSIONS.get(Role(role), frozenset())
    return "*" in granted or permission in granted
