"""The prober: is each camera online? One sweep probes many cameras with bounded concurrency.

* :func:`probe_targets` – pure: probe a list of :class:`ProbeTarget` (RTSP OPTIONS + DESCRIBE with
  digest auth, and ONVIF ``GetDeviceInformation`` where an ONVIF URL is given); no database.
* :func:`sweep` – probe the in-service cameras of the registry (optionally one region subtree) and
  persist their debounced state through :func:`vigil.health.state.apply_results`.

Each camera gets its own timeout, and fast failures (refused, protocol, unreachable) are retried
with exponential backoff and jitter; a slow or broken camera only ever holds one of the
``concurrency`` slots, so it never stalls the sweep.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import resource
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vigil.core.errors import InputError
from vigil.core.models import Camera, utcnow
from vigil.core.telemetry import telemetry
from vigil.health.rtsp import REASONS, probe_rtsp
from vigil.health.state import StateChange, apply_results
from vigil.registry.streams import in_service_population, redact_url, validate_stream_url

if TYPE_CHECKING:
    from vigil.core.context import Vigil

__all__ = ["REASONS", "ProbeResult", "ProbeTarget", "SweepReport", "load_targets", "probe_guarded", "probe_one",
           "probe_onvif", "probe_targets", "public_url", "sweep", "targets_from_rows"]

_RETRYABLE = {"refused", "protocol", "unreachable"}


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """What to probe: an RTSP URL, credentials, an optional ONVIF device URL; ``key`` names the camera.

    ``allow_basic`` lets the prober answer a Basic challenge (the password then crosses in clear).
    """

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    onvif_url: str = ""
    key: str = ""
    timeout: float | None = None
    allow_basic: bool = False


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One camera's answer: ``state`` is ``online`` or ``down``; ``reason`` says why it is down."""

    key: str
    url: str
    state: str
    reason: str
    ms: float
    detail: str = ""
    onvif: str = ""  # "", "online" or a down reason of the ONVIF device service
    device: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.state == "online"

    @property
    def label(self) -> str:
        """``online`` or the down reason (the ``state`` of ``vigil probe --json``)."""
        return "online" if self.ok else self.reason

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "state": self.label, "ms": round(self.ms, 1)}
        if self.key and self.key != self.url:
            out["camera"] = self.key
        if self.detail:
            out["detail"] = self.detail
        if self.onvif:
            out["onvif"] = self.onvif
        if self.device:
            out["device"] = self.device
        return out


@functools.lru_cache(maxsize=1 << 16)
def public_url(url: str) -> str:
    """``url`` without user:password (safe to print and log): the registry's :func:`redact_url`.

    Cached: a sweep asks again for every camera's same URL (the RTSP client caches its split likewise).
    """
    return redact_url(url)


@functools.cache
def _onvif() -> Any:
    """Import onvif-zeep-async once, without letting its import-time ``logging.basicConfig`` take effect."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)  # basicConfig does nothing when the root logger already has a handler
    try:
        import onvif.client
    finally:
        root.removeHandler(guard)
    return onvif.client


async def probe_onvif(url: str, username: str, password: str, *, timeout: float = 3.0) -> tuple[str, dict[str, str]]:
    """ONVIF ``GetDeviceInformation`` at the device-service ``url`` (onvif-zeep-async, WS-Security digest).

    Returns ``("", device info)`` or ``(down reason, {})``; never raises for the device's misbehaviour.
    """
    client = _onvif()
    from onvif.definition import SERVICES
    from onvif.exceptions import ONVIFAuthError
    from onvif.util import is_auth_error

    d = SERVICES["devicemgmt"]
    svc = client.ONVIFService(url, username, password, str(Path(client._WSDL_PATH) / d["wsdl"]), encrypt=True,
                              no_cache=True, binding_name=f"{{{d['ns']}}}{d['binding']}")
    try:
        async with asyncio.timeout(timeout):
            await svc.setup()
            info = await svc.GetDeviceInformation()
        return "", {k: str(info[k]) for k in ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber")
                    if info[k] is not None}
    except TimeoutError:
        return "timeout", {}
    except ONVIFAuthError:
        return "auth", {}
    except Exception as exc:  # zeep faults, aiohttp errors, malformed XML...
        if is_auth_error(exc):
            return "auth", {}
        text = f"{type(exc).__name__} {exc}".lower()
        return ("refused" if "refused" in text or "connect call failed" in text else "protocol"), {}
    finally:
        await svc.close()


async def probe_one(target: ProbeTarget, *, timeout: float = 3.0, retries: int = 1,
                    backoff: float = 0.2) -> ProbeResult:
    """Probe one camera; fast failures are retried ``retries`` times with exponential backoff."""
    t0 = time.perf_counter()
    limit = target.timeout or timeout
    for attempt in range(retries + 1):
        ans = await probe_rtsp(target.url, target.username, target.password, timeout=limit,
                               allow_basic=target.allow_basic)
        if ans.online or ans.reason not in _RETRYABLE or attempt == retries:
            break
        await asyncio.sleep(backoff * (2 ** attempt) * (1 + random.random() / 2))
    onvif, device = "", None
    if target.onvif_url and ans.reason not in ("timeout", "unreachable"):  # do not wait twice on a dead host
        try:
            validate_stream_url(target.onvif_url, kind="onvif", field="onvif_url")  # never a file:// for zeep
        except InputError:
            onvif = "unreachable"
        else:
            reason, info = await probe_onvif(target.onvif_url, target.username, target.password, timeout=limit)
            onvif, device = reason or "online", info or None
    ms = (time.perf_counter() - t0) * 1000
    telemetry().probed(ok=ans.online, reason=ans.reason, seconds=ms / 1000)
    url = public_url(target.url)
    return ProbeResult(target.key or url, url,
                       "online" if ans.online else "down", ans.reason, ms, ans.detail, onvif, device)


async def probe_guarded(target: ProbeTarget, *, timeout: float = 3.0, retries: int = 1,
                        backoff: float = 0.2) -> ProbeResult:
    """:func:`probe_one` that never raises: a bug reports this camera as unreadable instead of stopping a sweep."""
    try:
        return await probe_one(target, timeout=timeout, retries=retries, backoff=backoff)
    except Exception as exc:
        url = public_url(target.url)
        return ProbeResult(target.key or url, url, "down", "protocol", 0.0, f"probe error: {type(exc).__name__}")


async def probe_targets(targets: Sequence[ProbeTarget], *, concurrency: int = 500, timeout: float = 3.0,
                        retries: int = 1, backoff: float = 0.2) -> list[ProbeResult]:
    """Probe every target, at most ``concurrency`` at a time; results come back in input order."""
    results: list[ProbeResult | None] = [None] * len(targets)
    todo = iter(enumerate(targets))
    concurrency = min(concurrency, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)  # leave descriptors spare

    async def worker() -> None:
        for i, t in todo:
            results[i] = await probe_guarded(t, timeout=timeout, retries=retries, backoff=backoff)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(targets))))))
    return [r for r in results if r is not None]


@dataclass
class SweepReport:
    """What one sweep did: counts, the state changes it stored, every result."""

    started_at: datetime
    duration_s: float
    probed: int
    online: int
    down: dict[str, int]
    skipped: int = 0
    changes: list[StateChange] = field(default_factory=list)
    results: list[ProbeResult] = field(default_factory=list)


def load_targets(vigil: Vigil, *, region: str | None = None,
                 ids: Iterable[str] | None = None) -> tuple[list[ProbeTarget], int]:
    """Probe targets of in-service cameras (of ``region``'s subtree, or just ``ids``), in one query.

    Returns ``(targets, skipped)``: cameras without any stream URL are skipped and counted.
    """
    q = select(Camera.id, Camera.main_url, Camera.sub_url, Camera.username, Camera.password_enc,
               Camera.onvif_url, Camera.allow_basic_auth).where(in_service_population(region))
    wanted = None if ids is None else sorted(set(ids))
    rows: list[Any] = []
    with vigil.db.session() as s:
        if wanted is None:
            rows = list(s.execute(q.order_by(Camera.id)).all())
        else:
            for i in range(0, len(wanted), 500):
                rows += s.execute(q.where(Camera.id.in_(wanted[i:i + 500])).order_by(Camera.id)).all()
    targets, skipped = [], 0
    for cid, main, sub, user, pw_enc, onvif, basic in rows:
        url = main or sub
        if not url:
            skipped += 1
            continue
        targets.append(ProbeTarget(url, user or "", vigil.box.open(pw_enc), onvif or "", cid, allow_basic=basic))
    return targets, skipped


async def sweep(vigil: Vigil, *, region: str | None = None, concurrency: int = 500, timeout: float = 3.0,
                now: datetime | None = None, down_after: int = 2, up_after: int = 2) -> SweepReport:
    """Probe the in-service cameras (of ``region``'s subtree) and store their debounced state."""
    started = now or utcnow()
    t0 = time.perf_counter()
    targets, skipped = await asyncio.to_thread(functools.partial(load_targets, vigil, region=region))
    results = await probe_targets(targets, concurrency=concurrency, timeout=timeout)

    def store() -> list[StateChange]:
        with vigil.db.session() as s:
            return apply_results(s, results, now=started, down_after=down_after, up_after=up_after)

    changes = await asyncio.to_thread(store)
    down = Counter(r.reason for r in results if not r.ok)
    return SweepReport(started, time.perf_counter() - t0, len(results), len(results) - down.total(), dict(down),
                       skipped, changes, results)


def targets_from_rows(rows: Iterable[dict[str, str]]) -> list[ProbeTarget]:
    """Targets from CSV-like rows with ``url``, ``username``, ``password`` (and optional ``onvif_url``)."""
    return [ProbeTarget((r.get("url") or "").strip(), (r.get("username") or "").strip(), r.get("password") or "",
                        (r.get("onvif_url") or "").strip()) for r in rows if (r.get("url") or "").strip()]
