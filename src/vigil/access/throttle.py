"""Login throttling: an exponential lockout per user name and per client address, kept in memory.

:class:`LoginThrottle` is pure: it takes the clock as an argument, touches no database and no
network, and tests drive it directly. Each key (a user name, an address) may fail ``free``
times; every further failure locks it for ``base_s * 2**k`` seconds (capped at ``max_s``).
A key's failures are forgotten ``window_s`` after its last failure, or for a user name when
that user signs in. A success does not clear the address: an attacker cannot reset their
address by signing in to their own account between guesses. The per-address allowance is
larger because many people may share one address (an office behind NAT).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle", "ThrottlePolicy"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures a key may make before it is locked, and for how long."""

    user_free: int = 5
    address_free: int = 20
    base_s: float = 1.0
    max_s: float = 900.0
    window_s: float = 900.0
    max_keys: int = 50_000

    def __post_init__(self) -> None:
        if self.user_free < 1 or self.address_free < 1:
            raise ValueError("free failures must be at least 1")
        if not 0 < self.base_s <= self.max_s:
            raise ValueError("need 0 < base_s <= max_s")


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float
    locked_until: float


class LoginThrottle:
    """Counts failed logins per user name and per address; says how long to wait before the next try."""

    def __init__(self, policy: ThrottlePolicy | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def _keys(self, user: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [(("user", user.strip().casefold()), self.policy.user_free),
                (("addr", address), self.policy.address_free)]

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until ``user`` may try again from ``address``; 0 when a try is allowed now."""
        now = self._clock()
        with self._lock:
            waits = [e.locked_until - now for k, _ in self._keys(user, address)
                     if (e := self._live(k, now)) is not None]
        return max([0.0, *waits])

    def failure(self, user: str, address: str) -> float:
        """Count a failed login; returns the lockout it starts (0 while still within the free failures)."""
        now = self._clock()
        p = self.policy
        with self._lock:
            if len(self._entries) >= p.max_keys:
                self._prune(now)
            wait = 0.0
            for key, free in self._keys(user, address):
                e = self._live(key, now) or self._entries.setdefault(key, _Entry(0, now, now))
                e.failures += 1
                e.last = now
                if e.failures >= free:
                    lock = min(p.max_s, p.base_s * 2 ** (e.failures - free))
                    e.locked_until = max(e.locked_until, now + lock)
                wait = max(wait, e.locked_until - now)
            return wait

    def success(self, user: str, address: str) -> None:
        """Forget the user name's failures (the address keeps its own)."""
        with self._lock:
            self._entries.pop(self._keys(user, address)[0][0], None)

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        e = self._entries.get(key)
        if e is not None and now >= e.locked_until and now - e.last >= self.policy.window_s:
            del self._entries[key]
            return None
        return e

    def _prune(self, now: float) -> None:
        for key in list(self._entries):
            self._live(key, now)
        excess = len(self._entries) - self.policy.max_keys // 2
        if excess > 0:  # still full (a flood of distinct names): drop the stalest unlocked keys first
            stale = sorted(self._entries.items(), key=lambda kv: (kv[1].locked_until > now, kv[1].last))
            for key, _ in stale[:excess]:
                del self._entries[key]
