"""Sharing rules of a link: what a child shares with its parent (one set per link)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigil.access.guard import Scope
from vigil.core.errors import InputError
from vigil.core.ids import validate_region_code

__all__ = ["ShareRules", "parse_rules"]


class ShareRules(BaseModel):
    """What a child shares with its parent (one set per link)."""

    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(default_factory=list, description="region subtrees shared (empty: all)")
    site_classes: list[int] = Field(default_factory=list, description="protection classes shared (empty: all)")
    kinds: list[str] = Field(default_factory=list, description="camera kinds shared (empty: all)")
    recordings: bool = Field(False, description="recordings too, not only live view")
    exclude: list[str] = Field(default_factory=list, description="camera ids never shared")

    def scope(self) -> Scope:
        """The region part of the rules, as the guard's scope."""
        return Scope.of(self.regions) if self.regions else Scope.everything()


def parse_rules(text: str) -> ShareRules:
    """``regions=5301,530102;classes=2,3;kinds=public_area;recordings`` → rules (``all`` shares everything)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        name, _, value = part.partition("=")
        items = [v.strip() for v in value.split(",") if v.strip()]
        match name.strip():
            case "all":
                continue
            case "regions":
                out["regions"] = [validate_region_code(c) for c in items]
            case "classes":
                try:
                    out["site_classes"] = [int(c) for c in items]
                except ValueError:
                    raise InputError(f"share rules: classes must be 1, 2 or 3, not {value!r}") from None
            case "kinds":
                out["kinds"] = items
            case "recordings":
                out["recordings"] = True
            case "live":
                out["recordings"] = False
            case _:
                raise InputError(f"share rules: unknown rule {name!r} (regions=, classes=, kinds=, live, recordings)")
    return ShareRules(**out)
