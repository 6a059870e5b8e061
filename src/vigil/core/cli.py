"""``vigil timeseries ...``: the time series partitions and their retention (thin shells over the library)."""

from __future__ import annotations

import typer

from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.timeseries import describe, maintain

__all__ = ["timeseries_app"]

timeseries_app = typer.Typer(help="Time series tables: partitions (PostgreSQL) and retention.", no_args_is_help=True)


def _keep(days: float | None) -> str:
    return "kept" if days is None else f"{days:g} days"


@timeseries_app.command("show")
def show(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Each time series: its partitions and the time they cover, rows in the default partition, retention."""
    v = open_instance(db, home)
    for st in describe(v.db):
        if not st.partitioned:
            console.print(f"{st.table}: plain table (retention by DELETE), {_keep(st.keep_days)}", highlight=False)
            continue
        span = f"{st.first:%Y-%m-%d} .. {st.last:%Y-%m-%d}" if st.first and st.last else "none"
        n = f"{st.partitions} partition{'' if st.partitions == 1 else 's'}"
        console.print(f"{st.table}: {n} by {st.unit}, {span}, {st.in_default} rows in "
                      f"the default partition, {_keep(st.keep_days)}", highlight=False)


@timeseries_app.command("maintain")
def maintain_cmd(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Create the partitions ahead and apply the retention now (the scheduler does it hourly)."""
    v = open_instance(db, home)
    rep = maintain(v.db)
    console.print(f"created {len(rep.created)} partitions, dropped {len(rep.dropped)}"
                  f"{': ' + ', '.join(rep.dropped) if rep.dropped else ''}; {rep.deleted} rows deleted, "
                  f"{rep.carried} carried forward", highlight=False)
