"""Progress of a plan run as stages and a percent: one reading for the CLI, the job runner and the console.

:func:`vigil.coverage.plan.run_plan` reports ``(stage, "start"|"done")``; :class:`StageProgress` turns
those into an overall percent with fixed stage weights (measured shares of a typical run), and, while
the optimiser runs, creeps through its share by the time spent against the solver's time limit.
"""

from __future__ import annotations

import gettext
import time
from dataclasses import dataclass, field

__all__ = ["CITY_STAGE_WEIGHTS", "STAGE_CONTEXT", "STAGE_KEYS", "STAGE_WEIGHTS", "CityStageProgress", "StageProgress",
           "stage_name"]

#: Share of a typical run spent in each stage of ``run_plan`` (they sum to 100).
STAGE_WEIGHTS: dict[str, float] = {"read": 5, "targets": 5, "candidates": 10, "visibility": 30, "optimise": 45,
                                   "report": 5}


@dataclass
class StageProgress:
    """The percent done of one plan run, fed with ``run_plan``'s progress calls."""

    time_limit: float = 60.0
    stage: str = ""
    running: bool = False
    started: float = 0.0
    done: set[str] = field(default_factory=set)

    def update(self, stage: str, event: str) -> float:
        """Record ``(stage, event)`` and return the percent done."""
        if event == "start":
            self.stage, self.running, self.started = stage, True, time.monotonic()
        else:
            self.done.add(stage)
            self.running = False
        return self.percent()

    def percent(self) -> float:
        """Percent done now (0..100): finished stages, plus the solver's share by its time."""
        pct = sum(w for s, w in STAGE_WEIGHTS.items() if s in self.done)
        if self.running and self.stage == "optimise" and self.time_limit > 0:
            frac = min((time.monotonic() - self.started) / self.time_limit, 0.95)
            pct += STAGE_WEIGHTS["optimise"] * frac
        return round(min(pct, 100.0), 1)


#: Share of a typical city plan spent in each stage: reading the sites, then ``run_city``'s stages.
CITY_STAGE_WEIGHTS: dict[str, float] = {"sites": 5, "curves": 85, "allocate": 3, "report": 7}


#: Every stage key a plan job reports: ``run_plan``'s, a city plan's, and ``queue`` (queued again after a
#: restart). The server sends only these keys; the console names them through its catalogue (``STAGE_TEXT``
#: in ``plan_form.js``), the CLI through gettext (:func:`stage_name`).
STAGE_KEYS: tuple[str, ...] = tuple(dict.fromkeys((*STAGE_WEIGHTS, *CITY_STAGE_WEIGHTS, "queue")))
#: The gettext context of the stage names in the server's catalogues (``msgctxt "plan stage"``, ``msgid`` the key).
STAGE_CONTEXT = "plan stage"


def stage_name(stage: str, translations: gettext.NullTranslations) -> str:
    """A stage's name in the language of ``translations`` (English: the key itself, as the CLI always printed)."""
    return translations.pgettext(STAGE_CONTEXT, stage)


@dataclass
class CityStageProgress:
    """The percent done of one city plan job, fed with its stage starts and ends and each stage's share done."""

    done: set[str] = field(default_factory=set)
    share: dict[str, float] = field(default_factory=dict)

    def update(self, stage: str, event: str) -> float:
        """Record ``(stage, "start"|"done")`` and return the percent done."""
        self.share[stage] = 1.0 if event == "done" else 0.0
        return self.percent()

    def part(self, stage: str, fraction: float) -> float:
        """Record that ``fraction`` of ``stage`` is done (``run_city``'s progress) and return the percent."""
        self.share[stage] = min(max(float(fraction), 0.0), 1.0)
        return self.percent()

    def percent(self) -> float:
        """Percent done now (0..100)."""
        return round(min(sum(w * self.share.get(s, 0.0) for s, w in CITY_STAGE_WEIGHTS.items()), 100.0), 1)
