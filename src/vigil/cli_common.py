"""What every ``vigil`` sub-command shares: consoles, the --db/--home options, opening the instance.

Sub-command modules import from here, never from :mod:`vigil.cli`, so that importing any of
them first does not re-enter the command registry (a circular import).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from vigil.core.context import Vigil

__all__ = ["DbOpt", "HomeOpt", "console", "err", "open_instance"]

console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (default: $VIGIL_DB or ./vigil-data/vigil.db)")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="Data folder (default: $VIGIL_HOME or ./vigil-data)")]


def open_instance(db: str | None, home: str | None = None) -> Vigil:
    """Open the instance named on the command line."""
    return Vigil.open(db, home)
