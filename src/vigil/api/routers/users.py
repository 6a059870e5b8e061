"""Users (admin only): list, add, change role or regions, deactivate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from vigil.access import users as accounts
from vigil.access.guard import ensure_visible
from vigil.access.users import Principal, add_user, generate_password
from vigil.api.deps import SessionDep, require
from vigil.api.params import RowId
from vigil.api.versioning import IfMatch, expected_versions, set_etag
from vigil.core.db import check_version
from vigil.core.errors import NotFoundError
from vigil.core.ids import validate_region_code
from vigil.core.models import Role, User, UserRegion
from vigil.registry.schemas import not_null

router = APIRouter()
Admin = Depends(require("users.manage"))


class UserIn(BaseModel):
    """A user to add; a password is generated when none is given."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role
    regions: list[str] = Field(min_length=1)
    team: str = ""
    password: str | None = Field(None, min_length=10)


class UserPatch(BaseModel):
    """Fields of a user that may change."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    regions: list[str] | None = Field(None, min_length=1)
    team: str | None = Field(None, max_length=100)
    active: bool | None = None

    _nn = field_validator("role", "regions", "team", "active", mode="before")(not_null)


class UserPublic(BaseModel):
    """A user as the API answers it (never the password hash)."""

    id: int
    name: str
    role: Role
    team: str
    active: bool
    regions: list[str]
    created_at: datetime


class NewUserPublic(UserPublic):
    """A user just added: the generated password is shown this once (absent when the caller chose one)."""

    password: str | None = None


class UserList(BaseModel):
    """Users in the caller's scope."""

    items: list[UserPublic]
    total: int


def user_json(u: User) -> dict:
    """Public shape of a user (never the hash)."""
    return {"id": u.id, "name": u.name, "role": u.role, "team": u.team, "active": u.active,
            "regions": u.region_codes, "created_at": u.created_at}


def _in_scope(p: Principal, u: User) -> bool:
    return p.scope.covers_all(u.region_codes)


def _get(session: SessionDep, p: Principal, user_id: int) -> User:
    u = session.get(User, user_id)
    if u is None or not _in_scope(p, u):
        raise NotFoundError(f"user {user_id} not found")
    return u


@router.get("", response_model=UserList)
def list_users(session: SessionDep, p: Principal = Admin) -> dict[str, Any]:
    """Users whose regions lie inside the caller's scope."""
    ids = select(UserRegion.user_id).where(p.scope.clause(UserRegion.region_code))
    users = [u for u in session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name))
             if _in_scope(p, u)]
    return {"items": [user_json(u) for u in users], "total": len(users)}


@router.get("/{user_id}", response_model=UserPublic)
def get_user(user_id: RowId, session: SessionDep, response: Response, p: Principal = Admin) -> dict[str, Any]:
    """One user; its ETag is the version to send as If-Match."""
    u = _get(session, p, user_id)
    set_etag(response, session, u)
    return user_json(u)


@router.post("", status_code=201, response_model=NewUserPublic)
def create_user(body: UserIn, session: SessionDep, p: Principal = Admin) -> dict[str, Any]:
    """Add a user inside the caller's scope; a generated password is returned once."""
    regions = [validate_region_code(c) for c in body.regions]
    for c in regions:
        ensure_visible(p, c, f"region {c}")
    password = body.password or generate_password()
    u = add_user(session, body.name, password, body.role, regions, team=body.team, actor=p)
    return user_json(u) | ({"password": password} if body.password is None else {})


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: RowId, body: UserPatch, session: SessionDep, response: Response, if_match: IfMatch = None,
                p: Principal = Admin) -> dict[str, Any]:
    """Change a user's role, regions, team or active flag (with If-Match: only from that version, else 412)."""
    u = _get(session, p, user_id)
    check_version(u, expected_versions(if_match), f"user {user_id}")
    changes = body.model_dump(exclude_unset=True, mode="json")
    for c in changes.get("regions") or []:
        ensure_visible(p, validate_region_code(c), f"region {c}")
    accounts.update_user(session, p, u, **changes)
    set_etag(response, session, u)
    return user_json(u)


@router.delete("/{user_id}", status_code=204)
def deactivate_user(user_id: RowId, session: SessionDep, p: Principal = Admin) -> None:
    """Deactivate a user (kept for the audit trail)."""
    accounts.update_user(session, p, _get(session, p, user_id), active=False)


class PasswordPublic(BaseModel):
    """A new generated password, shown once."""

    name: str
    password: str


@router.post("/{user_id}/password")
def reset_user_password(user_id: RowId, session: SessionDep, p: Principal = Admin) -> PasswordPublic:
    """Give a user a new generated password (shown once) and end its sessions; audited."""
    u = _get(session, p, user_id)
    return PasswordPublic(name=u.name, password=accounts.reset_password(session, p, u.name))
