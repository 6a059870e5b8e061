"""Fault names of the simulated fleet and the ``--faults`` SPEC parser.

Connection faults change how a camera answers on the wire; picture faults change the
footage it streams (degraded clips made from real footage, see :mod:`vigil.sim.media`).

SPEC is a comma-separated list of items:

* ``KIND:N`` – N cameras get KIND (``offline:20``);
* ``KIND:P%`` – P percent of the cameras get KIND (``refused:2%``);
* ``mix:P%`` – P percent of the cameras misbehave, spread evenly over every fault kind;
* ``INDEX=KIND[+KIND...]`` – camera INDEX (0-based) gets exactly these faults (``7=black+slow``).

Cameras are drawn with a seeded RNG, so a SPEC and a seed always give the same fleet.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from vigil.core.errors import InputError

__all__ = ["CONNECTION_FAULTS", "EXPECTED_REASON", "FAULTS", "PICTURE_FAULTS", "check_faults", "parse_spec"]

CONNECTION_FAULTS: tuple[str, ...] = ("offline", "dropped", "refused", "auth", "slow", "garbage")
PICTURE_FAULTS: tuple[str, ...] = ("black", "blue", "frozen", "blur", "dark", "bright", "color_cast", "noise",
                                   "covered", "moved")
FAULTS: tuple[str, ...] = CONNECTION_FAULTS + PICTURE_FAULTS

#: What a correct prober must report for each connection fault ("online" for picture faults).
EXPECTED_REASON: dict[str, str] = {
    "offline": "timeout",    # SYNs are dropped: nothing answers
    "dropped": "protocol",   # accepted, then reset before any answer
    "refused": "refused",    # nothing listens: the kernel answers RST
    "auth": "auth",          # the camera's password was changed: digest auth always fails
    "slow": "timeout",       # every answer is delayed past the prober's timeout
    "garbage": "protocol",   # answers are not RTSP
}

_ALIASES = {"wrong_password": "auth", "colour_cast": "color_cast", "blurred": "blur", "cast": "color_cast",
            "lens_covered": "covered", "signal_loss": "black"}


def check_faults(names: Iterable[str]) -> frozenset[str]:
    """Normalise fault names; raise :class:`InputError` on an unknown one."""
    out = set()
    for raw in names:
        name = _ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if not name or name == "none":
            continue
        if name not in FAULTS:
            raise InputError(f"unknown fault {raw!r}; known: {', '.join(FAULTS)}")
        out.add(name)
    return frozenset(out)


def _count(value: str, n: int) -> int:
    try:
        if value.endswith("%"):
            return round(n * float(value[:-1]) / 100)
        return int(value)
    except ValueError as exc:
        raise InputError(f"bad fault count {value!r}: use N or P%") from exc


def parse_spec(spec: str, n: int, *, seed: int = 0) -> dict[int, frozenset[str]]:
    """Turn a SPEC (see module doc) into ``{camera index: faults}`` for a fleet of ``n`` cameras."""
    out: dict[int, set[str]] = {}
    rng = random.Random(seed)
    free = list(range(n))
    rng.shuffle(free)
    for item in filter(None, (x.strip() for x in (spec or "").split(","))):
        if "=" in item:
            idx_s, kinds = item.split("=", 1)
            try:
                idx = int(idx_s)
            except ValueError as exc:
                raise InputError(f"bad camera index in {item!r}") from exc
            if not 0 <= idx < n:
                raise InputError(f"camera index {idx} out of range 0..{n - 1}")
            out.setdefault(idx, set()).update(check_faults(kinds.split("+")))
            if idx in free:
                free.remove(idx)
            continue
        if ":" not in item:
            raise InputError(f"bad fault item {item!r}: use KIND:N, KIND:P%, mix:P% or INDEX=KIND")
        kind, value = item.split(":", 1)
        count = _count(value, n)
        chosen = list(FAULTS) if kind.strip().lower() == "mix" else sorted(check_faults([kind]))
        if count > len(free):
            raise InputError(f"{item!r} asks for {count} cameras but only {len(free)} are left without a fault")
        for k in range(count):
            out.setdefault(free.pop(), set()).add(chosen[k % len(chosen)])
    return {i: frozenset(f) for i, f in out.items()}
