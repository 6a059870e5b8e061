"""``vigil plan AREA --out DIR [options]`` and ``vigil plan apply DIR``: thin shells over the library.

``vigil plan AREA ...`` is routed to the ``run`` command, so ``vigil plan run AREA ...`` works too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.core.errors import InputError
from vigil.coverage.city_cli import city
from vigil.i18n import cli_language, translator

if TYPE_CHECKING:
    from typer._click.core import Context  # typer vendors click: TyperGroup.parse_args takes this Context

console = Console()


class _PlanGroup(TyperGroup):
    """A group whose first argument, when it is not a sub-command, is the AREA of ``run``."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_PlanGroup, no_args_is_help=True,
                  help="Coverage planning: find the blind spots and choose new cameras (vigil plan AREA --out DIR).")

Opt = typer.Option


@app.command("run")
def run(area: Annotated[Path, typer.Argument(help="Building footprints: OSM XML/PBF, GeoJSON or GeoPackage")],
        out: Annotated[Path, Opt("--out", help="Folder for report.html, map.png, plan.geojson...")],
        roads: Annotated[Path | None, Opt(help="Roads and paths")] = None,
        boundary: Annotated[Path | None, Opt(help="Site and community boundaries")] = None,
        must_watch: Annotated[Path | None, Opt("--must-watch", help="Points such as entrances (stricter level)")] = None,
        existing: Annotated[str | None, Opt(help="Existing cameras: a file, or 'registry'")] = None,
        catalog: Annotated[Path | None, Opt(help="Camera catalog YAML (default: shipped catalog)")] = None,
        level: Annotated[str, Opt(help="Required level (e.g. detect, observe, recognise) or a PPM")] = "observe",
        must_level: Annotated[str | None, Opt("--must-level", help="Level at must-watch points (default 125 px/m)")] = None,
        profile: Annotated[str, Opt(help="dori2015 or iec2025")] = "dori2015",
        target: Annotated[float | None, Opt(help="Share of coverable targets to cover at least cost")] = None,
        budget: Annotated[float | None, Opt(help="Most to spend; alone: greatest coverage under it")] = None,
        k: Annotated[int, Opt("--k", help="Cameras per target (k-coverage, e.g. 2 for class-1 sites)")] = 1,
        spacing: Annotated[float, Opt(help="Target spacing in metres")] = 5.0,
        headings: Annotated[int, Opt(help="Headings per candidate site")] = 8,
        wall_spacing: Annotated[float, Opt("--wall-spacing", help="Metres between wall-mount sites")] = 10.0,
        pole_spacing: Annotated[float, Opt("--pole-spacing", help="Metres between pole sites along ways")] = 20.0,
        crs: Annotated[str | None, Opt(help="CRS of the input files when they lack one (e.g. EPSG:3857)")] = None,
        solver: Annotated[str, Opt(help="auto, highs, cpsat or greedy")] = "auto",
        time_limit: Annotated[float, Opt("--time-limit", help="MILP time limit in seconds")] = 60.0,
        gap: Annotated[float, Opt(help="Relative MILP gap to stop at")] = 1e-4,
        night: Annotated[bool, Opt("--night", help="Limit each camera to its IR range")] = False,
        eagle_eye: Annotated[bool, Opt("--eagle-eye", help="A town centre: add rooftop and tower high points "
                                       "(panoramic, PTZ tours counted by dwell time)")] = False,
        region: Annotated[str | None, Opt(help="Region code: record the plan in the database")] = None,
        db: DbOpt = None, home: HomeOpt = None) -> None:
    """Plan new cameras for AREA and write the report into --out."""
    from vigil.coverage.optimize import SOLVERS
    from vigil.coverage.plan import PlanRequest, run_plan

    if solver not in SOLVERS:
        raise InputError("--solver must be auto, highs, cpsat or greedy")
    tgt = target if target is not None else (None if budget is not None else 1.0)
    req = PlanRequest(area=area, roads=roads, boundary=boundary, must_watch=must_watch,
                      existing=None if existing in (None, "registry") else Path(existing), catalog=catalog,
                      level=level, must_level=must_level, profile=profile, target=tgt, budget=budget, k=k,
                      spacing=spacing, headings=headings, wall_spacing=wall_spacing, pole_spacing=pole_spacing,
                      crs=crs, solver=solver, time_limit=time_limit, mip_gap=gap, night=night,
                      eagle_eye=eagle_eye, lang=cli_language.lang)
    cams: list[Any] = []
    if existing == "registry" or region:
        v = open_instance(db, home)
        if region:  # a map outside the region is refused before it is planned (vigil.registry.extent)
            from vigil.coverage.area_check import check_plan_area

            with v.db.session() as s:
                check_plan_area(s, region, area)
        if existing == "registry":
            from vigil.coverage.apply import registry_cameras

            scope = Scope.everything().narrowed(region) if region else Scope.everything()
            with v.db.session() as s:  # a recorded plan holds only cameras of its region
                cams = registry_cameras(s, area, scope=scope)
    with _progress(time_limit) as (prog, cb):
        res = run_plan(req, out, existing=cams, progress=cb)
    summary = res.summary
    if region:
        from vigil.coverage.apply import record_plan
        from vigil.coverage.service import request_inputs

        with v.db.session() as sess:
            rec = record_plan(sess, summary, out, region_code=region, created_by="cli", inputs=request_inputs(req))
            console.print(f"recorded as plan {rec.id}")
    _print_summary(summary, out)


def _progress(time_limit: float) -> Any:
    """One line per stage and the run's percent, as a plan job reports them (``vigil.coverage.progress``)."""
    from contextlib import contextmanager

    from vigil.coverage.progress import StageProgress, stage_name

    @contextmanager
    def cm() -> Any:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as prog:
            tasks: dict[str, Any] = {}
            track = StageProgress(time_limit=time_limit)

            def cb(stage: str, event: str) -> None:
                pct = track.update(stage, event)
                tr = translator(cli_language.lang)
                name = stage_name(stage, tr)
                if event == "start":
                    tasks[stage] = prog.add_task(tr.gettext("{stage} (from {percent} %)").format(
                        stage=name, percent=f"{pct:.0f}"), total=1)
                else:
                    prog.update(tasks[stage], completed=1, description=tr.gettext("{stage} (to {percent} %)").format(
                        stage=name, percent=f"{pct:.0f}"))

            yield prog, cb

    return cm()


def _print_summary(s: dict[str, Any], out: Path) -> None:
    gap = "—" if s["gap"] is None else f"{100 * s['gap']:.2f} %"
    console.print(f"[bold]{s['name']}[/]: {s['targets']} targets, {s['blind_spots']} blind spot(s); coverage "
                  f"{100 * s['coverage_before']:.1f} % → [bold]{100 * s['coverage_after']:.1f} %[/] with "
                  f"[bold]{s['cameras_new']}[/] new cameras (cost {s['cost_new']:g}); solver {s['solver']} "
                  f"({s['status']}, gap {gap}). Report: {out / 'report.html'}", soft_wrap=True)
    hp = s.get("high_points")
    if hp:
        chk = hp["los_check"]
        console.print(f"high points: {len(hp['chosen'])} chosen of {hp['sites']} rooftop/tower sites "
                      f"({', '.join(r['model'] + ' ' + r['id'] for r in hp['chosen']) or 'none'}); line of sight "
                      f"confirmed for {chk['confirmed']}/{chk['pairs']} claimed pairs ({100 * chk['agreement']:.2f} %)")


@app.command("apply")
def apply(out: Annotated[Path, typer.Argument(help="A plan folder written by `vigil plan`")],
          region: Annotated[str, Opt(help="Region code of the new cameras")],
          site: Annotated[int | None, Opt(help="Site id the cameras belong to")] = None,
          actor: Annotated[str, Opt(help="Name recorded in the audit log")] = "cli",
          db: DbOpt = None, home: HomeOpt = None) -> None:
    """Put the plan's new cameras into the registry as planned cameras with GB/T 28181 IDs."""
    from vigil.coverage.apply import apply_plan

    v = open_instance(db, home)
    with v.db.session() as s:
        ids = apply_plan(s, out, region_code=region, actor=actor, site_id=site)
    console.print(f"{len(ids)} planned camera(s) added" + (f": {ids[0]} … {ids[-1]}" if ids else ""))


app.command("city")(city)
