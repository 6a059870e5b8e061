"""Notification tables: webhook endpoints and their delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow


class Webhook(Base):
    """A notification subscription: a channel that receives events for a region subtree.

    ``kind`` is the channel: ``webhook`` (signed JSON), ``wecom``, ``dingtalk`` or ``feishu``
    (group robots) or ``email`` (SMTP). ``events`` holds glob patterns such as ``alarm.*``
    (an empty list means every event); ``region_code`` scopes it to a subtree (empty: every
    region). Secrets (the HMAC or signing secret, the SMTP password) and a robot's URL, whose
    key or token is a credential, are sealed with the instance key; ``url`` then holds the
    redacted URL for display. ``options`` holds what is not secret (SMTP host, recipients...).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    region_code: Mapped[str] = mapped_column(String(12), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20), default="webhook", server_default="webhook")
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    target_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class WebhookDelivery(Base):
    """One event queued for one webhook (the outbox), with its delivery history."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500), default="")
