"""Sign in and out; who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.login import sign_in
from vigil.access.users import LOCALES, issue_token, principal_of, revoke_token, set_locale
from vigil.api.deps import CurrentPrincipal, SessionDep, VigilDep
from vigil.api.public.common import OkPublic
from vigil.api.public.registry import LoginPublic, MePublic
from vigil.core.models import User

router = APIRouter()


class LoginIn(BaseModel):
    """Credentials."""

    username: str = Field(max_length=100)
    password: str = Field(max_length=1024)


class MePatch(BaseModel):
    """What a user may change about themselves: the console language ("" follows the browser)."""

    model_config = ConfigDict(extra="forbid")
    locale: str = Field(max_length=10, description=f"one of {', '.join(LOCALES)}, or empty")


def _user_json(p, locale: str = "") -> MePublic:  # type: ignore[no-untyped-def]
    return MePublic(name=p.name, role=p.role.value, scopes=list(p.scope.roots()), team=p.team, locale=locale)


@router.post("/login")
def login(body: LoginIn, response: Response, request: Request, session: SessionDep, v: VigilDep) -> LoginPublic:
    """Exchange a user name and password for a bearer token (also set as an HttpOnly cookie).

    Repeated failures for one user name or from one address lock it out for a growing time
    (429 with ``Retry-After``); every failure is audited.
    """
    address = request.client.host if request.client else "unknown"
    user = sign_in(session, v.db, body.username, body.password, address=address,
                   throttle=request.app.state.login_throttle)
    token = issue_token(session, user, ttl_hours=v.settings.token_ttl_hours)
    response.set_cookie("vigil_token", token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=int(v.settings.token_ttl_hours * 3600))
    return LoginPublic(token=token, user=_user_json(principal_of(user), user.locale))


@router.post("/logout")
def logout(p: CurrentPrincipal, request: Request, response: Response, session: SessionDep,
           cred: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]) -> OkPublic:
    """Revoke the caller's token."""
    token = cred.credentials if cred else request.cookies.get("vigil_token", "")
    revoke_token(session, token)
    response.delete_cookie("vigil_token")
    return OkPublic(ok=True, user=p.name)


@router.get("/me")
def me(p: CurrentPrincipal, session: SessionDep) -> MePublic:
    """The signed-in user, role, region scopes and chosen console language."""
    user = session.get(User, p.user_id)
    return _user_json(p, user.locale if user else "")


@router.patch("/me")
def update_me(body: MePatch, p: CurrentPrincipal, session: SessionDep) -> MePublic:
    """Remember the signed-in user's console language (audited)."""
    return _user_json(p, set_locale(session, p, body.locale).locale)
