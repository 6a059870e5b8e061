"""``vigil probe``: one sweep over the registry's cameras, or over the rows of a CSV file."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError
from vigil.health.probe import ProbeResult, probe_targets, sweep, targets_from_rows


def _run(coro: Any) -> Any:
    """Run ``coro`` on uvloop when it is installed (it roughly halves the prober's CPU), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "url" not in reader.fieldnames:
            raise InputError(f"{path}: the CSV needs the columns url,username,password")
        return list(reader)


def _print(results: list[ProbeResult], as_json: bool) -> None:
    if as_json:
        out = sys.stdout
        for r in results:
            out.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        out.flush()
        return
    counts = Counter(r.label for r in results)
    console.print(f"{len(results)} camera(s): " + ", ".join(f"{k} {v}" for k, v in counts.most_common()),
                  highlight=False)
    for r in [r for r in results if not r.ok][:50]:
        console.print(f"  [red]{r.reason:<11}[/] {r.key}  {r.url}  {r.detail}", highlight=False)


def probe(region: Annotated[str | None, typer.Option(help="Only cameras in this region subtree")] = None,
          csv_file: Annotated[Path | None, typer.Option("--csv", help="Probe the rows of this CSV "
                                                        "(url,username,password) instead of the registry")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="One JSON object per camera: url, state, ms")] = False,
          concurrency: Annotated[int, typer.Option(help="Cameras probed at once")] = 500,
          timeout: Annotated[float, typer.Option(help="Seconds allowed per camera")] = 3.0,
          db: DbOpt = None, home: HomeOpt = None) -> None:
    """Probe cameras once (RTSP OPTIONS + DESCRIBE with digest auth, ONVIF where declared).

    Registry sweeps also store each camera's debounced state (state changes only).
    """
    if concurrency < 1 or timeout <= 0:
        raise InputError("--concurrency must be >= 1 and --timeout > 0")
    if csv_file is not None:
        targets = targets_from_rows(_read_csv(csv_file))
        results = _run(probe_targets(targets, concurrency=concurrency, timeout=timeout))
    else:
        rep = _run(sweep(open_instance(db, home), region=region, concurrency=concurrency, timeout=timeout))
        results = rep.results
        if not as_json:
            console.print(f"sweep: {rep.probed} probed in {rep.duration_s:.1f} s, {rep.online} online, "
                          f"{len(rep.changes)} state change(s) stored, {rep.skipped} without a URL", highlight=False)
    _print(results, as_json)
