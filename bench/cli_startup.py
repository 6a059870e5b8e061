"""CLI start-up: wall time of `vigil no-such-command`, `vigil --help` and `vigil user --help`, beside the
eager baseline (the same interpreter importing every capability command first, as the CLI did before its
commands loaded lazily). Median of N warm runs each.

Usage: nice .venv/bin/python bench/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

LAZY = "import sys\nfrom vigil.cli import main\nmain()"
EAGER = "import sys\nfrom vigil.cli import _LAZY, app, load_command, main\n[load_command(n) for n in _LAZY]\nmain()"


def _median(code: str, args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=120)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    print(f"{'command':<28} {'lazy s':>7} {'eager s':>8} {'x faster':>8}")
    for args in (["no-such-command"], ["--help"], ["user", "--help"]):
        lazy, eager = _median(LAZY, args, a.runs), _median(EAGER, args, a.runs)
        print(f"{'vigil ' + ' '.join(args):<28} {lazy:>7.2f} {eager:>8.2f} {eager / lazy:>8.1f}")


if __name__ == "__main__":
    main()
