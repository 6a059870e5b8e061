"""Coverage kept current: re-measure a site when the cameras around it change, and keep the history.

A site is *tracked* once a plan that can be re-measured (:func:`~vigil.coverage.service.remeasure_files`: it
kept its inputs, :attr:`PlanRecord.inputs`, and their files are still there) measured it. The
:class:`CoverageRefresher` of ``vigil serve`` watches the registry with one aggregate query per pass;
when cameras changed (installed, put in service, moved, re-aimed, retired or deleted, through the API,
an import or anything else) it fingerprints the installed and in-service cameras around each tracked
site (its polygon's box plus :data:`MARGIN_DEG`). A site whose fingerprint changed is queued, and
re-measured once it has been quiet for ``debounce_s`` (a burst of edits is one measurement): targets
from the plan's inputs, the registry's in-service cameras of the plan's region, the same visibility
test as the planner. Each measurement is a new :class:`SiteCoverage` row (``source`` "refresh", with
its camera count), so the coverage-rate KPI follows the newest and keeps a trend.

A plan's own rows carry no fingerprint: the first pass adopts the cameras of then as their baseline.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import VigilError
from vigil.core.models import Camera, Lifecycle, Site
from vigil.core.periodic import Periodic
from vigil.coverage.models import PlanRecord, SiteCoverage
from vigil.coverage.service import remeasure_files

__all__ = ["MARGIN_DEG", "CoverageRefresher", "TrackedSite", "measure_sites", "refresh_sites", "tracked_sites"]

log = logging.getLogger("vigil.coverage.current")
#: cameras this far (degrees, about 500 m) around a site's box can see into it
MARGIN_DEG = 0.005
_WATCHED = (Lifecycle.INSTALLED.value, Lifecycle.IN_SERVICE.value)


@dataclass(frozen=True)
class TrackedSite:
    """A site a plan measured: its box, the plan whose inputs re-measure it, its newest row."""

    site_id: int
    name: str
    region_code: str
    bbox: tuple[float, float, float, float]
    plan_id: int
    plan_region: str
    level: str
    inputs: dict[str, Any]
    last_row: int
    last_fingerprint: str | None


def measure_sites(req: Any, existing: list[Any]) -> dict[str, tuple[int, float]]:
    """``{community: (targets, coverage)}`` of a plan request's area seen by ``existing`` cameras only."""
    # the planner's own reading of its inputs, so a refresh measures exactly what a plan measures
    from vigil.coverage.candidates import existing_poses
    from vigil.coverage.geo import Feature, load_buildings, load_points
    from vigil.coverage.optics import level_ppm, load_catalog
    from vigil.coverage.plan import _MUST_LEVEL, _inputs
    from vigil.coverage.targets import make_targets
    from vigil.coverage.visibility import Obstacles, coverage_matrix

    catalog = load_catalog(req.catalog)
    ppm = level_ppm(req.level, req.profile)
    must_ppm = max(level_ppm(req.must_level or _MUST_LEVEL.get(req.profile, "125"), req.profile), ppm)
    b, frame = load_buildings(req.area, crs=req.crs)
    roads, communities, area, must, _ = _inputs(req, frame, b)
    cams = [Feature(frame.local(f.geom), f.props) for f in existing]
    if req.existing:
        cams += load_points(req.existing, frame, crs=req.crs)
    targets = make_targets(b, communities, roads=roads, must_watch=must, spacing=req.spacing, ppm=ppm,
                           must_ppm=must_ppm, area=area)
    seen = np.zeros(len(targets), dtype=bool)
    if cams and len(targets):
        poses, specs = existing_poses(cams, catalog)
        a, _, _ = coverage_matrix(poses, targets, Obstacles.build(b.polygons, b.heights), specs, ppm,
                                  ir_limit=req.night)
        seen = np.asarray(a.sum(axis=1)).ravel() > 0
    out = {}
    for i, c in enumerate(communities):
        m = targets.community == i
        k = int(m.sum())
        if k:
            out[c.name] = (k, float(seen[m].sum() / k))
    return out


def tracked_sites(session: Session) -> list[TrackedSite]:
    """Sites whose newest plan row comes from a plan that can be re-measured (:func:`remeasure_files`)."""
    rn = func.row_number().over(partition_by=SiteCoverage.site_id,
                                order_by=(SiteCoverage.measured_at.desc(), SiteCoverage.id.desc()))
    planned = (select(SiteCoverage.site_id, SiteCoverage.plan_id, rn.label("rn"))
               .join(PlanRecord, PlanRecord.id == SiteCoverage.plan_id)
               .where(SiteCoverage.site_id.is_not(None), PlanRecord.inputs.is_not(None)).subquery())
    newest = (select(SiteCoverage.site_id, SiteCoverage.id, SiteCoverage.fingerprint, rn.label("rn"))
              .where(SiteCoverage.site_id.is_not(None)).subquery())
    rows = session.execute(
        select(Site, PlanRecord, newest.c.id, newest.c.fingerprint)
        .join(planned, (planned.c.site_id == Site.id) & (planned.c.rn == 1))
        .join(PlanRecord, PlanRecord.id == planned.c.plan_id)
        .join(newest, (newest.c.site_id == Site.id) & (newest.c.rn == 1))).all()
    can = {plan.id: bool(remeasure_files(plan.inputs)) for _, plan, _, _ in rows}
    return [TrackedSite(site.id, site.name, site.region_code, _bbox(site), plan.id, plan.region_code or "",
                        plan.level, plan.inputs or {}, row_id, fp) for site, plan, row_id, fp in rows if can[plan.id]]


def _bbox(site: Site) -> tuple[float, float, float, float]:
    if site.geometry:
        with contextlib.suppress(Exception):  # a broken polygon falls back to the site's point
            x0, y0, x1, y1 = shape(site.geometry).bounds
            return x0 - MARGIN_DEG, y0 - MARGIN_DEG, x1 + MARGIN_DEG, y1 + MARGIN_DEG
    lon, lat = site.lon or 0.0, site.lat or 0.0
    return lon - MARGIN_DEG, lat - MARGIN_DEG, lon + MARGIN_DEG, lat + MARGIN_DEG


class _Cameras:
    """The installed and in-service cameras as arrays, for fingerprints by box."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(Camera.id, Camera.lon, Camera.lat, Camera.height_m, Camera.heading_deg,
                                      Camera.tilt_deg, Camera.model_id, Camera.lifecycle)
                               .where(Camera.lifecycle.in_(_WATCHED)).order_by(Camera.id)).tuples().all()
        self.rows = rows
        self.xy = np.array([(r[1], r[2]) for r in rows], dtype=float).reshape(-1, 2)

    def around(self, bbox: tuple[float, float, float, float]) -> tuple[str, int]:
        """(fingerprint, in-service count) of the cameras in ``bbox``."""
        x0, y0, x1, y1 = bbox
        inside = np.flatnonzero((self.xy[:, 0] >= x0) & (self.xy[:, 0] <= x1) & (self.xy[:, 1] >= y0)
                                & (self.xy[:, 1] <= y1))
        h = hashlib.sha1(usedforsecurity=False)
        n = 0
        for i in inside.tolist():
            r = self.rows[i]
            h.update(repr((r[0], round(r[1], 7), round(r[2], 7), r[3], r[4], r[5], r[6], r[7])).encode())
            n += r[7] == Lifecycle.IN_SERVICE.value
        return h.hexdigest(), n


def refresh_sites(session: Session, sites: Iterable[TrackedSite], cams: _Cameras) -> list[SiteCoverage]:
    """Re-measure ``sites`` (grouped by plan: one measurement per area) and add their history rows."""
    from vigil.coverage.apply import registry_cameras
    from vigil.coverage.service import request_from_inputs

    by_plan: dict[int, list[TrackedSite]] = {}
    for t in sites:
        by_plan.setdefault(t.plan_id, []).append(t)
    out = []
    for group in by_plan.values():
        req = request_from_inputs(group[0].inputs)
        existing = registry_cameras(session, req.area, scope=Scope.of([group[0].plan_region]))
        measured = measure_sites(req, existing)
        for t in group:
            if t.name not in measured:
                continue
            fp, n = cams.around(t.bbox)
            k, cov = measured[t.name]
            row = SiteCoverage(plan_id=None, region_code=t.region_code, site_id=t.site_id, site_name=t.name[:200],
                               level=t.level, targets=k, coverage=cov, source="refresh", cameras=n, fingerprint=fp)
            session.add(row)
            out.append(row)
    session.flush()
    return out


class CoverageRefresher:
    """Re-measure tracked sites in the background when the cameras around them change (debounced)."""

    def __init__(self, v: Vigil, *, poll_s: float = 2.0, debounce_s: float = 10.0) -> None:
        self.vigil, self.poll_s, self.debounce_s = v, poll_s, debounce_s
        self._seen: tuple[Any, ...] | None = None
        self._pending: dict[int, tuple[str, float]] = {}  # site -> (fingerprint, when it was last seen changing)
        self._broken: set[int] = set()  # plans whose input files are gone
        self._loop = Periodic(self.refresh_once, interval=poll_s, name="vigil-coverage-refresh")

    async def start(self) -> None:
        """Start the passes on the running event loop."""
        await self._loop.start()

    async def stop(self) -> None:
        """Stop the passes."""
        await self._loop.stop()

    def refresh_once(self, *, now: float | None = None) -> list[int]:
        """One pass: queue the sites whose cameras changed, re-measure those quiet for the debounce time.

        Returns the ids of the sites re-measured.
        """
        now = time.monotonic() if now is None else now
        with self.vigil.db.session() as s:
            seen = (*s.execute(select(func.count(), func.max(Camera.updated_at), func.sum(Camera.version))).one(),
                    *s.execute(select(func.count(), func.max(SiteCoverage.id))).one())
            if seen == self._seen and not self._pending:
                return []
            self._seen = seen
            cams = _Cameras(s)
            tracked = {t.site_id: t for t in tracked_sites(s) if t.plan_id not in self._broken}
            for t in tracked.values():
                self._queue(s, t, cams, now)
            due = [tracked[i] for i, (_, at) in self._pending.items() if i in tracked and now - at >= self.debounce_s]
            for t in due:
                self._pending.pop(t.site_id, None)
            try:
                rows = refresh_sites(s, due, cams)
            except (OSError, ValueError, VigilError) as exc:  # the plan's input files are gone or unreadable
                log.warning("coverage of %s cannot be re-measured: %s", [t.name for t in due], exc)
                self._broken |= {t.plan_id for t in due}
                return []
            return [r.site_id for r in rows if r.site_id is not None]

    def _queue(self, s: Session, t: TrackedSite, cams: _Cameras, now: float) -> None:
        fp, _ = cams.around(t.bbox)
        if t.last_fingerprint is None:  # a plan's row: the cameras of now are its baseline
            row = s.get(SiteCoverage, t.last_row)
            if row is not None:
                row.fingerprint = fp
            return
        if fp == t.last_fingerprint:
            self._pending.pop(t.site_id, None)
        elif self._pending.get(t.site_id, ("", 0.0))[0] != fp:
            self._pending[t.site_id] = (fp, now)  # changed again: the quiet time starts over
