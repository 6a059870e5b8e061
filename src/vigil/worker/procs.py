"""``vigil`` processes started beside this one (the scale-out tests, ``bench/scale.py``), stopped by pid."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

__all__ = ["VIGIL", "spawn_vigil", "stop_all"]

VIGIL = str(Path(sys.executable).parent / "vigil")  # the entry point of this interpreter's environment


def spawn_vigil(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``vigil <args>`` with its output in ``log``."""
    return subprocess.Popen([VIGIL, *args], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop_all(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process still running, wait 10 s for each, then kill what is left."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
