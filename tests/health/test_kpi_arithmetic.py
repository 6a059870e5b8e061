"""KPI arithmetic on plain arrays, against values computed by hand."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from vigil.core.errors import InputError
from vigil.health.kpi import (
    StepSeries,
    and_series,
    parse_period,
    percentiles,
    rollup,
    true_time,
    weighted_share,
)

# camera 0: on at start, off at 2, on at 5 -> 7 of 10; camera 1: unknown (off) until 4 -> 6;
# camera 2: no change, off -> 0; camera 3: change before the window (on at -3) and after it (off at 12) -> 10
ONLINE = StepSeries.build([True, False, False, False], [0, 0, 1, 3, 3], [2, 5, 4, -3, 12],
                          [False, True, True, True, False])


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 10, [7, 6, 0, 10]),
    (3, 6, [1, 2, 0, 3]),       # a window cutting through camera 0's outage
    (2, 2, [0, 0, 0, 0]),       # an empty window
    (10, 20, [10, 10, 0, 2]),   # after every change: the last state holds
])
def test_true_time_by_hand(start, end, expected):
    np.testing.assert_allclose(true_time(ONLINE, start, end), expected)


def test_true_time_rejects_reversed_window_and_bad_arrays():
    with pytest.raises(InputError, match="before it starts"):
        true_time(ONLINE, 5, 1)
    with pytest.raises(InputError, match="expected 2 values"):
        StepSeries(np.zeros(2, bool), np.array([0, 1]), np.array([1.0]), np.array([True, False]))
    with pytest.raises(InputError, match="out of range"):
        StepSeries.build([True], [3], [1.0], [True])


def test_and_series_intact_is_online_and_fault_free():
    # camera 0 fault-free except [6, 8); camera 1 faulty from before the window until 1
    fault_free = StepSeries.build([True, False, True, True], [0, 0, 1], [6, 8, 1], [False, True, True])
    intact = and_series(ONLINE, fault_free)
    # camera 0: online [0,2) + [5,10), minus [6,8) -> 2 + 3 = 5; camera 1: online [4,10) -> 6
    np.testing.assert_allclose(true_time(intact, 0, 10), [5, 6, 0, 10])
    np.testing.assert_allclose(true_time(intact, 5, 8), [1, 3, 0, 3])


def test_rollup_sums_every_ancestor():
    out = rollup(["53010201001", "53010201002", "53010202", "53010201001"], [1, 2, 4, 8])
    assert out["53010201001"] == (9.0, 2)
    assert out["53010201"] == (11.0, 3)
    assert out["530102"] == (15.0, 4)
    assert out["5301"] == (15.0, 4)
    assert "53010202" in out and out["53010202"] == (4.0, 1)


def test_percentiles_and_weighted_share():
    assert percentiles([3, 1, 8]) == pytest.approx((3.0, 7.0))         # p90: 3 + 0.8 * (8 - 3)
    assert percentiles([1, 2, 3, 8]) == pytest.approx((2.5, 6.5))      # p90: 3 + 0.7 * (8 - 3)
    assert percentiles([]) == (None, None)
    assert weighted_share([0.8, 0.4], [10, 30]) == pytest.approx(0.5)
    assert weighted_share([], []) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", timedelta(days=7)), ("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)),
    ("2w", timedelta(days=14)), ("1.5h", timedelta(minutes=90)),
])
def test_parse_period(text, expected):
    assert parse_period(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7y", "-1d", "0d", "d7"])
def test_parse_period_rejects(text):
    with pytest.raises(InputError, match="period"):
        parse_period(text)
