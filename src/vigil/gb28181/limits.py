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
    """Counts bad messages per source address (host, port) and per host.

    A source over ``threshold`` bad messages in ``window`` seconds is muted until the window ends; a
    whole host only over ``host_threshold`` (many devices share one NAT address, so one broken device
    must not silence its neighbours). Each source is logged at most once per window, so a flood cannot
    flood the log either. At most ``limit`` sources are remembered.
    """

    def __init__(self, *, threshold: int = 20, host_threshold: int = 2000, window: float = 60.0,
                 limit: int = 16_384, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold, self._host_threshold = threshold, host_threshold
        self._window, self._limit, self._clock = window, limit, clock
        self._seen: OrderedDict[Hashable, list[float]] = OrderedDict()  # key -> [window start, count, logged]
        self.logged = 0

    def _entry(self, key: Hashable) -> list[float]:
        now = self._clock()
        e = self._seen.pop(key, None)
        if e is None or now - e[0] > self._window:
            e = [now, 0.0, 0.0]
        self._seen[key] = e
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return e

    def strike(self, host: str, port: int, reason: str) -> None:
        """Note one bad message from ``host:port``."""
        self._entry(("host", host))[1] += 1
        e = self._entry((host, port))
        e[1] += 1
        if not e[2]:
            e[2] = 1.0
            self.logged += 1
            log.warning("gb28181: bad message from %s:%s: %s (further ones this minute are not logged)", host, port,
                        reason[:200])

    def _over(self, key: Hashable, threshold: int) -> bool:
        e = self._seen.get(key)
        return e is not None and e[1] >= threshold and self._clock() - e[0] <= self._window

    def muted(self, host: str, port: int) -> bool:
        return self._over((host, port), self._threshold) or self._over(("host", host), self._host_threshold)

    def __len__(self) -> int:
        return len(self._seen)
