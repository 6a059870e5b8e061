"""Storage: SQLAlchemy engines (SQLite in WAL mode by default, PostgreSQL by URL) and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.errors import InputError

__all__ = ["Database", "make_engine", "migrate"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)
    raise InputError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, attributes: dict[str, Any] | None = None) -> None:
    """Bring the schema to the newest revision of every migration branch.

    ``attributes`` (e.g. the instance settings) are passed to the migrations.
    """
    from alembic import command

    cfg = _alembic_config(engine)
    cfg.attributes.update(attributes or {})
    command.upgrade(cfg, "heads")


def schema_is_current(engine: Engine) -> bool:
    """True if the database has every table the model declares."""
    from vigil.core.schema import metadata

    have = set(inspect(engine).get_table_names())
    return set(metadata.tables) <= have


class Database:
    """An engine plus a session factory."""

    def __init__(self, url: str, *, info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.info = dict(info or {})
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=self.info)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def migrate(self) -> None:
        migrate(self.engine, self.info)

    def dispose(self) -> None:
        self.engine.dispose()
