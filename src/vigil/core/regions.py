"""The region tree: codes nest by prefix, so a subtree is a prefix match."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false, or_

__all__ = ["in_subtrees"]


def in_subtrees(column: ColumnElement[str], scopes: Iterable[str]) -> ColumnElement[bool]:
    """A SQL condition: ``column`` (a region code) lies in one of the ``scopes`` subtrees."""
    conds = [column.like(f"{s}%") for s in scopes]
    if not conds:
        return false()
    return or_(*conds) if len(conds) > 1 else conds[0]
