"""A real PostgreSQL server for tests, from Debian's package, on a free loopback port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _pg_bin() -> Path | None:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(cands[0]).parent if cands else None


def _memory_dir() -> str | None:
    """``/dev/shm`` where it is a writable tmpfs, else the default temporary folder.

    A throw-away server needs no disk: on the shared disk, removing the data folder's files took seconds.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return None
    st = os.statvfs(shm)
    return str(shm) if st.f_bavail * st.f_frsize >= 2 << 30 else None  # a container's 64 MiB /dev/shm is too small


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """initdb + pg_ctl start as the ``postgres`` system user (PostgreSQL refuses to run as root)."""

    def __init__(self, *, memory: bool = True) -> None:
        """``memory``: keep the data folder in ``/dev/shm`` (tests); benchmarks pass False to measure a disk."""
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-", dir=_memory_dir() if memory else None))
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PgServer:
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
        if self.user:
            shutil.chown(self.dir, self.user)
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "vigil", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        opts += " -c max_wal_size=128MB -c min_wal_size=32MB"  # the WAL lives in memory too
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://vigil@127.0.0.1:{self.port}/{dbname}"

    def create_db(self, name: str, template: str | None = None) -> str:
        """A new empty database, or a copy of ``template`` (PostgreSQL copies its files: no migration)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=vigil dbname=postgres",
                             autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_db(self, name: str) -> None:
        """Drop ``name`` (connections still open are cut): a session's copies otherwise pile up on disk.

        Hundreds of 15 MB copies made the server's final ``rmtree`` take 20-25 s in the last test's teardown.
        """
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=vigil dbname=postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
