"""Worker tables: the writer's inbox of stored message ids and the highest fencing token per shard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow

__all__ = ["ShardFence", "WorkerInbox"]


class WorkerInbox(Base):
    """A message the writer has stored (or rejected): a redelivered one is skipped."""

    __tablename__ = "worker_inbox"

    msg_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ShardFence(Base):
    """The highest fencing token stored for a shard, and the worker holding it: older tokens are refused."""

    __tablename__ = "shard_fences"

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
