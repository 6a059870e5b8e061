"""The write turn between processes (`vigil.core.db.ProcessTurn`): an flock beside the SQLite file, taken with a
timeout, handed over when its holder lets go, and dropped by the kernel with a process that is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from vigil.core import db as dbmod
from vigil.core.db import Database, ProcessTurn, is_locked

# A second process that opens the same database through make_engine, takes a write transaction, says so, and
# holds it until its stdin closes (or it is killed).
HOLDER = """
import sys
from sqlalchemy import text
from vigil.core.db import Database
d = Database(sys.argv[1])
with d.engine.connect() as c:
    with c.begin():
        c.execute(text("INSERT INTO t (who) VALUES ('holder')"))
        print("holding", flush=True)
        sys.stdin.read()
print("done", flush=True)
"""


def _db(tmp_path: Path) -> Database:
    d = Database(f"sqlite:///{tmp_path}/turn.db")
    with d.engine.begin() as c:
        c.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, who TEXT)"))
    return d


def _holder(tmp_path: Path) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, f"sqlite:///{tmp_path}/turn.db"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "holding"
    return p


def test_a_turn_is_refused_while_held_and_handed_over_when_let_go(tmp_path):
    a, b = ProcessTurn(tmp_path / "x-writer"), ProcessTurn(tmp_path / "x-writer")  # two open files: two holders
    assert a.acquire(1)
    assert not b.acquire(0.1)  # A holds it the whole time
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(b.acquire(30)))
    waiter.start()
    time.sleep(0.1)  # B is waiting (its taker thread blocks in flock); A now lets go
    a.release()
    waiter.join(30)
    assert got == [True]
    assert not a.acquire(0.1)
    b.release()
    assert a.acquire(1)
    a.release()


def test_a_turn_taken_after_its_waiter_gave_up_is_let_go(tmp_path):
    a, b = ProcessTurn(tmp_path / "x-writer"), ProcessTurn(tmp_path / "x-writer")
    assert a.acquire(1)
    assert not b.acquire(0.05)  # B's taker is left blocking in flock for a waiter that is gone
    a.release()  # the taker gets the turn now, finds nobody waiting and lets it go
    assert a.acquire(5)
    a.release()


def test_a_writer_waits_for_another_process_and_then_commits(tmp_path):
    d = _db(tmp_path)
    holder = _holder(tmp_path)
    done: list[str] = []

    def write() -> None:
        with d.engine.begin() as c:
            c.execute(text("INSERT INTO t (who) VALUES ('main')"))
        done.append("main")

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.2)
    assert done == []  # still waiting for the other process's turn
    assert holder.stdin is not None
    holder.stdin.close()
    t.join(30)
    assert done == ["main"]
    assert holder.wait(30) == 0
    with d.engine.connect() as c:
        assert [r[0] for r in c.execute(text("SELECT who FROM t ORDER BY n"))] == ["holder", "main"]
    d.dispose()


def test_sigkill_of_the_holder_frees_the_turn(tmp_path):
    d = _db(tmp_path)
    holder = _holder(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    with d.engine.begin() as c:  # the kernel dropped the flock with the process, SQLite its lock
        c.execute(text("INSERT INTO t (who) VALUES ('after')"))
    with d.engine.connect() as c:
        assert [r[0] for r in c.execute(text("SELECT who FROM t"))] == ["after"]  # the killed one never committed
    d.dispose()


def test_a_turn_held_too_long_is_a_locked_error(tmp_path, monkeypatch: pytest.MonkeyPatch):
    d = _db(tmp_path)
    holder = _holder(tmp_path)
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 300)
    try:
        with pytest.raises(OperationalError) as e, d.engine.begin() as c:
            c.execute(text("INSERT INTO t (who) VALUES ('main')"))
        assert is_locked(e.value) and "another process held it too long" in str(e.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    with d.engine.begin() as c:  # the failed BEGIN let go of this process's own lock too
        c.execute(text("INSERT INTO t (who) VALUES ('main')"))
    d.dispose()


def test_a_turn_taken_while_the_taker_still_blocks_stays_with_its_holder(tmp_path):
    """B's taker is left blocking for a waiter that gave up; B then takes the turn itself (the taker's flock on the
    same open file returns at once): the taker must not let go of B's turn, so C still cannot get it."""
    a, b, c = (ProcessTurn(tmp_path / "x-writer") for _ in range(3))
    assert a.acquire(1)
    assert not b.acquire(0.05)
    a.release()
    assert b.acquire(5)
    time.sleep(0.1)  # room for the taker to wake up and decide
    assert not c.acquire(0.2)
    b.release()
    assert c.acquire(5)
    c.release()
