"""``vigil import ...`` and ``vigil export ...``: thin shells over :mod:`vigil.registry.io`."""

from __future__ import annotations

import getpass
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.registry.io import EXPORT_FORMATS, IMPORTERS, ImportReport, export_cameras, export_regions

__all__ = ["export_app", "import_app"]

import_app = typer.Typer(help="Bulk-import regions, sites, camera models or cameras (CSV; GeoJSON for regions, "
                              "sites and cameras). Columns: docs/formats.md.", no_args_is_help=True)
export_app = typer.Typer(help="Export the registry.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)
_BAR_FROM = 2000  # rows; smaller files finish before a bar would be seen

FileArg = Annotated[Path, typer.Argument(help="CSV (UTF-8) or GeoJSON file", show_default=False)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check every row and report counts; store nothing")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class _Bar:
    """A Rich progress bar that appears only for long imports on a terminal."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.bar: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < _BAR_FROM or not err.is_terminal:
            return
        if self.bar is None:
            self.bar = self.stack.enter_context(Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True))
        if stage not in self.tasks:
            label = "checking rows" if stage == "check" else "writing"
            self.tasks[stage] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def _summary(rep: ImportReport) -> None:
    what = "would be" if rep.dry_run else ""
    line = (f"[bold]{rep.kind}[/]: {rep.rows} row(s) from {rep.source}: {rep.created} {what} created, "
            f"{rep.updated} {what} updated, {rep.unchanged} unchanged").replace("  ", " ")
    if rep.generated_ids:
        line += f"; {rep.generated_ids} GB/T 28181 ID(s) generated"
    out.print(line + f" in {rep.seconds:.2f} s", soft_wrap=True)
    if rep.dry_run:
        out.print("[yellow]dry run: nothing was stored[/]")


def _run_import(kind: str, file: Path, dry_run: bool, db: str | None, home: str | None) -> None:
    v = open_instance(db, home)
    kwargs: dict[str, Any] = {"box": v.box} if kind == "cameras" else {}
    with ExitStack() as stack, v.db.session() as s:
        rep = IMPORTERS[kind](s, file, actor=_actor(), scope=Scope.everything(), dry_run=dry_run,
                              progress=_Bar(stack), **kwargs)
    _summary(rep)


_HELP = {
    "regions": "Regions: code,name,level,parent[,lon,lat] (rows in any order), or GeoJSON with outlines.",
    "sites": "Sites: name,region,kind,protection_class,sensitive,lon,lat,geometry (or GeoJSON polygons).",
    "models": "Camera models: name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost.",
    "cameras": "Cameras: id,name,region,site,lon,lat,... (or GeoJSON points); an empty id is generated.",
}


def _import_command(kind: str) -> Any:
    def command(file: FileArg, dry_run: DryRun = False, db: DbOpt = None, home: HomeOpt = None) -> None:
        _run_import(kind, file, dry_run, db, home)

    command.__name__ = f"import_{kind}"
    return command


for _kind in IMPORTERS:
    import_app.command(_kind, help=_HELP[_kind])(_import_command(_kind))


@export_app.command("cameras")
def export_cameras_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, geojson or gpkg")] = "csv",
    region: Annotated[str | None, typer.Option(help="Only this region's subtree")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: stdout; "
                                                                     "gpkg: cameras.gpkg)")] = None,
    include_secrets: Annotated[bool, typer.Option("--include-secrets",
                                                  help="Include camera passwords in clear")] = False,
    db: DbOpt = None, home: HomeOpt = None,
) -> None:
    """Export cameras in the import's CSV columns, as GeoJSON points or as a GeoPackage layer."""
    fmt = fmt.lower()
    v = open_instance(db, home)
    with v.db.session() as s:
        data = export_cameras(s, scope=Scope.everything(), fmt=fmt, region=region,  # type: ignore[arg-type]
                              box=v.box if include_secrets else None,
                              include_secrets=include_secrets, actor=_actor())
    if out_file is None and fmt == "gpkg":
        out_file = Path("cameras" + EXPORT_FORMATS["gpkg"][1])
    _write_out(data, out_file)


def _write_out(data: bytes, out_file: Path | None) -> None:
    if out_file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    out_file.write_bytes(data)
    err.print(f"wrote {len(data):,} bytes to {out_file}")


@export_app.command("regions")
def export_regions_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, or geojson (with the outlines)")] = "csv",
    region: Annotated[str | None, typer.Option(help="Only this region's subtree")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: stdout)")] = None,
    db: DbOpt = None, home: HomeOpt = None,
) -> None:
    """Export regions in the import's columns (CSV), or as GeoJSON features whose geometry is the outline."""
    v = open_instance(db, home)
    with v.db.session() as s:
        data = export_regions(s, scope=Scope.everything(), fmt=fmt.lower(), region=region,  # type: ignore[arg-type]
                              actor=_actor())
    _write_out(data, out_file)
