"""Storage: SQLAlchemy engines (SQLite in WAL mode by default, PostgreSQL by URL) and migrations."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.errors import InputError, PreconditionFailed

__all__ = ["Database", "begin_immediate", "check_version", "is_locked", "make_engine", "migrate", "serialize"]

_MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("vigil.db")


# The API runs handlers on AnyIO's thread pool (40 threads): the pool can serve every one of them,
# and a request that still finds it empty fails fast (503 + Retry-After) instead of stalling.
POOL_SIZE = 20
POOL_OVERFLOW = 20
POOL_TIMEOUT_S = 2.0
# SQLite: how long one BEGIN IMMEDIATE waits for the write lock, and how often it is tried again.
BUSY_TIMEOUT_MS = 5000
LOCK_RETRIES = 2


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and write locks taken up front."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    if url.startswith("postgresql"):
        pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": POOL_TIMEOUT_S}
        return create_engine(url, pool_pre_ping=True, **(pool | kwargs))
    raise InputError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    """SQLite where every transaction is ``BEGIN IMMEDIATE``.

    A deferred transaction that reads first and writes later cannot wait for the lock: in WAL
    mode it fails with "database is locked" as soon as another writer got in between. Taking
    the write lock at BEGIN makes writers queue on the busy timeout instead (readers in other
    processes are never blocked by WAL), and a BEGIN that still finds the database locked is
    retried a bounded number of times before it gives up (the API answers 503 + Retry-After).
    """
    path = url.split(":///", 1)[-1]
    memory = not path or path == ":memory:" or "mode=memory" in url
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": POOL_TIMEOUT_S} | kwargs
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite must not emit its own BEGIN: _begin does
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    _queue_writers(engine, None if memory else _process_turn(Path(path.split("?", 1)[0])))
    return engine


_HOLDS = "vigil.writer"
#: execution option of :meth:`Database.read_session` connections: a deferred BEGIN that takes no write lock
READ_ONLY = "vigil_read_only"


class ProcessTurn:
    """The write turn between processes: an ``flock`` on a file beside the database, taken with a timeout.

    SQLite's own busy handler polls with growing sleeps (1, 2, 5 ... 100 ms), so two server processes
    that write often hand the database over late and in no order. A blocking ``flock`` wakes its
    waiter as soon as the holder lets go, and the kernel drops it with a process that dies. ``flock``
    has no timeout, so a waiter that finds the file locked asks one taker thread of this process to
    block for it and waits for the hand-over with its own timeout; a turn taken after its waiter gave
    up is let go at once. Only the holder of the process's thread lock waits here, so there is at most
    one waiter per process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._cv = threading.Condition()
        self._wanted = False
        self._handed = False
        self._held = False
        self._taker: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the turn within ``timeout`` seconds (False: another process held it all that time)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with self._cv:
                self._held = True
            return True
        except BlockingIOError:
            pass
        with self._cv:
            if self._taker is None:
                self._taker = threading.Thread(target=self._take, name="vigil-write-turn", daemon=True)
                self._taker.start()
            self._wanted, self._handed = True, False
            self._cv.notify_all()
            if self._cv.wait_for(lambda: self._handed, timeout):
                self._handed, self._held = False, True
                return True
            self._wanted = False  # the taker lets go of a turn that comes after this
            return False

    def release(self) -> None:
        with self._cv:
            self._held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _take(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._wanted)
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # blocks without the GIL until the holder lets go
            with self._cv:
                if self._wanted:
                    self._wanted, self._handed = False, True
                    self._cv.notify_all()
                elif not self._held:  # its waiter gave up; a holder that took it meanwhile keeps it (one file)
                    fcntl.flock(self.fd, fcntl.LOCK_UN)


def _process_turn(db_path: Path) -> ProcessTurn | None:
    """The cross-process turn of the database at ``db_path`` (None where its folder cannot hold the lock file)."""
    try:
        return ProcessTurn(db_path.with_name(db_path.name + "-writer"))
    except OSError as exc:  # a read-only folder, another user's database: SQLite's busy timeout still orders
        log.warning("no cross-process write turn for %s: %s", db_path, exc.strerror or exc)
        return None


def _queue_writers(engine: Engine, turn: ProcessTurn | None = None) -> None:
    """Queue transactions on a lock, and with ``turn`` on the other processes' too, before ``BEGIN IMMEDIATE``.

    SQLite's busy handler polls with growing sleeps (up to 100 ms) and wakes waiters in no order,
    so under load a transaction can wait seconds while the database is free most of the time.
    In one process, a lock hands the database over at once; between processes (several server
    workers, a CLI beside the server) the ``flock`` of :class:`ProcessTurn` does. Both are let go
    after the COMMIT has run (the dialect's ``do_commit``, not the ``commit`` event, which comes
    before it), on a rollback, or when the pool resets a connection dropped with one open.
    """
    writers = threading.Lock()

    def release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS, False):
            if turn is not None:
                turn.release()
            writers.release()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # deferred: in WAL mode a reader waits for no writer, and no writer for it
            return
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        if not writers.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                "database is locked (this process's other transactions held it too long)"))
        if turn is not None and not turn.acquire(max(0.0, deadline - time.monotonic())):
            writers.release()
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                "database is locked (another process held it too long)"))
        conn.info[_HOLDS] = True
        try:
            begin_immediate(conn)
        except BaseException:
            release(conn.info)
            raise

    plain_commit = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        plain_commit(dbapi_connection)
        release(dbapi_connection.info)  # a COMMIT that raised keeps the turn until its rollback

    setattr(engine.dialect, "do_commit", do_commit)  # noqa: B010 (this engine's own dialect object)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        release(conn.info)

    @event.listens_for(engine.pool, "reset")
    def _reset(_dbapi: Any, record: Any, _state: Any) -> None:  # the 2.0 signature: the old one warns per checkin
        release(record.info)


def begin_immediate(conn: Connection) -> None:
    """``BEGIN IMMEDIATE``, tried again (with a short back-off) while SQLite says the database is locked."""
    for attempt in range(LOCK_RETRIES + 1):
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if not is_locked(exc) or attempt == LOCK_RETRIES:
                raise
            time.sleep(0.05 * (attempt + 1))


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database table is locked" (retry later, not a failure)."""
    return isinstance(exc, OperationalError) and "is locked" in str(getattr(exc, "orig", exc))


def check_version(obj: Any, expected: Collection[int] | None, what: str) -> None:
    """Refuse a change based on another version of ``obj`` (``expected`` None: no precondition)."""
    if expected is not None and obj.version not in expected:
        raise PreconditionFailed(f"{what} is at version {obj.version}, not the one this change is based on: "
                                 "read it again and retry")


def serialize(session: Session, key: str) -> None:
    """Serialise this transaction with every other one that calls ``serialize`` with the same ``key``.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback). SQLite: nothing
    to do, every transaction already holds the database's write lock from its BEGIN.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": digest})


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


class _ReadSession(Session):
    """The session of :meth:`Database.read_session`: writing through it is a bug."""


_READ_ONLY_SAYS = "a read session does not write (use Database.session)"


@event.listens_for(_ReadSession, "before_flush")
def _no_writes(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(_READ_ONLY_SAYS)


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT")


def _refuse_statement_writes(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    """Refuse a Core INSERT/UPDATE/DELETE on a read session's connection.

    Its transaction always ends in a rollback, so the write would be lost without a word.
    """
    if conn.get_execution_options().get(READ_ONLY) and statement.lstrip()[:7].upper().startswith(_WRITE_VERBS):
        raise RuntimeError(_READ_ONLY_SAYS)


class Database:
    """An engine plus a session factory."""

    def __init__(self, url: str, *, info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.info = dict(info or {})
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        self._reads = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), class_=_ReadSession,
                                   expire_on_commit=False, info=self.info)
        event.listen(self.engine, "before_cursor_execute", _refuse_statement_writes)

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

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for lookups only (a token, a page of rows): it never waits for the write lock.

        On SQLite its transaction is a plain deferred ``BEGIN``, which in WAL mode runs beside the
        writers; it always ends in a rollback, and a flush (a write) raises instead of queueing.
        """
        s = self._reads()
        try:
            yield s
        finally:
            s.rollback()
            s.close()

    def migrate(self) -> None:
        migrate(self.engine, self.info)

    def dispose(self) -> None:
        self.engine.dispose()
