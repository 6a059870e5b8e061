"""GB/T 28181 media hub benchmark: CPU of relaying devices' RTP/PS to local readers (live view, recorder).

This process runs the hub (real UDP and loopback HTTP); a child process plays ``--streams`` devices
sending RTP/PS (FFmpeg-muxed noise video, about ``--mbps`` each, paced) and ``--readers`` readers per
stream that read the hub's HTTP and discard (FFmpeg's stand-in). The INVITE is skipped (each stream's
device is taken as answered): signalling cost is bench/gb28181.py's. Printed:
- hub: CPU seconds of this process per second of streaming, per stream, and per Mbit/s delivered;
- baseline in the same run: the same RTP received by bare UDP sockets that discard it;
- projection: streams one core relays (hub CPU per stream), and the hub's cost over the bare receive.

Usage: nice -n 10 python bench/gb_media.py [--streams 8] [--readers 2] [--seconds 8] [--mbps 4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vigil.gb28181.hub import MediaHub, _Stream
from vigil.gb28181.media import RtpPsReceiver
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import ps_stream, rtp_packets


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _play(ports: list[int], urls: list[str], readers: int, seconds: float, mbps: float,
                packets: list[bytes]) -> int:
    """The devices and readers (child process): returns the bytes the readers got."""
    got = 0

    async def read(url: str) -> None:
        nonlocal got
        host, port = url[7:].split("/", 1)[0].split(":")
        r, w = await asyncio.open_connection(host, int(port))
        w.write(f"GET /{url.split('/', 3)[3]} HTTP/1.0\r\n\r\n".encode())
        with_head = True
        while data := await r.read(65_536):
            got += len(data) if not with_head else 0
            with_head = False
        w.close()

    tasks = [asyncio.create_task(read(u)) for u in urls for _ in range(readers)]
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    tx, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    per_s = mbps * 1e6 / 8 / 1412  # packets per second and stream
    t0, i = loop.time(), 0
    while loop.time() - t0 < seconds:
        pkt = bytearray(packets[i % len(packets)])
        pkt[2:4] = (i & 0xFFFF).to_bytes(2, "big")  # one continuous sequence however often the clip repeats
        for port in ports:
            tx.sendto(bytes(pkt), ("127.0.0.1", port))
        i += 1
        await asyncio.sleep(max(0.0, t0 + i / per_s - loop.time()))
    tx.close()
    await asyncio.sleep(0.5)
    for t in tasks:
        t.cancel()
    return got


def _child(ports: list[int], urls: list[str], readers: int, seconds: float, mbps: float, out: Any) -> None:
    packets = rtp_packets(ps_stream(40, width=320, height=240, noise=True, gop=10), 1234)
    out.put(asyncio.run(_play(ports, urls, readers, seconds, mbps, packets)))


async def _run(args: argparse.Namespace, *, hub_mode: bool) -> tuple[float, float, int]:
    """One run: (CPU seconds, wall seconds, bytes delivered)."""
    loop = asyncio.get_running_loop()
    closers: list[Any] = []
    urls: list[str] = []
    ports: list[int] = []
    if hub_mode:
        srv = GbServer(None, GbConfig(port=0))
        hub = MediaHub(srv, run_dir=Path(tempfile.mkdtemp()))
        await hub.start()
        for n in range(args.streams):
            channel = f"3402000000131{n:07d}"
            st = _Stream(channel, RtpPsReceiver(lambda b, n=channel: hub.streams[n].fan_out(b)))
            udp, _ = await loop.create_datagram_endpoint(lambda st=st: st.receiver, local_addr=("127.0.0.1", 0))
            st.closers.append(udp)
            hub.streams[channel] = st  # as if its device had answered the INVITE
            ports.append(udp.get_extra_info("sockname")[1])
            urls.append(hub.local_url(channel))
        hub._open = None  # type: ignore[assignment]  # never INVITE in this bench
    else:
        for _ in range(args.streams):
            udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            closers.append(udp)
            ports.append(udp.get_extra_info("sockname")[1])
    q: Any = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_child, args=(ports, urls, args.readers if hub_mode else 0,
                                                                 args.seconds, args.mbps, q))
    child.start()
    await asyncio.sleep(2.0)  # the child imports and encodes its clip
    c0, w0 = _cpu(), time.perf_counter()
    got = await loop.run_in_executor(None, q.get)
    cpu, wall = _cpu() - c0, time.perf_counter() - w0
    child.join()
    for c in closers:
        c.close()
    if hub_mode:
        for st in hub.streams.values():
            for c in st.closers:
                c.close()
        hub.streams.clear()
        await hub.stop()
    return cpu, wall, got


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--mbps", type=float, default=4.0)
    args = p.parse_args()
    base_cpu, _, _ = asyncio.run(_run(args, hub_mode=False))
    cpu, _, got = asyncio.run(_run(args, hub_mode=True))
    delivered = got * 8 / 1e6 / args.seconds
    per_stream = cpu / args.seconds / args.streams  # CPU outside the sending window is near zero
    base_per_stream = base_cpu / args.seconds / args.streams
    print(f"streams {args.streams} x {args.mbps:g} Mbit/s, {args.readers} reader(s) each, {args.seconds:g} s")
    print(f"hub: {cpu / args.seconds:.3f} core, {per_stream * 100:.2f} % of a core per stream, "
          f"{cpu / args.seconds / max(delivered, 1e-9) * 100:.3f} % of a core per Mbit/s delivered "
          f"({delivered:.1f} Mbit/s to readers)")
    print(f"baseline (bare UDP receive, discard): {base_per_stream * 100:.2f} % of a core per stream")
    print(f"ratio hub / baseline: {per_stream / max(base_per_stream, 1e-9):.1f}x; "
          f"projection: about {int(1 / max(per_stream, 1e-9))} streams per core through the hub")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
