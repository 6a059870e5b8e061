"""What every ``vigil`` sub-command shares: consoles, the --db/--home options, opening the instance.

Sub-command modules import from here, never from :mod:`vigil.cli`, so that importing any of
them first does not re-enter the command registry (a circular import).
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from vigil.core.config import load_settings
from vigil.core.errors import InputError, NotReadyError
from vigil.i18n import cli_language

if TYPE_CHECKING:  # the database layer loads only when a command opens the instance
    from vigil.core.context import Vigil

__all__ = ["DbOpt", "HomeOpt", "console", "db_error_line", "ensure_port_free", "err", "open_instance",
           "safe_db_url"]

console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (default: $VIGIL_DB or ./vigil-data/vigil.db)")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="Data folder (default: $VIGIL_HOME or ./vigil-data)")]


def open_instance(db: str | None, home: str | None = None, *, create: bool = False) -> Vigil:
    """Open the instance named on the command line.

    Only ``create=True`` (``vigil init``, ``vigil demo``) may make a new SQLite file: every other
    command refuses a path that does not exist, so a mistyped ``--db`` is an error, not a new, empty
    database. A database that cannot be reached is one line naming its host.
    """
    from vigil.core.context import Vigil

    url = load_settings(db, home).db_url
    path = _sqlite_path(url)
    if path is not None and not create and not path.is_file():
        raise InputError(f"no database at {path}: run `vigil init` first, or check --db / $VIGIL_DB")
    from sqlalchemy.exc import DBAPIError

    try:
        if path is None and not url.startswith("sqlite"):
            _reach(url)  # a database server: before anything is written to the home folder
        v = Vigil.open(db, home)
        with v.db.session() as s:
            cli_language.adopt_instance(s)  # the instance's language, unless --lang or $VIGIL_LANG say otherwise
        return v
    except DBAPIError as exc:
        raise NotReadyError(db_error_line(url, exc)) from None


def _reach(url: str) -> None:
    """Connect once to a database server, so that an unreachable one fails first."""
    from sqlalchemy import text

    from vigil.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; ``None`` for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        return None  # make_engine rejects it with its own message
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database).expanduser().resolve()


def safe_db_url(url: str) -> str:
    """The database URL for display: its password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def db_error_line(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be opened: where it is and why, never its password."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(orig).__name__
    if u.password:
        reason = reason.replace(str(u.password), "***")
    if u.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database {u.database}: {reason}"
    where = f"{u.host or 'localhost'}:{u.port or 5432}"
    return f"cannot connect to the database server at {where} (database {u.database!r}): {reason}"


def ensure_port_free(host: str, port: int) -> None:
    """Raise a one-line :class:`InputError` unless ``host:port`` can be listened on now."""
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: a TCP port is 1-65535")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind(addr)
        except OSError as exc:
            busy = " (another program is listening there; choose another --port)" if exc.errno == errno.EADDRINUSE else ""
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}{busy}") from None
