"""``Periodic``: plain passes run in a thread, async passes on the loop; failures are reported and retried."""

from __future__ import annotations

import asyncio
import logging
import threading

from vigil.core.periodic import Periodic


async def _until(cond, limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not cond():
        assert loop.time() < end, "the condition never came true"
        await asyncio.sleep(0.01)


async def test_a_plain_pass_runs_in_a_thread_and_a_failure_is_logged_then_retried(caplog):
    threads, calls = [], []

    def fn() -> None:
        threads.append(threading.get_ident())
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first pass breaks")

    p = Periodic(fn, interval=0.01, name="t-plain")
    with caplog.at_level(logging.ERROR, logger="vigil.periodic"):
        await p.start()
        await _until(lambda: len(calls) >= 3)
        await p.stop()
    assert threading.get_ident() not in threads
    assert "t-plain: a pass failed" in caplog.text and "first pass breaks" in caplog.text
    assert not p.running
    n = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == n  # stopped means stopped


async def test_an_async_pass_runs_on_the_loop_and_the_error_hook_replaces_the_log(caplog):
    seen: list[Exception] = []
    calls = 0
    loop_thread = threading.get_ident()
    on_loop = []

    async def fn() -> None:
        nonlocal calls
        calls += 1
        on_loop.append(threading.get_ident() == loop_thread)
        if calls <= 2:
            raise ConnectionError(f"nats away {calls}")

    async def hook(exc: Exception) -> None:
        seen.append(exc)
        if len(seen) == 2:
            raise ValueError("the hook breaks too")

    p = Periodic(fn, interval=3600, retry=0.01, name="t-async", on_error=hook)
    with caplog.at_level(logging.ERROR, logger="vigil.periodic"):
        await p.start()
        await p.start()  # a second start while running does nothing
        await _until(lambda: calls >= 3)
        assert p.running
        await p.stop()
    assert all(on_loop)
    assert [str(e) for e in seen] == ["nats away 1", "nats away 2"]
    assert "a pass failed" not in caplog.text  # the hook reported it
    assert "t-async: the error hook failed" in caplog.text  # a broken hook is logged, the loop lives on
    assert calls == 3  # after the good pass it waits the (long) interval, not the retry
