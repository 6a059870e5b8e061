"""The application context: settings, database and credential box, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vigil.core.config import Settings, load_settings
from vigil.core.crypto import CredentialBox, load_or_create_key
from vigil.core.db import Database

__all__ = ["Vigil"]


@dataclass
class Vigil:
    """Everything a library call needs: pass it explicitly instead of using globals."""

    settings: Settings

    @classmethod
    def open(cls, db: str | None = None, home: str | None = None, *, migrate: bool = True) -> Vigil:
        """Open (and by default migrate) the instance at ``db``/``home``."""
        v = cls(load_settings(db, home))
        v.settings.home.mkdir(parents=True, exist_ok=True)
        load_or_create_key(v.settings.audit_key_file)
        if migrate:
            v.db.migrate()
        return v

    @cached_property
    def db(self) -> Database:
        # sessions carry the settings so the audit log finds its key and head file outside the database
        return Database(self.settings.db_url, info={"settings": self.settings})

    @cached_property
    def box(self) -> CredentialBox:
        return CredentialBox.from_file(self.settings.key_file)

    def close(self) -> None:
        self.db.dispose()
