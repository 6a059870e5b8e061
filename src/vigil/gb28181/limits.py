"""Bounded per-peer limits: a token bucket per source, and a bad-peer ledger that logs once per window."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["BadPeers", "RateLimiter"]

log = logging.getLogger("vigil.gb28181")


class RateLimiter:
    """``rate`` messages per second with bursts of ``burst`` per key; remembers at most ``limit`` keys."""

    def __init__(self, rate: float, burst: float, *, limit: int = 65_536,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._limit, self._clock = rate, burst, limit, clock
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable, cost: float = 1.0) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        ok = tokens >= cost
        self._buckets[key] = (tokens - cost if ok else tokens, now)
        if len(self._buckets) > self._limit:
            self._buckets.popitem(last=False)
        return ok

    def __len__(self) -> int:
        return len(self._buckets)


class BadPeers:
    """Counts bad messages per host; a host over ``threshold`` in ``window`` seconds is muted until it ends.

    Each host is logged at most once per window, so a flood cannot flood the log either.
    """

    def __init__(self, *, threshold: int = 20, window: float = 60.0, limit: int = 16_384,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold, self._window, self._limit, self._clock = threshold, window, limit, clock
        self._seen: OrderedDict[str, list[float]] = OrderedDict()  # host -> [window start, count, logged]
        self.logged = 0

    def _entry(self, host: str) -> list[float]:
        now = self._clock()
        e = self._seen.pop(host, None)
        if e is None or now - e[0] > self._window:
            e = [now, 0.0, 0.0]
        self._seen[host] = e
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return e

    def strike(self, host: str, reason: str) -> None:
        """Note one bad message from ``host``."""
        e = self._entry(host)
        e[1] += 1
        if not e[2]:
            e[2] = 1.0
            self.logged += 1
            log.warning("gb28181: bad message from %s: %s (further ones this minute are not logged)", host,
                        reason[:200])

    def muted(self, host: str) -> bool:
        e = self._seen.get(host)
        return e is not None and e[1] >= self._threshold and self._clock() - e[0] <= self._window

    def __len__(self) -> int:
        return len(self._seen)
