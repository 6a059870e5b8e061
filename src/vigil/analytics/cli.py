"""``vigil analyze``: run the analytics over a stream or a local video; ``vigil analytics``: per-camera switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.access.guard import Scope
from vigil.analytics.events import AnalyticsEvent, EventSink
from vigil.cli_common import DbOpt, HomeOpt

__all__ = ["analytics_app", "analyze_cmd"]


class _Printer:
    """Prints each finished event, as one JSON object per line or as a short text line."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def publish(self, event: AnalyticsEvent) -> None:
        if event.end is None:
            return
        d = event.to_json()
        if self.as_json:
            typer.echo(json.dumps(d, ensure_ascii=False))
        else:
            where = f" in {d['zone']}" if d["zone"] else ""
            typer.echo(f"{d['t_start']:8.1f}s-{d['t_end']:8.1f}s  {d['type']:<13} {d['label']:<10}{where}"
                       f"  score {d['score']:.2f}")


def _mqtt(spec: str) -> EventSink:
    from vigil.analytics.events import MqttSink

    host, _, port = spec.partition(":")
    sink = MqttSink(host or "127.0.0.1", int(port or 1883))
    sink.start()
    return sink


def analyze_cmd(
    source: Annotated[str | None, typer.Argument(help="Video file or stream URL (default: the camera's substream)")] = None,
    zones: Annotated[Path | None, typer.Option("--zones", help="Zones file (YAML/JSON): zones, lines, masks")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per event")] = False,
    camera: Annotated[str | None, typer.Option(help="Camera ID: use its privacy masks and store its events")] = None,
    detect_fps: Annotated[float, typer.Option(help="Detection rounds per second of video, at most")] = 2.0,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds of video")] = None,
    snapshots: Annotated[Path | None, typer.Option(help="Folder for event snapshots")] = None,
    mqtt: Annotated[str | None, typer.Option(help="Publish events to this MQTT broker (host:port)")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (with --camera)")] = None,
    home: Annotated[str | None, typer.Option("--home", help="Data folder (with --camera)")] = None,
    tile_below: Annotated[float, typer.Option(
        min=0.0, max=2.0, help="Whole-frame rounds also run on tiles when the 416-px input would shrink the frame "
        "below this scale (0: never; tiles add vehicles only)")] = 0.7,
) -> None:
    """Detect motion, people and vehicles, and zone events in a video; print the events."""
    from vigil.analytics.detect import Detector
    from vigil.analytics.pipeline import AnalyzeOptions, analyze
    from vigil.analytics.zones import ZoneSet, load_zones
    from vigil.core.errors import InputError

    zoneset = load_zones(zones) if zones else ZoneSet()
    sinks: list[EventSink] = [_Printer(as_json)]
    masks: list[list[list[float]]] = []
    cam_id = "local"
    if camera:
        source, masks, sink, default_snaps = _camera_setup(camera, source, db, home)
        sinks.append(sink)
        snapshots = snapshots or default_snaps
        cam_id = camera
    if not source:
        raise InputError("give a video file or stream URL (or --camera with a stream URL in the registry)")
    if mqtt:
        sinks.append(_mqtt(mqtt))
    opts = AnalyzeOptions(camera=cam_id, detect_fps=detect_fps, max_seconds=max_seconds, snapshot_dir=snapshots)
    try:
        an = analyze(source, Detector.load(min_scale=tile_below), zoneset, options=opts, masks=masks, sinks=sinks)
    finally:
        for s in sinks:
            stop = getattr(s, "stop", None)
            if stop:
                stop()
    if not as_json:
        typer.echo(f"{len(an.events)} event(s); {an.stats['frames']} frames, "
                   f"{an.stats['detect_rounds']} detection rounds", err=True)


def _camera_setup(camera: str, source: str | None, db: str | None, home: str | None
                  ) -> tuple[str | None, list[list[list[float]]], EventSink, Path]:
    from vigil.analytics.events import DatabaseSink
    from vigil.analytics.service import camera_masks, camera_region
    from vigil.cli_common import open_instance
    from vigil.core.models import Camera
    from vigil.registry.streams import stream_url_with_credentials

    v = open_instance(db, home)
    with v.db.session() as s:
        region = camera_region(s, camera)
        masks = camera_masks(s, camera)
        cam = s.get(Camera, camera)
        assert cam is not None  # camera_region raised NotFoundError otherwise
        source = source or stream_url_with_credentials(cam, v.box, sub=True)
    return source, masks, DatabaseSink(v, region), v.settings.home / "events"


analytics_app = typer.Typer(help="Continuous analytics per camera (run by `vigil serve`).", no_args_is_help=True)


def _zones_doc(path: Path) -> dict:
    """A zones file read and validated, as the document stored with the camera."""
    import yaml

    from vigil.analytics.zones import load_zones
    from vigil.core.errors import InputError

    load_zones(path)  # clear errors for bad files
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise InputError(f"zones file {path} must hold a mapping (zones, lines, masks)")
    return data


@analytics_app.command("enable")
def analytics_enable(
    camera: Annotated[str, typer.Argument(help="Camera ID")],
    zones: Annotated[Path | None, typer.Option("--zones", help="Zones file (YAML/JSON); kept if not given")] = None,
    no_zones: Annotated[bool, typer.Option("--no-zones", help="Remove the camera's zones")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Analyse a camera's substream continuously while `vigil serve` runs."""
    from vigil.analytics.settings import set_analytics
    from vigil.cli_common import open_instance

    kw = {"zones": None} if no_zones else {"zones": _zones_doc(zones)} if zones else {}
    v = open_instance(db, home)
    with v.db.session() as s:
        row = set_analytics(s, camera, enabled=True, actor="cli", scope=Scope.everything(), **kw)
        n = len((row.zones or {}).get("zones") or [])
    typer.echo(f"analytics enabled for {camera} ({n} zone(s)); `vigil serve` picks it up within a minute")


@analytics_app.command("disable")
def analytics_disable(
    camera: Annotated[str, typer.Argument(help="Camera ID")],
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """Stop analysing a camera (its zones are kept)."""
    from vigil.analytics.settings import set_analytics
    from vigil.cli_common import open_instance

    v = open_instance(db, home)
    with v.db.session() as s:
        set_analytics(s, camera, enabled=False, actor="cli", scope=Scope.everything())
    typer.echo(f"analytics disabled for {camera}")


@analytics_app.command("list")
def analytics_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOpt = None,
    home: HomeOpt = None,
) -> None:
    """List the cameras with an analytics setting."""
    from vigil.analytics.settings import list_settings, setting_json
    from vigil.cli_common import open_instance

    v = open_instance(db, home)
    with v.db.session() as s:
        rows = [setting_json(r) for r in list_settings(s, Scope.everything())]
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False))
        return
    for r in rows:
        z = r["zones"] or {}
        typer.echo(f"{r['camera_id']}  {'enabled ' if r['enabled'] else 'disabled'}  "
                   f"{len(z.get('zones') or [])} zone(s) {len(z.get('lines') or [])} line(s)  "
                   f"by {r['updated_by'] or '-'} {r['updated_at']:%Y-%m-%d %H:%M}")
    if not rows:
        typer.echo("no camera has analytics settings")
