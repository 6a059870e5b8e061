"""The region tree: codes nest by prefix, so a subtree is a prefix match.

Prefix matches are written as index-friendly ranges (``code >= p AND code < p + ':'``, since
``':'`` sorts right after ``'9'``) instead of ``LIKE``, which SQLite cannot serve from an index.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BindParameter, ColumnElement, SQLColumnExpression, and_, false, or_

__all__ = ["in_subtree", "in_subtrees"]


def in_subtree(column: SQLColumnExpression[str], code: str | BindParameter[str]) -> ColumnElement[bool]:
    """A SQL condition: ``column`` (a region code column or mapped attribute) lies in the subtree of ``code``.

    ``code`` may be a bound parameter (a statement built once): its bound is then ``code || ':'`` in SQL.
    """
    return and_(column >= code, column < code + ":")


def in_subtrees(column: SQLColumnExpression[str], scopes: Iterable[str]) -> ColumnElement[bool]:
    """A SQL condition: ``column`` (a region code) lies in one of the ``scopes`` subtrees."""
    conds = [in_subtree(column, s) for s in scopes]
    if not conds:
        return false()
    return or_(*conds) if len(conds) > 1 else conds[0]
