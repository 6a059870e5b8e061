"""Links between Vigil instances: tokens, sharing rules, the guard's view of a child, the HTTP client.

Each side of a link issues one token and keeps only its SHA-256: the parent issues the token a child
publishes with (``vigil link add-child``); the child issues the token its parent uses to ask for
video (sent once, in the hello of its first publication). The token a side presents is sealed with
the instance :class:`~vigil.core.crypto.CredentialBox`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import audit
from vigil.access.guard import Scope
from vigil.core.crypto import CredentialBox
from vigil.core.errors import AuthError, ConflictError, InputError, NotFoundError
from vigil.core.ids import validate_region_code
from vigil.core.models import Role
from vigil.federation.changes import restart_sweep
from vigil.federation.models import Direction, FedLink
from vigil.federation.publish import republish_all
from vigil.federation.rules import ShareRules, parse_rules

__all__ = ["LinkPeer", "ShareRules", "add_child", "add_parent", "client_for", "link_for_token", "parent_link",
           "parse_rules", "peer_token", "set_rules"]

TOKEN_PREFIX = "vfl_"


@dataclass(frozen=True, slots=True)
class LinkPeer:
    """A child instance as the guard sees it: no user role, the scope of the subtree it is bound to."""

    link_id: int
    name: str
    region_code: str

    @property
    def role(self) -> Role:
        return Role.AUDITOR  # a peer holds no user permission; only the scope matters

    @property
    def scope(self) -> Scope:
        return Scope.of([self.region_code])


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_url(url: str) -> str:
    """Parents are reached over HTTPS; plain HTTP only to a loopback address (tests, one machine)."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError("link URL must be https://host[:port]")
    if parts.username or parts.password or parts.query:
        raise InputError("link URL must not carry credentials or a query")
    if parts.scheme == "http":
        try:
            loop = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loop = parts.hostname == "localhost"
        if not loop:
            raise InputError("link URL must use https:// (plain http is only allowed to a loopback address)")
    return url


def _check_ca(ca_file: str | None) -> str:
    if not ca_file:
        return ""
    path = Path(ca_file).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"trusted certificate file {ca_file} does not exist")
    return str(path)


def add_child(session: Session, name: str, region_code: str, *, actor: str) -> str:
    """Create a child link bound to ``region_code``'s subtree; return its token (shown once)."""
    code = validate_region_code(region_code)
    if session.scalar(select(FedLink.id).where(FedLink.name == name)):
        raise ConflictError(f"link {name} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(FedLink(name=name, direction=Direction.CHILD.value, region_code=code, token_sha256=_sha(token),
                        rules={}))
    audit.record(session, actor, "federation.link.add_child", name, region=code)
    return token


def add_parent(session: Session, box: CredentialBox, url: str, token: str, rules: ShareRules, *, actor: str,
               name: str = "parent", ca_file: str | None = None, advertise: str = "") -> str:
    """Link this instance to its parent; return the token the parent will use to ask us for video."""
    if parent_link(session) is not None:
        raise ConflictError("this instance already has a parent link")
    if not token.startswith(TOKEN_PREFIX):
        raise InputError("not a link token (it starts with vfl_)")
    own = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hello = json.dumps({"url": advertise and _check_url(advertise), "token": own})
    session.add(FedLink(name=name, direction=Direction.PARENT.value, url=_check_url(url), ca_file=_check_ca(ca_file),
                        peer_token_enc=box.seal(token), token_sha256=_sha(own), rules=rules.model_dump(),
                        hello_enc=box.seal(hello), last_error=""))
    republish_all(session)  # a new parent gets the whole catalog and history, whatever the log still holds
    restart_sweep(session)
    audit.record(session, actor, "federation.link.add_parent", _check_url(url), rules=rules.model_dump())
    return own


def set_rules(session: Session, rules: ShareRules, *, actor: str) -> None:
    """Change the sharing rules of the parent link; every object is re-published under the new rules."""
    link = parent_link(session)
    if link is None:
        raise NotFoundError("this instance has no parent link")
    link.rules = rules.model_dump()
    republish_all(session)
    audit.record(session, actor, "federation.link.share", link.url, rules=link.rules)


def parent_link(session: Session) -> FedLink | None:
    """The link to our parent, if any."""
    return session.scalar(select(FedLink).where(FedLink.direction == Direction.PARENT.value))


def link_for_token(session: Session, token: str, direction: Direction) -> FedLink:
    """The link whose token this is, or :class:`AuthError` (compared by hash, in constant time)."""
    if not token.startswith(TOKEN_PREFIX):
        raise AuthError("not a link token")
    digest = _sha(token)
    link = session.scalar(select(FedLink).where(FedLink.token_sha256 == digest,
                                                FedLink.direction == direction.value))
    if link is None or not hmac.compare_digest(link.token_sha256 or "", digest):
        raise AuthError("unknown link token")
    return link


def peer_token(link: FedLink, box: CredentialBox) -> str:
    """The token we present to the other side of ``link``."""
    if not link.peer_token_enc:
        raise AuthError(f"link {link.name} holds no token for its peer yet")
    return box.open(link.peer_token_enc)


def client_for(link: FedLink, *, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for ``link``'s peer: TLS verified, against the trusted certificate file if one is set."""
    verify: bool | str = link.ca_file or True
    return httpx.Client(base_url=link.url, verify=verify, timeout=timeout, follow_redirects=False,
                        trust_env=False)
