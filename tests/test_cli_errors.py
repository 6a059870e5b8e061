"""Every CLI mistake is one readable line and exit code 2: never a traceback, never "internal error".

The commands are taken from the Typer app itself, so a new command is covered the day it is added.
Bad arguments are refused while parsing, so no command body runs here (no server, no simulator).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from vigil.cli import _LAZY, app, load_command

VIGIL = str(Path(sys.executable).with_name("vigil"))
BAD_WORDS = ("Traceback", "internal error", "please report", "vigil-crash-")


def _walk(cmd, path: tuple[str, ...] = ()):
    """(path, command) of every group and command under ``cmd`` (the lazy capability commands loaded)."""
    yield path, cmd
    if hasattr(cmd, "commands"):
        ctx = typer.Context(cmd)
        for name in sorted(cmd.list_commands(ctx)):
            yield from _walk(cmd.get_command(ctx, name), (*path, name))


ROOT = typer.main.get_command(app)
ALL = list(_walk(ROOT))
LEAVES = [(p, c) for p, c in ALL if p and not hasattr(c, "commands")]
GROUPS = [(p, c) for p, c in ALL if hasattr(c, "commands")]


def _annotation(param) -> object:
    td = getattr(param, "type_descriptor", None)  # typer >= 0.29
    if td is not None:
        return td.annotation
    return {"integer": int, "float": float}.get(getattr(getattr(param, "type", None), "name", ""))


def _numeric_option(cmd) -> str | None:
    """The first int or float option of ``cmd`` (not a flag), if any."""
    for p in cmd.params:
        if p.param_type_name != "option" or getattr(p, "is_flag", False):
            continue
        ann = _annotation(p)
        if ann in (int, float) or set(typing.get_args(ann)) & {int, float}:
            return p.opts[0]
    return None


def _check_one_line(r, *expected: str) -> str:
    out = r.output
    assert r.exit_code == 2, (r.exit_code, out)
    for word in BAD_WORDS:
        assert word not in out, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    for e in expected:
        assert e in lines[0], out
    return lines[0]


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_app_has_the_commands_we_expect():
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"init", "serve", "demo", "kpi", "plan run", "import cameras", "retrieve verify",
            "audit verify"} <= names
    assert len(LEAVES) >= 40


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "vigil")
def test_unknown_option_is_one_line(path):
    r = _invoke(*path, "--no-such-option")
    # (``vigil plan X`` means ``vigil plan run X``, so its help hint names ``plan run``)
    _check_one_line(r, "No such option: --no-such-option", f"(see '{' '.join(('vigil', *path))}")


@pytest.mark.parametrize("path", [p for p, _ in GROUPS], ids=lambda p: " ".join(p) or "vigil")
def test_unknown_subcommand_is_one_line(path):
    r = _invoke(*path, "nosuchcommand")
    line = _check_one_line(r)
    if path == ("plan",):  # ``vigil plan AREA --out DIR``: a first word that is no sub-command is the AREA
        assert "Missing option '--out'" in line
    else:
        assert "No such command 'nosuchcommand'" in line


@pytest.mark.parametrize("path", [p for p, c in LEAVES if any(x.required for x in c.params)],
                         ids=lambda p: " ".join(p))
def test_missing_required_argument_is_one_line(path):
    _check_one_line(_invoke(*path), "Missing")


@pytest.mark.parametrize("path,opt", [(p, _numeric_option(c)) for p, c in LEAVES if _numeric_option(c)],
                         ids=lambda x: " ".join(x) if isinstance(x, tuple) else x)
def test_bad_number_is_one_line(path, opt):
    _check_one_line(_invoke(*path, opt, "not-a-number"), "Invalid value", opt)


@pytest.mark.parametrize("path", [p for p, c in LEAVES if not any(x.required for x in c.params)
                                  and not any(x.param_type_name == "argument" for x in c.params)],
                         ids=lambda p: " ".join(p))
def test_extra_argument_is_one_line(path):
    _check_one_line(_invoke(*path, "unexpected-extra"), "unexpected extra argument")


def test_every_command_was_tried_with_a_bad_value():
    """Each command gets at least two kinds of bad arguments (the unknown option and one more)."""
    for path, c in LEAVES:
        kinds = [True, any(x.required for x in c.params), bool(_numeric_option(c)),
                 not any(x.required or x.param_type_name == "argument" for x in c.params)]
        assert sum(kinds) >= 2, path


def test_version():
    r = _invoke("--version")
    from importlib.metadata import version

    assert r.exit_code == 0 and r.output.strip() == f"vigil {version('vigil')}"


def _run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    e = {k: v for k, v in os.environ.items() if k not in ("VIGIL_DB", "VIGIL_HOME", "VIGIL_DEBUG")}
    return subprocess.run([VIGIL, *args], cwd=cwd, env={**e, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def _one_line(p: subprocess.CompletedProcess, *expected: str) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    for word in BAD_WORDS:
        assert word not in p.stderr and word not in p.stdout, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for e in expected:
        assert e in lines[0], p.stderr
    return lines[0]


@pytest.mark.parametrize("args,expected", [
    (["kpii"], "No such command 'kpii'"),
    (["plan", "run", "area.geojson"], "Missing option '--out'"),
    (["plan", "area.geojson", "--out"], "requires an argument"),
    (["serve", "--port", "abc"], "Invalid value for '--port'"),
    (["user", "add", "bob", "--role", "admin"], "Missing option '--region'"),
])
def test_real_command_usage_errors(tmp_path, args, expected):
    _one_line(_run(*args, cwd=tmp_path), expected)
    assert not (tmp_path / "vigil-data").exists()


def test_real_command_version(tmp_path):
    p = _run("--version", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("vigil ") and not p.stderr


def test_only_init_creates_a_database(tmp_path, monkeypatch):
    missing_dir = tmp_path / "no" / "such" / "dir" / "v.db"
    line = _one_line(_run("audit", "verify", "--db", f"sqlite:///{missing_dir}", cwd=tmp_path), "no database at")
    assert str(missing_dir) in line and not (tmp_path / "no").exists()
    # the rest in this process (one real process above is enough; each start costs seconds on 2 cores)
    monkeypatch.chdir(tmp_path)
    for name in ("VIGIL_DB", "VIGIL_HOME", "VIGIL_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path / "typo.db"
    for args in (["export", "cameras"], ["kpi"], ["record", "status"], ["analytics", "list"]):
        r = _invoke(*args, "--db", f"sqlite:///{missing}", "--home", str(tmp_path / "h"))
        _check_one_line(r, "no database at", str(missing))
        assert not missing.exists() and not (tmp_path / "h").exists()
    not_db = tmp_path / "notes.db"
    not_db.write_text("not a database\n")
    _check_one_line(_invoke("kpi", "--db", f"sqlite:///{not_db}", "--home", str(tmp_path / "h2")),
                    "cannot open the SQLite database", "not a database")
    # no --db at all: the default ./vigil-data/vigil.db is not made up either
    _check_one_line(_invoke("export", "cameras"), "no database at", "vigil init")
    assert not (tmp_path / "vigil-data").exists()
    # vigil init creates it; then the same command works
    real = tmp_path / "real.db"
    ok = _invoke("init", "--db", f"sqlite:///{real}", "--home", str(tmp_path / "h"))
    assert ok.exit_code == 0 and real.is_file(), ok.output
    again = _invoke("audit", "verify", "--db", f"sqlite:///{real}", "--home", str(tmp_path / "h"))
    assert again.exit_code == 0 and "intact" in again.stdout, again.output


def test_unreachable_database_is_one_line_naming_the_host(tmp_path):
    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://vigil:s3cret-pw@127.0.0.1:{port}/city"
    p = _run("audit", "verify", "--db", url, "--home", str(tmp_path / "h"), cwd=tmp_path)
    line = _one_line(p, f"127.0.0.1:{port}", "city")
    assert "s3cret-pw" not in p.stderr + p.stdout and "refused" in line.lower()
    assert not (tmp_path / "h").exists()  # nothing was written for a database that is not there
    r = _invoke("kpi", "--db", url, "--home", str(tmp_path / "h"))
    assert "s3cret-pw" not in _check_one_line(r, f"127.0.0.1:{port}")


def test_serve_refuses_a_busy_port_before_printing_the_url(sqlite_vigil, tmp_path):
    v = sqlite_vigil
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = _run("serve", "--port", str(port), "--db", v.settings.db_url, "--home", str(v.settings.home),
                 "--no-scheduler", "--no-analytics", cwd=tmp_path)
    _one_line(p, f"cannot listen on 127.0.0.1:{port}", "--port")
    assert "http://" not in p.stdout
    r = _invoke("serve", "--port", "70000", "--db", v.settings.db_url, "--home", str(v.settings.home))
    _check_one_line(r, "1-65535")


def test_a_bug_is_still_reported_as_one(monkeypatch, tmp_path):
    """An unexpected exception inside a command: one line, exit 70, the traceback in a private file only."""
    import vigil.cli_common as common

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(common, "load_settings", boom)
    monkeypatch.delenv("VIGIL_DEBUG", raising=False)
    r = _invoke("kpi", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert r.exit_code == 70 and "disk on fire" in r.output and "Traceback" not in r.output
    log = Path(" ".join(r.output.split()).split("written to ")[1].split(";")[0])
    assert "RuntimeError" in log.read_text() and (log.stat().st_mode & 0o077) == 0
    log.unlink()


def test_an_existing_instance_opens_on_both_databases(vigil):
    """The checks above refuse only what is wrong: a reachable database (SQLite or PostgreSQL) opens."""
    r = _invoke("audit", "verify", "--db", vigil.settings.db_url, "--home", str(vigil.settings.home))
    assert r.exit_code == 0 and "audit chain intact" in r.output, r.output


@pytest.mark.parametrize("name", sorted(_LAZY))
def test_the_help_listing_of_a_lazy_command_is_its_own_help(name):
    """`vigil --help` lists capability commands without importing them: the listed line must be theirs."""
    assert load_command(name).get_short_help_str(200) == _LAZY[name][2]


def test_a_mistyped_command_and_the_help_import_no_capability_module():
    """The unknown-command answer and `vigil --help` come without loading video, NATS, solvers or the API."""
    heavy = ["av", "cv2", "nats", "highspy", "fastapi", "matplotlib", "onnxruntime", *{m for m, _, _ in _LAZY.values()}]
    probe = ("import sys\nfrom vigil.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
             f"print('LOADED', [m for m in {heavy!r} if m in sys.modules], rc)")
    for args in (["no-such-command"], ["--help"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        line = next(x for x in out.stdout.splitlines() if x.startswith("LOADED"))
        assert line == f"LOADED [] {2 if args[0] == 'no-such-command' else 0}", (args, line, out.stderr[-500:])
