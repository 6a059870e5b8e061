"""Fixtures for the health tests."""

from __future__ import annotations

import pytest
from healthkit import add_regions


@pytest.fixture
def tree(vigil):
    with vigil.db.session() as s:
        add_regions(s)
    return vigil
