"""Notification benchmark: one outbox round of N alarm deliveries to WeCom, DingTalk (signed), Feishu (signed)
robots and SMTP e-mail, each against its local stand-in (``tests/notify/robotkit.py``), against signed
webhooks to a local HTTP server as the baseline.

Usage: .venv/bin/python bench/notify.py [--events N]

Prints deliveries per second for each channel and the ratio of its time to the webhook baseline's (every
delivery renders the message in Chinese, signs it where the vendor needs it and checks the vendor's answer).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _pg import machine_line

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / d) for d in ("", "notify", "health")]
from healthkit import HookServer  # noqa: E402
from robotkit import DING_SECRET, FEISHU_SECRET, RobotServer, SmtpServer  # noqa: E402

from vigil.access.guard import Scope  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402
from vigil.notify.subscriptions import ChannelIn, add_channel  # noqa: E402
from vigil.notify.webhook import deliver_pending, enqueue  # noqa: E402

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)


def _round(kind: str, n: int, body: dict[str, object]) -> float:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-notify-") as d:
        v = Vigil.open(f"sqlite:///{d}/v.db", f"{d}/home")
        try:
            with v.db.session() as s:
                add_channel(s, v, ChannelIn(name=kind, kind=kind, **body), scope=Scope.everything(), actor="bench")
                for i in range(n):
                    enqueue(s, "alarm.raised", {"id": i, "camera": f"金色年华-小区出入口-{i}", "kind": "offline"},
                            region_code="53018101", now=T0)
            t = time.perf_counter()
            rep = asyncio.run(deliver_pending(v, now=T0, limit=n))
            dt = time.perf_counter() - t
            assert rep.delivered == n, (kind, rep)
            return dt
        finally:
            v.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200)
    n = ap.parse_args().events
    print(machine_line())
    with HookServer() as hook:
        base = _round("webhook", n, {"url": hook.url, "secret": "bench-secret-0123456789"})
    print(f"webhook (baseline): {n} in {base:.2f} s, {n / base:.0f}/s")
    for kind, extra in (("wecom", {}), ("dingtalk", {"secret": DING_SECRET}), ("feishu", {"secret": FEISHU_SECRET})):
        with RobotServer(kind) as srv:
            dt = _round(kind, n, {"url": srv.url, **extra})
        print(f"{kind}: {n} in {dt:.2f} s, {n / dt:.0f}/s, {dt / base:.2f}x the baseline's time")
    with SmtpServer() as smtp:
        dt = _round("email", n, {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "vigil@city.example",
                                 "mail_to": ["duty@city.example"]})
    print(f"email: {n} in {dt:.2f} s, {n / dt:.0f}/s, {dt / base:.2f}x the baseline's time")


if __name__ == "__main__":
    main()
