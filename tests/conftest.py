"""Shared fixtures: a fresh Vigil instance on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Cheap argon2 parameters in tests only (still argon2id); set before vigil.access is imported.
os.environ.setdefault("VIGIL_ARGON2_PROFILE", "test")

from pgserver import PgServer  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402

_DBS = [d.strip() for d in os.environ.get("VIGIL_TEST_DBS", "sqlite,postgresql").split(",") if d.strip()]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    srv = PgServer().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server, tmp_path_factory) -> str:
    """A database migrated once per session; each PostgreSQL instance starts as a copy of it."""
    name = f"template_{os.getpid()}"
    v = Vigil.open(pg_server.create_db(name), str(tmp_path_factory.mktemp("pg-template")))
    v.close()  # PostgreSQL copies a template only while nobody is connected to it
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated once per session (per xdist worker); each SQLite instance starts as a copy.

    Migrating a new file took about 0.2 s, copying it 5 ms; the copy holds only the schema and the
    migration marks (no audit entry, no key), so each instance still makes its own keys in its own home.
    """
    folder = tmp_path_factory.mktemp("sqlite-template")
    Vigil.open(f"sqlite:///{folder / 'vigil.db'}", str(folder / "home")).close()
    with sqlite3.connect(folder / "vigil.db") as conn:  # everything in the main file, so copying it is enough
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "vigil.db"


def _sqlite_copy(request, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / "vigil.db")
    return f"sqlite:///{folder / 'vigil.db'}"


def _open(request, folder: Path) -> Vigil:
    if request.param == "sqlite":
        url = _sqlite_copy(request, folder)
    else:
        srv = request.getfixturevalue("pg_server")
        url = srv.create_db(f"t{os.getpid()}_{next(_counter)}", template=request.getfixturevalue("pg_template"))
    return Vigil.open(url, str(folder / "home"))  # the copy is at the newest revision: migrating is a no-op


def _close(request, v: Vigil) -> None:
    """Close ``v``; a PostgreSQL copy is dropped, so the session's copies do not pile up on disk."""
    v.close()
    if request.param == "postgresql":
        request.getfixturevalue("pg_server").drop_db(v.db.engine.url.database)


@pytest.fixture(params=_DBS)
def vigil(request, tmp_path) -> Vigil:
    """A migrated, empty instance; runs once per database backend."""
    v = _open(request, tmp_path)
    yield v
    _close(request, v)


@pytest.fixture(params=[d for d in _DBS if d == "postgresql"])
def pg_vigil(request, tmp_path) -> Vigil:
    """Like ``vigil``, on PostgreSQL only (for what exists only there, such as partitions)."""
    v = _open(request, tmp_path)
    yield v
    _close(request, v)


# Module-wide worlds (the scope matrix) run on SQLite in `make test`; their PostgreSQL run takes minutes
# and is part of `make test-slow`. Dialect differences are covered per test by the ``vigil`` fixture.
_MODULE_DBS = [pytest.param(d, marks=pytest.mark.slow) if d == "postgresql" else d for d in _DBS]


@pytest.fixture(scope="module", params=_MODULE_DBS)
def module_vigil(request, tmp_path_factory) -> Vigil:
    """Like ``vigil``, but one instance per test module (for a world built once and probed many times)."""
    v = _open(request, tmp_path_factory.mktemp("vigil"))
    yield v
    _close(request, v)


@pytest.fixture
def sqlite_vigil(request, tmp_path) -> Vigil:
    """A migrated instance on SQLite only (for tests that do not touch SQL dialect differences)."""
    v = Vigil.open(_sqlite_copy(request, tmp_path), str(tmp_path / "home"))
    yield v
    v.close()
