"""Collects every table declared by the core and the capability packages into one metadata."""

from __future__ import annotations

import importlib

from vigil.core.models import Base

# Capability packages that declare tables. Import is by name so the core does not
# depend on them at import time; a missing package is simply skipped.
_TABLE_MODULES = (
    "vigil.health.models",
    "vigil.video.models",
    "vigil.analytics.models",
    "vigil.coverage.models",
    "vigil.federation.models",
    "vigil.notify.models",
    "vigil.gb28181.models",
    "vigil.worker.models",
    "vigil.centre.models",
)

for _name in _TABLE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on which packages exist
        if exc.name != _name:
            raise

metadata = Base.metadata
