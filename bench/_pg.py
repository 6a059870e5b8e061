"""Shared by the PostgreSQL benchmarks: a throw-away server (``tests/pgserver.py``) on disk, one empty database.

Not a benchmark itself: running it does nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["machine_line", "throwaway_pg"]


def machine_line() -> str:
    """The line each benchmark prints first: CPUs, the affinity it runs with, the load."""
    return f"cpus: {os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}), load {os.getloadavg()[0]:.1f}"


@contextmanager
def throwaway_pg(dbname: str) -> Iterator[tuple[str, Path]]:
    """Start a PostgreSQL server on loopback with database ``dbname``; yield its URL and a scratch folder.

    The data folder is on disk (the figures are about a disk, as in production); the server is stopped
    and both folders are removed on the way out.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pgserver import PgServer  # the tests' server; bench/ is not a package

    pg = PgServer(memory=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
            yield pg.create_db(dbname), Path(tmp)
    finally:
        pg.stop()
