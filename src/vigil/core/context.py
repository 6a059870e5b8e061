"""The application context: settings, database and credential box, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from vigil.core.config import Settings, load_settings
from vigil.core.crypto import CredentialBox, load_or_create_key
from vigil.core.db import Database
from vigil.core.private import secure_file, secure_home

__all__ = ["Vigil"]


@dataclass
class Vigil:
    """Everything a library call needs: pass it explicitly instead of using globals."""

    settings: Settings

    @classmethod
    def open(cls, db: str | None = None, home: str | None = None, *, migrate: bool = True) -> Vigil:
        """Open (and by default migrate) the instance at ``db``/``home``."""
        v = cls(load_settings(db, home))
        secure_home(v.settings.home)
        load_or_create_key(v.settings.audit_key_file)
        if migrate:
            v.db.migrate()
        if v.db.dialect == "sqlite" and v.db.engine.url.database not in (None, "", ":memory:"):
            for suffix in ("", "-wal", "-shm"):  # new -wal and -shm files take the database's mode
                secure_file(Path(v.db.engine.url.database + suffix))
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
