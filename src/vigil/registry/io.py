"""Bulk import and export of the registry: the public surface.

Imports read CSV (UTF-8, with or without BOM) for every kind, and GeoJSON for regions
(outlines), sites (polygons) and cameras (points). They upsert, check every row before writing anything,
and reject a bad file as a whole with every bad row listed. The columns are documented
in ``docs/formats.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from vigil.registry.io_cameras import CAMERA_COLUMNS, CAMERA_FIELDS, import_cameras
from vigil.registry.io_common import ImportReport, Progress, Source
from vigil.registry.io_export import EXPORT_FORMATS, ExportFormat, export_cameras
from vigil.registry.io_export_regions import REGION_EXPORT_FORMATS, RegionExportFormat, export_regions
from vigil.registry.io_registry import (
    MODEL_COLUMNS,
    REGION_COLUMNS,
    SITE_COLUMNS,
    import_models,
    import_regions,
    import_sites,
)

__all__ = [
    "CAMERA_COLUMNS",
    "CAMERA_FIELDS",
    "EXPORT_FORMATS",
    "IMPORTERS",
    "MODEL_COLUMNS",
    "REGION_COLUMNS",
    "REGION_EXPORT_FORMATS",
    "SITE_COLUMNS",
    "ExportFormat",
    "ImportReport",
    "Progress",
    "RegionExportFormat",
    "Source",
    "export_cameras",
    "export_regions",
    "import_cameras",
    "import_models",
    "import_regions",
    "import_sites",
]

#: The importable kinds, in the order a fresh instance needs them.
IMPORTERS: dict[str, Callable[..., ImportReport]] = {"regions": import_regions, "sites": import_sites, "models": import_models, "cameras": import_cameras}
