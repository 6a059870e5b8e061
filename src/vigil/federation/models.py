"""Federation tables: links to a parent or to children, the change log, and what came from below."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow

__all__ = ["ChangeKind", "Direction", "FedChange", "FedLink", "FedRemote", "FedState"]


class Direction(enum.StrEnum):
    """Which way a link points, seen from this instance."""

    CHILD = "child"  # an instance below this one publishes to us
    PARENT = "parent"  # we publish to the instance above


class ChangeKind(enum.StrEnum):
    """What a change-log entry names."""

    REGION = "region"
    SITE = "site"
    CAMERA = "camera"
    STATUS = "status"  # a StatusChange row id
    QUALITY = "quality"  # a QualityChange row id
    COVERAGE = "coverage"  # a SiteCoverage row id (a site's coverage measurement)
    REPAIR = "repair"  # a WorkOrder id (published when verified); on the wire also a relayed repair
    REPAIR_IN = "repair_in"  # a ReportedRepair id (a repair that came from below, passed upward)


class FedLink(Base):
    """A link to a child (we issued its token) or to our parent (we hold its token, sealed)."""

    __tablename__ = "fed_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    direction: Mapped[str] = mapped_column(String(10))
    # child links: the subtree the child may publish in (the guard's Scope of the link)
    region_code: Mapped[str | None] = mapped_column(String(12))
    # parent links: the parent's base URL; child links: the child's own URL, for proxied video
    url: Mapped[str] = mapped_column(String(300), default="")
    ca_file: Mapped[str] = mapped_column(String(500), default="")
    # the token the other side presents to us (only its SHA-256), and the sealed token we present to it
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    peer_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # parent links: our own URL and token for the parent, sealed, until the parent has taken them
    hello_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # child: last applied; parent: last acknowledged
    last_contact: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    errors: Mapped[int] = mapped_column(Integer, default=0)
    lag: Mapped[int] = mapped_column(Integer, default=0)  # entries not yet published (parent links)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FedChange(Base):
    """One entry of the change log: a key whose current state is published (monotonic ``seq``)."""

    __tablename__ = "fed_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(40))
    ts: Mapped[datetime] = mapped_column(default=utcnow)


class FedRemote(Base):
    """An object that came from a child link: its key there, its key here, and where it lives."""

    __tablename__ = "fed_remote"
    __table_args__ = (UniqueConstraint("link_id", "kind", "remote_key", name="uq_fed_remote_key"),
                      Index("ix_fed_remote_local", "kind", "local_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("fed_links.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    remote_key: Mapped[str] = mapped_column(String(40))
    local_key: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(300), default="")  # link names down to the owning instance


class FedState(Base):
    """Small counters of the federation service (how far the status tables were copied into the log)."""

    __tablename__ = "fed_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
