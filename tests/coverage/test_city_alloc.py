"""The city allocation: exact against brute force, the weighting rule, the bound and the uniform baseline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vigil.core.errors import InputError
from vigil.coverage.city_alloc import Option, allocate, site_weights, uniform_split, upper_bound

# four sites, hand-checkable: (cost, coverage) per option, "do nothing" first
SITES = [
    [Option(0, 0.2), Option(300, 0.5), Option(700, 0.9), Option(1200, 1.0)],
    [Option(0, 0.0), Option(200, 0.3), Option(500, 0.8)],
    [Option(0, 0.5), Option(400, 0.6), Option(900, 1.0)],
    [Option(0, 0.1), Option(100, 0.15), Option(600, 0.95), Option(800, 0.99)],
]
W = np.array([3.0, 2.0, 1.0, 2.0])


def brute(options, w, budget):
    best = (0.0, None)
    for pick in itertools.product(*(range(len(o)) for o in options)):
        cost = sum(o[k].cost for o, k in zip(options, pick, strict=True))
        if cost <= budget:
            val = sum(wi * (o[k].coverage - o[0].coverage) for wi, o, k in zip(w, options, pick, strict=True))
            if val > best[0] + 1e-12:
                best = (val, pick)
    return best


@pytest.mark.parametrize("budget", [0, 99, 100, 450, 800, 1000, 1500, 2100, 3000, 5000])
def test_knapsack_matches_brute_force(budget):
    a = allocate(SITES, W, budget)
    val, _ = brute(SITES, W, budget)
    assert a.exact and a.unit == 100
    assert a.cost <= budget
    assert a.value == pytest.approx(val)
    assert a.value == pytest.approx(sum(w * (o[k].coverage - o[0].coverage) for w, o, k in zip(W, SITES, a.choice, strict=True)))


def test_curve_is_the_optimum_at_every_budget():
    a = allocate(SITES, W, 1000, curve_to=3000)
    assert a.curve_cost[-1] == 3000
    for b, v in zip(a.curve_cost[::3], a.curve_value[::3], strict=True):
        assert v == pytest.approx(brute(SITES, W, b)[0])


def test_random_instances_with_odd_costs_match_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(25):
        opts = []
        for _ in range(4):
            costs = np.sort(rng.integers(1, 900, 3))
            cov = np.sort(rng.uniform(0, 1, 4))
            opts.append([Option(0, cov[0])] + [Option(float(c), float(v)) for c, v in zip(costs, cov[1:], strict=True)])
        w = rng.uniform(0.5, 3, 4)
        budget = float(rng.integers(0, 2500))
        a = allocate(opts, w, budget)
        assert a.value == pytest.approx(brute(opts, w, budget)[0])


def test_coarse_table_stays_within_budget_and_bounds_the_optimum(monkeypatch):
    import vigil.coverage.city_alloc as ca

    monkeypatch.setattr(ca, "MAX_CELLS", 7)  # force rounding: unit = 1000 / 7 yuan
    a = allocate(SITES, W, 1000)
    val = brute(SITES, W, 1000)[0]
    assert not a.exact and a.cost <= 1000
    assert a.value <= val + 1e-9 <= a.bound + 1e-9


def test_upper_bound_lies_above_every_plan():
    # site levels: (coverage, proven least cost); the options above are the plans found
    levels = [[(o.coverage, o.cost * 0.9) for o in s[1:]] for s in SITES]
    before = [s[0].coverage for s in SITES]
    for budget in (0, 300, 1000, 2500):
        ub = upper_bound(levels, before, W, budget)
        assert ub >= allocate(SITES, W, budget).value - 1e-9
    # with a zero budget a site may at best reach its first level
    assert upper_bound(levels, before, W, 0) == pytest.approx(sum(
        w * (lv[0][0] - b) for w, lv, b in zip(W, levels, before, strict=True)))


def test_uniform_split_never_beats_the_knapsack():
    for budget in (400, 1000, 2000):
        pick, cost, gain = uniform_split(SITES, W, budget)
        assert cost <= budget and gain <= allocate(SITES, W, budget).value + 1e-9
    pick, _, _ = uniform_split(SITES, W, 1000)  # 250 each: only site 3 can buy (100) and site 1 (200)
    assert list(pick) == [0, 1, 0, 1]


def test_weights_rule():
    w = site_weights([1, 2, 3, 2], [400, None, 200, None])
    assert list(w) == pytest.approx([3 * 400 / 300, 2.0, 1 * 200 / 300, 2.0])
    assert list(site_weights([1, 3], [None, None])) == [3.0, 1.0]


@pytest.mark.parametrize("options,weights,budget,msg", [
    (SITES, W[:2], 100, "expected 4 weights"),
    (SITES, W, -1, "non-negative"),
    ([[Option(5, 0.1)]], [1.0], 10, "do nothing"),
    ([[Option(0, 0.1), Option(-5, 0.2)]], [1.0], 10, "not negative"),
])
def test_bad_input_is_refused(options, weights, budget, msg):
    with pytest.raises(InputError, match=msg):
        allocate(options, np.asarray(weights), budget)


def test_bad_protection_class_is_refused():
    with pytest.raises(InputError, match="protection class"):
        site_weights([4], [None])


def test_gain_per_yuan_cap_tightens_the_bound_and_keeps_it_valid():
    levels = [[(o.coverage, o.cost) for o in s[1:]] for s in SITES]
    before = [s[0].coverage for s in SITES]
    ratios = [max((o.coverage - s[0].coverage) / o.cost for o in s[1:]) for s in SITES]
    for budget in (100, 300, 700, 1500):
        plain = upper_bound(levels, before, W, budget)
        capped = upper_bound(levels, before, W, budget, ratios=ratios)
        assert allocate(SITES, W, budget).value - 1e-9 <= capped <= plain + 1e-9
    assert upper_bound(levels, before, W, 100, ratios=ratios) < upper_bound(levels, before, W, 100)


def test_city_options_take_every_solver_the_planner_has():
    from vigil.coverage.city import CityOptions
    from vigil.coverage.optimize import SOLVERS

    for name in SOLVERS:
        CityOptions(budget=1000, solver=name).check()
    with pytest.raises(InputError, match="solver must be one of auto, highs, cpsat, greedy"):
        CityOptions(budget=1000, solver="gurobi").check()
