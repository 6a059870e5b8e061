"""``vigil lang``: the instance's default language for the CLI's messages and reports."""

from __future__ import annotations

import typer
from rich.console import Console

from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.i18n import cli_language, get_instance_lang, set_instance_lang

__all__ = ["app"]

app = typer.Typer(help="The instance's default language (zh-CN or en) for messages and reports.",
                  no_args_is_help=True)
console = Console()


@app.command("set")
def set_cmd(lang: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Set the default language (--lang and $VIGIL_LANG still win for one run)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        lang = set_instance_lang(s, lang)
        cli_language.adopt_instance(s)
    console.print(cli_language.line(f"language: {lang}"), highlight=False)


@app.command("show")
def show(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Print the instance's default language and the one this run speaks."""
    v = open_instance(db, home)
    with v.db.session() as s:
        stored = get_instance_lang(s) or "en"
    console.print(f"instance: {stored}\nthis run: {cli_language.lang}", highlight=False)
