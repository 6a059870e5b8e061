"""``vigil plan city --budget YUAN --out DIR (--areas FOLDER | --buildings FILE --region CODE)``: a thin shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.core.errors import InputError
from vigil.coverage.progress import stage_name
from vigil.i18n import cli_language, translator

__all__ = ["city"]

console = Console()
Opt = typer.Option


def _steps(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--steps: expected shares such as 0.25,0.5,1, got {text!r}") from None


def _progress(stage: str, fraction: float) -> None:
    console.print(f"{stage_name(stage, translator(cli_language.lang)):>8} {100 * fraction:5.1f} %")


def city(budget: Annotated[float, Opt(help="The city budget in yuan")],
         out: Annotated[Path, Opt("--out", help="Folder for the city report (report.zh.html, report.en.pdf...)")],
         areas: Annotated[Path | None, Opt(help="A folder of areas: one site per file or sub-folder")] = None,
         buildings: Annotated[Path | None, Opt(help="Building layer (file or folder) for the registry's sites")] = None,
         region: Annotated[str | None, Opt(help="Region code: plan its registry sites and record the plan")] = None,
         level: Annotated[str, Opt(help="Required level (e.g. detect, observe) or a PPM")] = "observe",
         profile: Annotated[str, Opt(help="dori2015 or iec2025")] = "dori2015",
         spacing: Annotated[float, Opt(help="Target spacing in metres")] = 5.0,
         steps: Annotated[str | None, Opt(help="Shares of each site's possible gain to price, e.g. "
                                               "0.25,0.5,0.75,0.9,1")] = None,
         time_limit: Annotated[float, Opt("--time-limit", help="Solver seconds per breakpoint")] = 2.0,
         solver: Annotated[str, Opt(help="auto, highs, cpsat or greedy")] = "auto",
         workers: Annotated[int, Opt(help="Processes pricing sites in parallel")] = 1,
         catalog: Annotated[Path | None, Opt(help="Camera catalog YAML (default: shipped catalog)")] = None,
         name: Annotated[str, Opt(help="Name of the plan")] = "",
         db: DbOpt = None, home: HomeOpt = None) -> None:
    """Allocate one budget across every site (a folder of areas, or the registry's sites of a region)."""
    # deferred: the planner pulls in numpy, shapely and scipy, too heavy for every `vigil` start-up
    from vigil.coverage.city import CityOptions, run_city
    from vigil.coverage.city_service import plan_region
    from vigil.coverage.city_sites import sites_from_folder

    if (areas is None) == (buildings is None):
        raise InputError("give either --areas FOLDER or --buildings FILE with --region CODE")
    if buildings is not None and not region:
        raise InputError("--buildings needs --region: the region whose registry sites are planned")
    if areas is not None and region:
        raise InputError("--region plans registry sites: use it with --buildings, not with --areas")
    opts = CityOptions(budget=budget, name=name, level=level, profile=profile, spacing=spacing,
                       **({"steps": _steps(steps)} if steps else {}),
                       point_time_limit=time_limit, solver=solver, workers=workers, catalog=catalog)
    opts.check()
    if areas is not None:
        sites, skipped = sites_from_folder(areas)
        s = run_city(sites, opts, out, progress=_progress, skipped=skipped).summary
    else:
        v = open_instance(db, home)
        rec = plan_region(v, scope=Scope.everything(), region_code=region or "", buildings=buildings,  # type: ignore[arg-type]
                          opts=opts, actor="cli", out=out, progress=_progress)
        s = rec.summary
        console.print(f"recorded as plan {rec.id}")
    gap = "—" if s["gap"] is None else f"{100 * s['gap']:.1f} %"
    console.print(f"[bold]{s['sites']}[/] sites: coverage {100 * s['coverage_before']:.1f} % → [bold]"
                  f"{100 * s['coverage_after']:.1f} %[/] (weighted) with {s['cameras_new']} new cameras for "
                  f"{s['cost_new']:,.0f} of {s['budget']:,.0f} yuan; ×{s['ratio_to_uniform']} the gain of a uniform "
                  f"split; bound gap ≤ {gap}. Report: {out / 'report.zh.html'}, {out / 'report.en.pdf'}", soft_wrap=True)
    for k in s.get("skipped", []):
        console.print(f"skipped {k['name']}: {k['reason']}")
