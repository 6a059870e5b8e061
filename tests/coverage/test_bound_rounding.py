"""The proven bound is rounded up to the cost step, and a missing bound (HiGHS stopped before it had one,
so it reports ±inf or nan) stays missing instead of crashing the plan."""

from __future__ import annotations

import math

import numpy as np

from vigil.coverage.optimize import _round_up


def test_bound_rounds_up_to_the_common_price_step() -> None:
    assert _round_up(1234.0, np.array([300.0, 500.0])) == 1300.0
    assert _round_up(1300.0, np.array([300.0, 500.0])) == 1300.0
    assert _round_up(12.5, np.array([1.5, 2.25])) == 12.5  # not integral: left as it is


def test_a_missing_bound_is_left_alone() -> None:
    costs = np.array([300.0, 500.0])
    assert _round_up(-math.inf, costs) == -math.inf
    assert _round_up(math.inf, costs) == math.inf
    assert math.isnan(_round_up(math.nan, costs))
