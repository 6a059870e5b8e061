"""Imports over the running limit wait in one line and start in the order they came; past the line, 503."""

from __future__ import annotations

import threading

import pytest
from importkit import transfer_client
from sqlalchemy import select

from vigil.api.routers import transfer
from vigil.core.errors import ImportBusy
from vigil.core.models import AuditEntry

MODEL_HEADER = "name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost\n"


def _wait(pred, what: str) -> None:
    ev = threading.Event()
    for _ in range(600):  # a condition, not a duration: fail only if it never holds
        if pred():
            return
        ev.wait(0.05)
    raise AssertionError(f"never: {what}")


def _queue_behind(slots: transfer.ImportSlots, n: int, work) -> list[threading.Thread]:  # type: ignore[no-untyped-def]
    """Start ``n`` threads one after the other, each once the previous one is in line."""
    threads = []
    for i in range(n):
        t = threading.Thread(target=work, args=(i,), daemon=True)
        t.start()
        _wait(lambda i=i: slots.waiting == i + 1, f"import {i} in line")
        threads.append(t)
    return threads


def test_waiting_imports_start_in_arrival_order_and_a_full_line_is_refused():
    slots, started, lock = transfer.ImportSlots(1, max_waiting=5, retry_after_s=9), [], threading.Lock()

    def work(i: int) -> None:
        with slots.slot(), lock:
            started.append(i)

    with slots.slot():  # one import running: the next five wait their turn
        threads = _queue_behind(slots, 5, work)
        with pytest.raises(ImportBusy) as busy, slots.slot():  # a sixth finds the line full
            pass
        assert busy.value.retry_after == 9 and "1 import(s) are running and 5 waiting" in str(busy.value)
        assert started == []
    for t in threads:
        t.join(10)
    assert started == [0, 1, 2, 3, 4] and slots.waiting == 0  # a semaphore would shuffle them
    with slots.slot():  # the slots are all free again
        pass


def test_a_turn_that_never_comes_is_refused_and_leaves_the_line():
    slots = transfer.ImportSlots(1, max_waiting=2, wait_s=0.2)
    with slots.slot(), pytest.raises(ImportBusy, match="no import slot came free"), slots.slot():
        pass
    assert slots.waiting == 0


@pytest.fixture
def api(sqlite_vigil, monkeypatch):  # type: ignore[no-untyped-def]
    slots = transfer.ImportSlots(1, max_waiting=2, retry_after_s=7)
    monkeypatch.setattr(transfer, "SLOTS", slots)
    return *transfer_client(sqlite_vigil), sqlite_vigil, slots


def test_api_imports_queue_in_order(api):
    c, h, v, slots = api
    answers: dict[int, int] = {}

    def post(i: int) -> None:
        body = f"{MODEL_HEADER}Queued {i},acme,1920,1080,90,50,30,bullet,100\n".encode()
        answers[i] = c.post("/api/v1/import/models", files={"file": (f"q{i}.csv", body)}, headers=h).status_code

    with slots.slot():  # an import is running: two more wait in line, a third is answered 503 at once
        threads = _queue_behind(slots, 2, post)
        r = c.post("/api/v1/import/models", files={"file": ("late.csv", MODEL_HEADER.encode())}, headers=h)
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
        assert r.headers["content-type"].startswith("application/problem+json")
    for t in threads:
        t.join(30)
    assert answers == {0: 200, 1: 200}
    with v.db.session() as s:
        sources = [e.detail["source"] for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "models.import")
                                                          .order_by(AuditEntry.seq))]
    assert [s for s in sources if s.startswith("q")] == ["q0.csv", "q1.csv"]  # written in the order they came
