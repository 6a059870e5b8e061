"""How the ``vigil`` command reports a failure: one readable line on stderr and an exit code.

- Usage errors (unknown command or option, a missing argument, a bad value) and Vigil's own errors: 2.
- ``Ctrl-C``: 130; an abort: 1; a broken database connection: 1.
- Anything else is a bug: one line, the traceback in a private file, exit 70 (``VIGIL_DEBUG=1`` raises it).

Typer (0.29 and later) ships its own copy of click, so usage errors are ``typer.TyperException``
subclasses; a Typer that uses the real click raises ``click.ClickException``. Both are handled.
"""

from __future__ import annotations

import os

import typer
from rich.markup import escape

from vigil.cli_common import err
from vigil.core.errors import ImportRejected, VigilError
from vigil.i18n import cli_language

__all__ = ["report"]


def _say(label: str, message: str) -> None:
    """One line on stderr in the run's language (:data:`vigil.i18n.cli_language`): no wrapping, no markup."""
    label, message = cli_language.gettext(label), cli_language.line(" ".join(message.split()))
    err.print(f"[red]{label}:[/] {escape(message)}", soft_wrap=True, highlight=False)


def _click_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [typer.TyperException]
    try:
        import click

        types.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer no longer needs click
        pass
    return tuple(types)


def _usage(exc: BaseException) -> int:
    """A click-style error (usage or file): one line with the command to ask for help."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
        if message.strip():  # (Typer's rich help has printed itself already)
            typer.echo(message)
        return 2
    code = int(getattr(exc, "exit_code", 2) or 2)
    where = ctx.command_path if ctx is not None else "vigil"
    hint = cli_language.line(f"(see '{where} --help')") if code == 2 else ""
    _say("error", cli_language.line(" ".join(message.split())) + (f" {hint}" if hint else ""))
    return code


def report(exc: Exception) -> int:
    """Print ``exc`` for a person and return the exit code."""
    if isinstance(exc, ImportRejected):
        err.print(f"[red]error:[/] {escape(exc.source)}: {len(exc.errors)} bad row(s); nothing was stored",
                  soft_wrap=True)
        for e in exc.errors[:200]:
            err.print(f"  line {e.line}: [bold]{escape(e.field)}[/]: {escape(e.reason)}", soft_wrap=True)
        if len(exc.errors) > 200:
            err.print(f"  ... and {len(exc.errors) - 200} more")
        return 2
    if isinstance(exc, VigilError):
        _say("error", str(exc))
        return 2
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
        _say("error", "aborted")
        return 1
    if isinstance(exc, _click_types()):
        return _usage(exc)
    return _environment(exc)


def _environment(exc: Exception) -> int:
    """Failures of the world outside (files, the database), else a bug."""
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OSError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        _say("error", f"{exc.strerror or exc}{where}")
        return 2
    if isinstance(exc, OperationalError):
        lines = [ln for ln in str(exc.orig).splitlines() if ln.strip()]
        _say("error", f"the database failed: {lines[0] if lines else type(exc.orig).__name__}")
        return 1
    if os.environ.get("VIGIL_DEBUG"):
        raise exc
    log = _crash_log(exc)
    _say("internal error", f"{type(exc).__name__}: {exc}. Details were written to {log}; please report them "
                           "(set VIGIL_DEBUG=1 to see them here).")
    return 70


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of an unexpected error to a private file and return its path."""
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="vigil-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write("".join(traceback.format_exception(exc)))
    return path
