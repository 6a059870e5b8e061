"""Assembly of multi-part Catalog responses (GB/T 28181-2022 Annex M), keyed by (DeviceID, SN).

Parts may come in any order, repeat, carry broken items, or never come. A query ends when SumNum
distinct items are in, or when no part has come for ``idle`` seconds; either way the result keeps
every item that parsed and says how many are missing and how many were unreadable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.gb28181.manscdp import CatalogItem, CatalogPart

__all__ = ["CatalogAssembler", "CatalogResult"]

MAX_ITEMS = 100_000


@dataclass
class CatalogResult:
    """A finished (or given-up) catalog query."""

    device_id: str
    sn: int
    sum_num: int
    items: dict[str, CatalogItem] = field(default_factory=dict)
    parts: int = 0
    bad_items: int = 0
    bad_parts: int = 0
    complete: bool = False

    @property
    def missing(self) -> int:
        return max(0, self.sum_num - len(self.items))


@dataclass
class _Pending:
    result: CatalogResult
    touched: float


class CatalogAssembler:
    """Collects parts per (device, SN); at most ``limit`` queries open at once."""

    def __init__(self, *, idle: float = 10.0, limit: int = 1024, clock: Callable[[], float] = time.monotonic):
        self._idle = idle
        self._limit = limit
        self._clock = clock
        self._open: dict[tuple[str, int], _Pending] = {}

    def expect(self, device_id: str, sn: int) -> bool:
        """Open a query; False when too many are open already."""
        if len(self._open) >= self._limit:
            return False
        self._open[(device_id, sn)] = _Pending(CatalogResult(device_id, sn, 0), self._clock())
        return True

    def is_open(self, device_id: str, sn: int) -> bool:
        return (device_id, sn) in self._open

    def add(self, part: CatalogPart) -> CatalogResult | None:
        """Add a part of an open query; returns the result once it is complete."""
        key = (part.device_id, part.sn)
        pending = self._open.get(key)
        if pending is None:
            return None
        r = pending.result
        pending.touched = self._clock()
        r.parts += 1
        r.bad_items += part.bad_items
        r.sum_num = max(r.sum_num, min(part.sum_num, MAX_ITEMS))
        for item in part.items:
            if len(r.items) < MAX_ITEMS:
                r.items[item.device_id] = item
        if r.sum_num and len(r.items) >= r.sum_num:
            r.complete = True
            del self._open[key]
            return r
        return None

    def bad_part(self, device_id: str, sn: int) -> None:
        """A part of an open query that could not be read at all."""
        pending = self._open.get((device_id, sn))
        if pending is not None:
            pending.result.bad_parts += 1
            pending.touched = self._clock()

    def expire(self) -> list[CatalogResult]:
        """Give up on queries idle for longer than ``idle``: their partial results."""
        now = self._clock()
        done = [k for k, p in self._open.items() if now - p.touched > self._idle]
        return [self._open.pop(k).result for k in done]
