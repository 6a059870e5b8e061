"""Sign in and out; who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from vigil.access.login import sign_in
from vigil.access.users import issue_token, principal_of, revoke_token
from vigil.api.deps import CurrentPrincipal, SessionDep, VigilDep

router = APIRouter()


class LoginIn(BaseModel):
    """Credentials."""

    username: str = Field(max_length=100)
    password: str = Field(max_length=1024)


def _user_json(p) -> dict:  # type: ignore[no-untyped-def]
    return {"name": p.name, "role": p.role.value, "scopes": list(p.scope.roots()), "team": p.team}


@router.post("/login")
def login(body: LoginIn, response: Response, request: Request, session: SessionDep, v: VigilDep) -> dict:
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
    return {"token": token, "user": _user_json(principal_of(user))}


@router.post("/logout")
def logout(p: CurrentPrincipal, request: Request, response: Response, session: SessionDep,
           cred: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]) -> dict:
    """Revoke the caller's token."""
    token = cred.credentials if cred else request.cookies.get("vigil_token", "")
    revoke_token(session, token)
    response.delete_cookie("vigil_token")
    return {"ok": True, "user": p.name}


@router.get("/me")
def me(p: CurrentPrincipal) -> dict:
    """The signed-in user, role and region scopes."""
    return _user_json(p)
