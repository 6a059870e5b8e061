"""The solve's step log against one deadline: each step's time, what it did, and whether the limit cut it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Step", "StepLog"]


@dataclass(frozen=True)
class Step:
    """One step of a solve: ``cut`` when the time limit stopped it before it finished (or it never started)."""

    name: str
    seconds: float
    note: str = ""
    cut: bool = False

    def as_dict(self) -> dict[str, object]:
        """The step for ``summary.json``."""
        return {"step": self.name, "seconds": round(self.seconds, 3), "note": self.note, "cut": self.cut}


Note = Callable[..., None]


class StepLog:
    """Steps recorded in order against ``deadline`` (a ``time.perf_counter()`` value)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.steps: list[Step] = []

    def left(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(self.deadline - time.perf_counter(), 0.0)

    @property
    def cut(self) -> bool:
        """Some step was cut off by the deadline."""
        return any(s.cut for s in self.steps)

    @contextmanager
    def step(self, name: str) -> Iterator[Note]:
        """Time a step; the body may call the yielded ``note(text, cut=False)`` to describe it."""
        said: dict[str, object] = {"note": "", "cut": False}

        def note(text: str, *, cut: bool = False) -> None:
            said.update(note=text, cut=cut)

        t0 = time.perf_counter()
        try:
            yield note
        finally:
            self.steps.append(Step(name, time.perf_counter() - t0, str(said["note"]), bool(said["cut"])))

    def skip(self, name: str, why: str) -> None:
        """A step the deadline left no time for."""
        self.steps.append(Step(name, 0.0, why, True))
