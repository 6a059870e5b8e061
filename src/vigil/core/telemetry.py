"""The process's own operating figures: probes, the recorder, and failures per kind of background job.

``/metrics`` serves them beside the HTTP figures. One :class:`Telemetry` per process, built on first
use (never at import): probes, recorders and job runners of a ``vigil serve`` all count into it.
Every label takes values from a small fixed set (probe outcome and reason, job kind), never an ID.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["JOB_KINDS", "Telemetry", "telemetry"]

#: the kinds of background work whose failures are counted (``vigil_job_errors_total{kind}``)
JOB_KINDS = ("plan", "city", "import", "retention", "health")
_PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Telemetry:
    """Counters and histograms of the domain work (its own registry, so ``/metrics`` can add it)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = reg = registry or CollectorRegistry()
        self.probes = Counter("vigil_probes", "camera probes done, by outcome (online or down)", ["result"],
                              registry=reg)
        self.probe_failures = Counter("vigil_probe_failures", "camera probes that found the camera down, by reason",
                                      ["reason"], registry=reg)
        self.probe_seconds = Histogram("vigil_probe_seconds", "time one camera probe took (retries included)",
                                       buckets=_PROBE_BUCKETS, registry=reg)
        self.segments = Counter("vigil_recorder_segments", "recording segments written and indexed", registry=reg)
        self.recorder_restarts = Counter("vigil_recorder_restarts", "recorder sessions started again (reconnects)",
                                         registry=reg)
        self.recorder_errors = Counter("vigil_recorder_errors", "recorder failures: a session that raised, a write "
                                       "error, a recorder task that died", ["kind"], registry=reg)
        self.job_errors = Counter("vigil_job_errors", "background jobs that failed, by kind", ["kind"], registry=reg)
        for kind in JOB_KINDS:  # every kind is exported from the start (0), so a rate() sees its first error
            self.job_errors.labels(kind)
        for result in ("online", "down"):
            self.probes.labels(result)

    def probed(self, *, ok: bool, reason: str, seconds: float) -> None:
        """One probe's outcome."""
        self.probes.labels("online" if ok else "down").inc()
        if not ok:
            self.probe_failures.labels(reason or "unknown").inc()
        self.probe_seconds.observe(max(0.0, seconds))

    def job_failed(self, kind: str) -> None:
        """A background job of ``kind`` failed: one of :data:`JOB_KINDS`, or a periodic pass's fixed name."""
        self.job_errors.labels(kind).inc()


_lock = threading.Lock()
_telemetry: Telemetry | None = None


def telemetry() -> Telemetry:
    """The process's :class:`Telemetry` (created on the first call)."""
    global _telemetry
    with _lock:
        if _telemetry is None:
            _telemetry = Telemetry()
        return _telemetry
