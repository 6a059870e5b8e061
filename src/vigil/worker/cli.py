"""``vigil worker``: probe the cameras of this worker's shards; and the headless service runner."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import uvloop

from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError
from vigil.video.recorder import RecorderConfig
from vigil.worker.lease import MAX_TTL
from vigil.worker.runner import Worker, default_name

__all__ = ["NatsOpt", "lease_ttl", "nats_url", "run_until_signal", "worker"]

NatsOpt = Annotated[str | None, typer.Option("--nats", help="NATS server URL (default $VIGIL_NATS, "
                                                           "else nats://127.0.0.1:4222)")]


def nats_url(value: str | None) -> str:
    """The NATS URL to use; only ``nats://`` URLs (credentials, if any, come from the URL's own user part)."""
    url = value or os.environ.get("VIGIL_NATS") or "nats://127.0.0.1:4222"
    if not url.startswith(("nats://", "tls://")):
        raise InputError(f"--nats must be a nats:// or tls:// URL, not {url.split('://')[0]!r}")
    return url


def lease_ttl(value: float | None = None) -> float:
    """The lease TTL: ``value``, else ``$VIGIL_LEASE_TTL``, else 9 s. Every process of a deployment must agree."""
    raw = value if value is not None else os.environ.get("VIGIL_LEASE_TTL", "9")
    try:
        ttl = float(raw)
    except ValueError:
        raise InputError(f"VIGIL_LEASE_TTL must be a number of seconds, not {raw!r}") from None
    if not 1.0 <= ttl <= MAX_TTL:
        raise InputError(f"the lease TTL must be between 1 and {MAX_TTL:.0f} seconds")
    return ttl


def run_until_signal(services: Sequence[Any]) -> None:
    """Start ``services``, run until SIGTERM or SIGINT (also while starting), stop them in reverse order."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        started: list[Any] = []

        async def start_all() -> None:
            for s in services:
                await s.start()
                started.append(s)

        starting = asyncio.create_task(start_all())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a failed start (NATS unreachable) ends here as one clear line
                await stopping
        finally:
            starting.cancel()
            stopping.cancel()
            for s in reversed(started):
                with contextlib.suppress(Exception):
                    await s.stop()

    uvloop.run(main())  # libuv: a probe's connect, write and read cost about a third less CPU


def worker(db: DbOpt = None, home: HomeOpt = None, nats: NatsOpt = None,
           name: Annotated[str | None, typer.Option(help="Worker name, unique in the deployment "
                                                         "(default: host-pid)")] = None,
           lease_ttl_s: Annotated[float | None, typer.Option("--lease-ttl", min=1.0, max=MAX_TTL, help="Lease TTL in seconds "
                                                    "(renewed every third of it; default "
                                                    "$VIGIL_LEASE_TTL, else 9)")] = None,
           probe_interval: Annotated[float, typer.Option(min=0.5, help="Seconds per probe sweep")] = 30.0,
           concurrency: Annotated[int, typer.Option(min=1, help="Probes in flight at once")] = 200,
           probe_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per probe")] = 3.0,
           sample_interval: Annotated[float, typer.Option(min=0.0, help="Seconds per picture-sample (VQD) cycle "
                                                          "of the online cameras; 0: no sampling")] = 600.0,
           record: Annotated[bool, typer.Option("--record/--no-record", help="Record the cameras of this worker's "
                                                "shards to its own --home and serve the segments to the API "
                                                "nodes")] = False,
           media_host: Annotated[str, typer.Option(help="Address the segment server listens on (reachable by "
                                                   "the API nodes)")] = "127.0.0.1",
           media_port: Annotated[int, typer.Option(min=0, max=65535, help="Segment server port "
                                                   "(0: any free one)")] = 0,
           analytics_streams: Annotated[int, typer.Option(min=0, help="Analyse the analytics-enabled cameras of "
                                                          "this worker's shards, at most this many streams at "
                                                          "once (0: no analytics); events go to the events "
                                                          "stream")] = 0) -> None:
    """Own a share of the camera shards (JetStream KV leases); probe, and optionally record, their cameras."""
    url = nats_url(nats)
    v = open_instance(db, home)
    w = Worker(v, nats_url=url, name=name or default_name(), ttl=lease_ttl(lease_ttl_s), probe_interval=probe_interval,
               concurrency=concurrency, probe_timeout=probe_timeout, sample_interval=sample_interval,
               recording=RecorderConfig() if record else None, media_host=media_host, media_port=media_port,
               analytics_streams=analytics_streams)
    console.print(f"vigil worker {w.name}: leases on {url.split('@')[-1]}", highlight=False)
    run_until_signal([w])
