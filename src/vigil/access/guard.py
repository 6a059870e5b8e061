"""THE access guard: one scope value and three checks that every caller uses.

- :class:`Scope` is the set of region subtrees a caller may see. "Everything" is an explicit
  value (:meth:`Scope.everything`), never ``None``.
- :func:`check_permission` raises :class:`~vigil.core.errors.AccessDenied` when a role lacks a
  permission.
- :func:`region_visible` decides whether one region code lies inside a scope.
- :func:`get_in_scope` loads an object by key and returns it only if it lies in scope; otherwise it
  raises :class:`~vigil.core.errors.NotFoundError`, so the object's existence is not revealed.
- :func:`check_shared_edit` is the rule for shared objects (camera models, catalogs): whoever changes
  one must see every region that uses it, so a change can never reach outside the caller's scope.

Routers, services, importers, planners and workers call these; nothing else decides scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import Session

from vigil.access.policy import has_permission
from vigil.core.errors import AccessDenied, NotFoundError
from vigil.core.models import Role
from vigil.core.regions import in_subtrees

__all__ = [
    "Scope",
    "Scoped",
    "as_scope",
    "check_permission",
    "check_shared_edit",
    "ensure_visible",
    "get_in_scope",
    "region_of",
    "region_visible",
    "register_region_of",
]

_ANCESTOR_LENGTHS = (4, 6, 8)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scope:
    """Region subtrees a caller may see, as GB/T 2260-style code prefixes.

    ``all_regions`` is the explicit "everything" value, held by the system (CLI on the local
    instance, schedulers, workers). An empty scope sees nothing.
    """

    prefixes: tuple[str, ...] = ()
    all_regions: bool = False

    @classmethod
    def everything(cls) -> Scope:
        """The scope of the instance itself: every region."""
        return cls((), True)

    @classmethod
    def of(cls, codes: Iterable[str]) -> Scope:
        """A scope over the subtrees of ``codes`` (nested codes are folded into their ancestor)."""
        uniq = sorted(set(codes), key=lambda c: (len(c), c))
        kept: list[str] = []
        for c in uniq:
            if not any(c.startswith(k) for k in kept):
                kept.append(c)
        return cls(tuple(sorted(kept)))

    def covers(self, region_code: str | None) -> bool:
        """True if ``region_code`` lies in one of the subtrees (``None`` only for everything)."""
        if self.all_regions:
            return True
        if not region_code:
            return False
        return any(region_code.startswith(p) for p in self.prefixes)

    def covers_all(self, codes: Iterable[str | None]) -> bool:
        """True if every code in ``codes`` is covered."""
        return all(self.covers(c) for c in codes)

    def contains(self, other: Scope) -> bool:
        """True if every region ``other`` sees is also seen by this scope."""
        if self.all_regions:
            return True
        if other.all_regions:
            return False
        return all(self.covers(p) for p in other.prefixes)

    def is_ancestor_of_scope(self, region_code: str) -> bool:
        """True if ``region_code`` is an ancestor of (or equal to) a subtree root.

        Such a region may be shown as a path in the tree while its other children stay hidden.
        """
        if self.all_regions:
            return True
        return any(p.startswith(region_code) for p in self.prefixes)

    def ancestors(self) -> set[str]:
        """Codes of the ancestors of each subtree root (to draw the path to them)."""
        return {p[:n] for p in self.prefixes for n in _ANCESTOR_LENGTHS if n < len(p)}

    def clause(self, column: ColumnElement[str] | Any) -> ColumnElement[bool]:
        """A SQL condition: ``column`` (a region code) lies in scope."""
        if self.all_regions:
            return true()
        return in_subtrees(column, self.prefixes)

    def outside(self, column: ColumnElement[str] | Any) -> ColumnElement[bool]:
        """A SQL condition: ``column`` lies outside this scope (never true for everything)."""
        if self.all_regions:
            return false()
        return ~in_subtrees(column, self.prefixes)

    def clause_or_ancestor(self, column: ColumnElement[str] | Any) -> ColumnElement[bool]:
        """A SQL condition: ``column`` is in scope or is an ancestor of a subtree root."""
        if self.all_regions:
            return true()
        return or_(in_subtrees(column, self.prefixes), column.in_(sorted(self.ancestors())))

    def narrowed(self, region_code: str) -> Scope:
        """The scope limited to the subtree of ``region_code`` (which must be visible or an ancestor)."""
        if self.covers(region_code):
            return Scope((region_code,))
        return Scope(tuple(p for p in self.prefixes if p.startswith(region_code)))

    def roots(self) -> tuple[str, ...]:
        """The subtree roots (empty for everything)."""
        return self.prefixes

    def __str__(self) -> str:
        return "all regions" if self.all_regions else ", ".join(self.prefixes) or "no regions"


class Scoped(Protocol):
    """A caller that carries a role and a scope (a :class:`~vigil.access.users.Principal`)."""

    @property
    def role(self) -> Role: ...

    @property
    def scope(self) -> Scope: ...


def check_permission(who: Scoped, permission: str) -> None:
    """Raise :class:`AccessDenied` unless ``who``'s role grants ``permission``."""
    if not has_permission(who.role, permission):
        raise AccessDenied(f"role {Role(who.role).value} may not {permission}")


def as_scope(scope: Scope | Scoped) -> Scope:
    """``scope`` itself, or the scope a caller carries."""
    return scope if isinstance(scope, Scope) else scope.scope


def region_visible(scope: Scope | Scoped, region_code: str | None) -> bool:
    """True if ``region_code`` lies in ``scope`` (a scope, or a caller carrying one)."""
    return as_scope(scope).covers(region_code)


_REGION_OF: dict[type, Callable[[Any], str | None]] = {}


def register_region_of(model: type, fn: Callable[[Any], str | None]) -> None:
    """Declare how to find the region of objects of ``model`` (default: its ``region_code``)."""
    _REGION_OF[model] = fn


def region_of(obj: Any) -> str | None:
    """The region code that decides ``obj``'s visibility."""
    for cls in type(obj).__mro__:
        fn = _REGION_OF.get(cls)
        if fn is not None:
            return fn(obj)
    code = getattr(obj, "region_code", None)
    if code is None and hasattr(obj, "code") and type(obj).__name__ == "Region":
        code = obj.code
    return code


def get_in_scope(session: Session, model: type[T], key: Any, scope: Scope | Scoped, *,
                 what: str | None = None) -> T:
    """Load ``model`` by primary ``key`` and return it if it lies in ``scope``; else :class:`NotFoundError`.

    The message is the same whether the object is missing or hidden.
    """
    label = what or f"{model.__name__.lower()} {key}"
    try:
        obj = session.get(model, key) if key is not None else None
    except (OverflowError, ValueError, TypeError):
        obj = None
    if obj is None or not region_visible(scope, region_of(obj)):
        raise NotFoundError(f"{label} not found")
    return obj


def ensure_visible(scope: Scope | Scoped, region_code: str | None, what: str) -> None:
    """Raise :class:`NotFoundError` (``"<what> not found"``) unless ``region_code`` is in scope."""
    if not region_visible(scope, region_code):
        raise NotFoundError(f"{what} not found")


def check_shared_edit(scope: Scope | Scoped, user_regions: Iterable[str | None], what: str) -> None:
    """Raise :class:`AccessDenied` unless ``scope`` covers every region that uses a shared object.

    Shared objects (camera models, catalogs) are seen by everyone but belong to no region. A
    change to one changes every object that refers to it, so only a caller whose scope covers
    all of those (``user_regions``: the regions of the objects using it) may make it. An unused
    shared object may be changed by anyone allowed to write the registry. The message names no
    region outside the caller's scope.
    """
    if not as_scope(scope).covers_all(user_regions):
        raise AccessDenied(f"{what} is also used outside your regions; only a user whose scope covers "
                           "every camera using it may change it")
