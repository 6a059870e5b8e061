"""``vigil record ...`` (recorder, index, retention) and ``vigil retrieve ...`` (requests, approvals, exports)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select

from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError

record_app = typer.Typer(help="Record camera streams, repair the index, enforce retention.", no_args_is_help=True)
retrieve_app = typer.Typer(help="Retrieve recorded video: request, approve, view, export.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="Your user name", envvar="VIGIL_USER")]
PasswordOpt = Annotated[str, typer.Option("--password", help="Your password (prompted if not given)",
                                          envvar="VIGIL_PASSWORD", prompt=True, hide_input=True)]


def _when(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-27T08:00:00Z)") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@record_app.command("run")
def record_run(camera: Annotated[list[str] | None, typer.Option(help="Camera ID (repeatable; default: all "
                                                                      "in-service cameras with a stream URL)")] = None,
               segment: Annotated[float, typer.Option(help="Segment length in seconds")] = 60.0,
               seconds: Annotated[float, typer.Option("--for", help="Stop after this many seconds (0: run "
                                                                    "until interrupted)")] = 0.0,
               db: DbOpt = None, home: HomeOpt = None) -> None:
    """Record cameras with FFmpeg ``-c copy`` until interrupted; the index is repaired on start."""
    from vigil.video.recorder import Recorder, RecorderConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    v = open_instance(db, home)
    rec = Recorder(v, RecorderConfig(segment_s=segment), camera_ids=camera or None)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if seconds > 0:
            loop.call_later(seconds, stop.set)
        await rec.run(stop)

    asyncio.run(main())
    segs = sum(c.segments for c in rec.cameras.values())
    console.print(f"recorded {len(rec.cameras)} camera(s): {segs} segment(s) closed")


@record_app.command("repair")
def record_repair(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Make the segment index match the files on disk (run while the recorder is stopped)."""
    from vigil.video.segments import repair_index

    rep = repair_index(open_instance(db, home), actor="cli")
    console.print(f"index repaired: {rep.added} added, {rep.removed} removed, {rep.dropped_files} unreadable dropped")


@record_app.command("retention")
def record_retention(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Run one retention pass now (age, size, disk pressure); deletions are audited."""
    from vigil.video.retention import enforce

    rep = enforce(open_instance(db, home), actor="cli")
    console.print(f"deleted {rep.deleted} segment(s), {rep.bytes / 1e6:.1f} MB {dict(rep.by_reason)}; "
                  f"{(rep.free_bytes or 0) / 1e9:.2f} GB free")


@record_app.command("policy")
def record_policy(kind: Annotated[str, typer.Argument(help="Camera kind, or * for the default")],
                  days: Annotated[float, typer.Option(help="Keep footage this many days")],
                  max_gb: Annotated[float, typer.Option(help="At most this many GB per camera (0: no cap)")] = 0.0,
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Set the retention of a camera kind."""
    from vigil.video.retention import set_policy

    v = open_instance(db, home)
    with v.db.session() as s:
        set_policy(s, kind, days=days, max_bytes=int(max_gb * 1e9), actor="cli")
    console.print(f"retention for {kind}: {days:g} days" + (f", {max_gb:g} GB per camera" if max_gb else ""))


@record_app.command("status")
def record_status(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Indexed footage per camera: segments, span and size."""
    from vigil.video.models import RecordingSegment as R

    v = open_instance(db, home)
    with v.db.session() as s:
        rows = s.execute(select(R.camera_id, func.count(), func.min(R.start), func.max(R.end), func.sum(R.bytes))
                         .group_by(R.camera_id).order_by(R.camera_id)).all()
    for cam, n, a, b, size in rows:
        console.print(f"{cam}  {n:6d} segments  {a:%Y-%m-%d %H:%M:%S} → {b:%Y-%m-%d %H:%M:%S}  "
                      f"{(size or 0) / 1e6:9.1f} MB", highlight=False)
    if not rows:
        console.print("no recordings indexed")


def _principal(v, user: str, password: str):  # type: ignore[no-untyped-def]
    from vigil.access.users import authenticate, principal_of

    with v.db.session() as s:
        return principal_of(authenticate(s, user, password))


@retrieve_app.command("request")
def retrieve_request(camera: str, start: Annotated[str, typer.Option(help="ISO time (UTC if no zone)")],
                     end: Annotated[str, typer.Option(help="ISO time (UTC if no zone)")],
                     reason: Annotated[str, typer.Option(help="Why the video is needed (required)")],
                     user: UserOpt, password: PasswordOpt,
                     kind: Annotated[str, typer.Option(help="view or export")] = "view",
                     db: DbOpt = None, home: HomeOpt = None) -> None:
    """File a retrieval request; class-1 and sensitive sites wait for a second person's approval."""
    from vigil.video.retrieval import request_retrieval

    v = open_instance(db, home)
    p = _principal(v, user, password)
    with v.db.session() as s:
        req = request_retrieval(s, p, camera, _when(start), _when(end), kind=kind, reason=reason)
        console.print(f"request {req.id}: {req.state}" + (" (needs a second person's approval)"
                                                         if req.state == "pending" else ""))


def _decide(request_id: int, user: str, password: str, note: str, db: str | None, home: str | None,
            approve: bool) -> None:
    from vigil.video.retrieval import decide

    v = open_instance(db, home)
    p = _principal(v, user, password)
    with v.db.session() as s:
        req = decide(s, p, request_id, approve=approve, note=note)
        console.print(f"request {req.id}: {req.state} by {req.approver}")


@retrieve_app.command("approve")
def retrieve_approve(request_id: int, user: UserOpt, password: PasswordOpt,
                     note: Annotated[str, typer.Option(help="Note kept with the decision")] = "",
                     db: DbOpt = None, home: HomeOpt = None) -> None:
    """Approve a pending request (not your own; needs video.approve)."""
    _decide(request_id, user, password, note, db, home, True)


@retrieve_app.command("deny")
def retrieve_deny(request_id: int, user: UserOpt, password: PasswordOpt,
                  note: Annotated[str, typer.Option(help="Note kept with the decision")] = "",
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Deny a pending request."""
    _decide(request_id, user, password, note, db, home, False)


@retrieve_app.command("list")
def retrieve_list(user: UserOpt, password: PasswordOpt, state: str | None = None,
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Your requests (approvers: every request in scope)."""
    from vigil.video.retrieval import list_requests

    v = open_instance(db, home)
    p = _principal(v, user, password)
    with v.db.session() as s:
        for r in list_requests(s, p, state=state):
            console.print(f"{r.id:5d} {r.state:8s} {r.kind:6s} {r.camera_id} {r.start:%Y-%m-%d %H:%M:%S}→"
                          f"{r.end:%H:%M:%S} {r.requester}  {r.reason}", highlight=False)


@retrieve_app.command("view")
def retrieve_view(request_id: int, user: UserOpt, password: PasswordOpt,
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Prepare the MP4 of an approved request for playback (audited); prints its path."""
    from vigil.video.retrieval import view

    v = open_instance(db, home)
    typer.echo(str(view(v, _principal(v, user, password), request_id)))


@retrieve_app.command("export")
def retrieve_export(request_id: int, user: UserOpt, password: PasswordOpt,
                    db: DbOpt = None, home: HomeOpt = None) -> None:
    """Export an approved request as MP4 with a signed SHA-256 manifest (privacy masks blacked out)."""
    from vigil.video.retrieval import export

    v = open_instance(db, home)
    exp = export(v, _principal(v, user, password), request_id)
    typer.echo(f"export {exp.id}: {exp.path}")
    for f in exp.manifest["files"]:
        typer.echo(f"  {f['name']}  {f['bytes']} bytes  sha256 {f['sha256']}")


@retrieve_app.command("verify")
def retrieve_verify(folder: Path, key: Annotated[Path | None, typer.Option(
        "--key", "--public-key", help="Pinned public key (signing.pub) of the exporting instance "
                                      "(default: this instance's own key under --home)")] = None,
                    home: HomeOpt = None) -> None:
    """Check an export folder against a pinned key: the manifest signature and every file's SHA-256.

    The public key embedded in the manifest is only reported, never trusted.
    """
    from vigil.core.config import load_settings
    from vigil.video.manifest import pinned_public_key, verify_export

    pem = key.read_bytes() if key else pinned_public_key(load_settings(home=home).home)
    with contextlib.suppress(FileNotFoundError):
        man = verify_export(folder, pem)
        console.print(f"[green]export verified[/]: {len(man['files'])} file(s), pinned key {man['key_id'][:16]}…")
        console.print(json.dumps({k: man.get(k) for k in ("camera", "start", "end", "requester", "approver")}))
        return
    raise InputError(f"{folder} has no manifest.json / manifest.sig")
