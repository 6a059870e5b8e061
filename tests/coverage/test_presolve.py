"""The vectorised reductions find exactly the dominated columns and rows, and the time limit cuts them off.

References are plain set arithmetic on dense arrays (no shared code with ``vigil.coverage.presolve``).
"""

import json

import numpy as np
import pytest
from scipy import sparse

from vigil.coverage.optimize import CoverageProblem, solve
from vigil.coverage.plan import PlanRequest, run_plan
from vigil.coverage.presolve import merge_rows, subset_pairs, undominated_cols, undominated_rows


def _cols(sets: list[set[int]], n: int) -> sparse.csc_matrix:
    a = np.zeros((n, len(sets)), bool)
    for j, s in enumerate(sets):
        a[list(s), j] = True
    return sparse.csc_matrix(a)


def test_dominated_columns_on_a_hand_built_instance():
    sets = [{0, 1, 2}, {0, 1}, {0, 1}, {2}, {0, 1, 2}, {3, 4}, {4}, {3, 4, 5}, set()]
    cost = np.array([2.0, 2.0, 1.0, 3.0, 2.0, 1.0, 1.0, 5.0, 1.0])
    keep, check = undominated_cols(_cols(sets, 6), cost)
    # 1: inside 0 at the same price; 3: inside 0, dearer; 4: the same set and price as 0 (the lower index
    # stays); 6: inside 5 at the same price; 8: sees nothing. 2 is cheaper than 0, 7 sees more than 5.
    assert keep.tolist() == [0, 2, 5, 7]
    assert (check.checked, check.total, check.cut) == (8, 8, False)


def test_dominated_rows_on_a_hand_built_instance():
    # rows as sets of columns: row 1 contains row 0 (covering 0 covers 1), row 3 contains row 2, row 4 is alone
    rows = [{0, 1}, {0, 1, 2}, {3}, {3, 4}, {5, 6}]
    b = sparse.csc_matrix(_cols(rows, 7).T)
    keep, _ = undominated_rows(b)
    assert keep.tolist() == [0, 2, 4]


@pytest.mark.parametrize("seed", range(8))
def test_subset_pairs_are_every_inclusion(seed):
    rng = np.random.default_rng(seed)
    n, m = 25, 60
    base = rng.random((n, m)) < 0.12
    base[:, 40:] = base[:, :20] & (rng.random((n, 20)) < 0.7)  # subsets of earlier columns
    base[:, 30:35] = base[:, 0:5]  # duplicates
    key = rng.integers(0, 3, m).astype(float)
    j, k, check = subset_pairs(sparse.csc_matrix(base), key=key)
    got = set(zip(j.tolist(), k.tolist(), strict=True))
    want = {(a, b) for a in range(m) for b in range(m)
            if a != b and base[:, a].any() and not (base[:, a] & ~base[:, b]).any() and key[b] <= key[a]}
    assert got == want and len(want) > 20
    assert not check.cut


@pytest.mark.parametrize("seed", range(4))
def test_merge_rows_groups_identical_rows_first_come(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((30, 12)) < 0.3
    a = np.vstack([a, a[rng.integers(0, 30, 15)]])
    d = rng.integers(1, 3, len(a))
    w = rng.random(len(a))
    b, d2, w2 = merge_rows(sparse.csc_matrix(a), d, w)
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(a):
        groups.setdefault((int(d[i]), row.tobytes()), []).append(i)
    firsts = [g[0] for g in groups.values()]
    assert np.array_equal(b.toarray(), a[firsts]) and np.array_equal(d2, d[firsts])
    assert np.allclose(w2, [w[g].sum() for g in groups.values()])


def test_a_passed_deadline_cuts_the_check_off_and_keeps_every_column():
    sets = [{0, 1}, {0}, {1}]
    j, k, check = subset_pairs(_cols(sets, 2), deadline=0.0)  # long past
    assert len(j) == len(k) == 0 and check.cut and (check.checked, check.total) == (0, 3)
    keep, check = undominated_cols(_cols(sets, 2), np.ones(3), deadline=0.0)
    assert keep.tolist() == [0, 1, 2] and check.cut


def _random_cover(seed: int) -> CoverageProblem:
    rng = np.random.default_rng(seed)
    a = rng.random((60, 150)) < 0.05
    a[np.arange(60), rng.integers(0, 150, 60)] = True
    return CoverageProblem.from_matrix(a, rng.integers(1, 4, 150).astype(float) * 100)


def test_a_tiny_time_limit_is_kept_the_checks_say_they_were_cut_and_the_plan_still_covers():
    p = _random_cover(1)
    plan = solve(p, solver="highs", time_limit=1e-6)
    steps = {s.name: s for s in plan.log}
    assert plan.time_limit_hit and plan.status == "time_limit"
    assert steps["dominated columns 1"].cut and steps["dominated columns 1"].note.startswith("checked 0 of")
    assert steps["highs"].cut and steps["highs"].note == "no time left"
    assert not steps["greedy"].cut  # greedy always finishes: it is the plan
    assert np.all(plan.count >= 1)
    full = solve(p, solver="highs", time_limit=60)
    assert not full.time_limit_hit and full.status == "optimal"
    assert not any(s.cut for s in full.log) and full.cost <= plan.cost
    done, _, total = {s.name: s.note for s in full.log}["dominated columns 1"].split(",")[0].split()[1:]
    assert done == total


def test_plan_summary_reports_the_cut_off_check(kunming_community, one_model, tmp_path):
    res = run_plan(PlanRequest(area=kunming_community, catalog=one_model, time_limit=1e-6, spacing=8), tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["time_limit_hit"] is True and s["status"] == "time_limit"
    cut = [step["step"] for step in s["solve_log"] if step["cut"]]
    assert "dominated columns 1" in cut and "highs" in cut
    assert res.summary["coverage_after"] > res.summary["coverage_before"]  # a plan all the same
