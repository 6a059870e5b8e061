"""Multi-part catalogs: out of order, repeated, missing and broken parts keep what parsed."""

from __future__ import annotations

from vigil.gb28181.catalog import CatalogAssembler
from vigil.gb28181.manscdp import CatalogItem, CatalogPart

DEV = "34020000001180000001"


def _part(sn, ids, sum_num=5, bad=0):
    return CatalogPart(DEV, sn, sum_num, [CatalogItem(f"340200000013100000{i:02d}") for i in ids], bad)


def test_parts_in_any_order_complete_at_sumnum_distinct_items():
    a = CatalogAssembler()
    assert a.expect(DEV, 7)
    assert a.add(_part(7, [5, 4])) is None
    assert a.add(_part(7, [5, 4])) is None  # a retransmitted part adds nothing
    assert a.add(_part(8, [1])) is None  # another query's SN is not mixed in
    r = a.add(_part(7, [3, 2, 1]))
    assert r is not None and r.complete and r.missing == 0 and r.parts == 3 and len(r.items) == 5


def test_a_part_that_never_comes_gives_a_partial_result_reporting_what_is_missing():
    now = [0.0]
    a = CatalogAssembler(idle=5, clock=lambda: now[0])
    a.expect(DEV, 1)
    a.add(_part(1, [1, 2], bad=1))
    a.bad_part(DEV, 1)
    now[0] = 4
    assert a.expire() == []
    now[0] = 10
    (r,) = a.expire()
    assert not r.complete and sorted(r.items) == ["34020000001310000001", "34020000001310000002"]
    assert (r.missing, r.bad_items, r.bad_parts) == (3, 1, 1)
    assert not a.is_open(DEV, 1)


def test_unasked_parts_and_too_many_open_queries_are_refused():
    a = CatalogAssembler(limit=2)
    assert a.add(_part(1, [1])) is None and not a.is_open(DEV, 1)
    assert a.expect(DEV, 1) and a.expect(DEV, 2) and not a.expect(DEV, 3)
