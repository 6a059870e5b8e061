"""SIPp (Debian sip-tester) as a GB/T 28181 device or upper platform: command lines and process helpers."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

from gbkit import PLATFORM

SIPP = shutil.which("sipp")
HERE = Path(__file__).parent / "sipp"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sipp_args(server_port: int, device: str, password: str, tmp: Path, ooc: str = "device_ooc.xml",
               pause_ms: int = 3000, keys: dict[str, str] | None = None) -> list[str]:
    return [SIPP, f"127.0.0.1:{server_port}", "-sf", str(HERE / "device_uac.xml"), "-oocsf",
            str(HERE / ooc), "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1", "-d", str(pause_ms),
            "-key", "devid", device, "-key", "srvid", PLATFORM, "-key", "domain", PLATFORM[:10],
            *[a for k, val in (keys or {}).items() for a in ("-key", k, val)],
            "-au", device, "-ap", password, "-auth_uri", f"{PLATFORM}@{PLATFORM[:10]}",
            "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file", str(tmp / "err.log")]


async def run_sipp(server_port: int, device: str, password: str, tmp: Path) -> tuple[int, str]:
    return await finish_sipp(await start_sipp(sipp_args(server_port, device, password, tmp)), tmp)


async def start_sipp(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, cwd=args[-1].rsplit("/", 1)[0])


async def finish_sipp(proc: asyncio.subprocess.Process, tmp: Path) -> tuple[int, str]:
    out, _ = await proc.communicate()
    errors = (tmp / "err.log").read_text(errors="replace") if (tmp / "err.log").exists() else ""
    return proc.returncode or 0, out.decode(errors="replace")[-2000:] + errors[-2000:]
