"""Typed settings, read from the environment once and passed around explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vigil.core.errors import InputError

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Vigil keeps its data.

    ``home`` holds the SQLite file (by default), the credential key, recordings and exports.
    ``db_url`` is a SQLAlchemy URL: SQLite by default, PostgreSQL for a city.
    """

    home: Path
    db_url: str
    token_ttl_hours: float = 12.0
    tile_url: str = ""
    time_zone: str = "UTC"
    """The instance's IANA time zone (``VIGIL_TIME_ZONE``, e.g. Asia/Shanghai): "today", daily reports and the
    console's clock use its local day."""
    audit_syslog: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    metrics_token: str = field(default="", repr=False)
    """A bearer token that may read ``/metrics`` without a user (``VIGIL_METRICS_TOKEN``); empty: admins only."""

    @property
    def zone(self) -> ZoneInfo:
        """The instance time zone; an unknown name is refused with a clear message."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"unknown time zone {self.time_zone!r} (VIGIL_TIME_ZONE); use an IANA name such as "
                             "Asia/Shanghai") from exc

    @property
    def key_file(self) -> Path:
        return self.home / "secret.key"

    @property
    def audit_key_file(self) -> Path:
        """The HMAC key of the audit chain: outside the database, like the credential key."""
        return self.home / "audit.key"

    @property
    def audit_head_file(self) -> Path:
        """Append-only record of the audit chain's head, kept outside the database."""
        return self.home / "audit-head.log"

    @property
    def recordings_dir(self) -> Path:
        return self.home / "recordings"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"


def load_settings(db: str | None = None, home: str | Path | None = None) -> Settings:
    """Build settings from arguments, then ``VIGIL_DB`` / ``VIGIL_HOME``, then defaults under the cwd."""
    home_path = Path(home or os.environ.get("VIGIL_HOME") or Path.cwd() / "vigil-data").resolve()
    url = db or os.environ.get("VIGIL_DB") or f"sqlite:///{home_path / 'vigil.db'}"
    extra = {"tile_attribution": os.environ.get("VIGIL_TILE_ATTRIBUTION", "")}
    return Settings(home=home_path, db_url=url, tile_url=os.environ.get("VIGIL_TILE_URL", ""), extra=extra,
                    time_zone=os.environ.get("VIGIL_TIME_ZONE", "") or "UTC",
                    audit_syslog=os.environ.get("VIGIL_AUDIT_SYSLOG", ""),
                    metrics_token=os.environ.get("VIGIL_METRICS_TOKEN", ""))
