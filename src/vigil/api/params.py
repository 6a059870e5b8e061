"""Shared path and query parameter types with their bounds (so that the OpenAPI document states them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from vigil.registry.schemas import INT64_MAX, REGION_CODE

__all__ = ["INT64_MAX", "Offset", "RegionCode", "RowId"]

#: a stored row's integer ID: 1 .. 2^63-1 (larger numbers cannot name a row; 422, never an overflow)
RowId = Annotated[int, Path(ge=1, le=INT64_MAX)]
#: how many matching items to skip
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]
#: a GB/T 2260 region code in a path
RegionCode = Annotated[str, Path(pattern=REGION_CODE, description="GB/T 2260 code: 4, 6, 8 or 11 digits")]
