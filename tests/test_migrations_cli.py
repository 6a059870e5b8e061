import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import UniqueConstraint

from vigil.core.schema import metadata
from vigil.core.timeseries import SERIES

VIGIL = [sys.executable, "-m", "vigil"]


_PARTITION = re.compile(r"_(p\d{6,8}|default)$")


def _not_a_partition(name, type_, parent_names):
    return not (type_ == "table" and name and _PARTITION.search(name))


def _partition_key_added(diff) -> bool:
    """On PostgreSQL a unique key of a partitioned table also holds its time column (vigil.core.timeseries)."""
    keys = {spec.table: spec.column for spec in SERIES}
    if diff[0] not in ("add_constraint", "remove_constraint") or not isinstance(diff[1], UniqueConstraint):
        return False
    table, cols = diff[1].table.name, [c.name for c in diff[1].columns]
    return table in keys and (diff[0] == "add_constraint" or cols[-1] == keys[table])


def test_migrations_match_the_model(vigil):
    """The schema built by the migrations is exactly what the model declares (no drift).

    The time series' partitions, and their time column in unique keys on PostgreSQL, are not drift.
    """
    with vigil.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _not_a_partition})
        diff = compare_metadata(ctx, metadata)
    pg = vigil.db.dialect == "postgresql"
    assert [d for d in diff if not (pg and _partition_key_added(d))] == [], diff
    if pg:  # exactly the two unique keys, each once removed (as the model has it) and once added (with time)
        assert sorted(d[1].table.name for d in diff) == ["events", "events", "recording_segments",
                                                          "recording_segments"], diff


def _run(args, env, cwd, check=True):
    r = subprocess.run(VIGIL + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_cli_init_user_audit(tmp_path):
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home")}
    env.pop("VIGIL_DB", None)
    out = _run(["init", "--region", "5301", "--name", "昆明市"], env, tmp_path).stdout
    assert "password" in out and (tmp_path / "home" / "vigil.db").exists()
    assert (tmp_path / "home" / "secret.key").stat().st_mode & 0o777 == 0o600
    again = _run(["init"], env, tmp_path, check=False)
    assert again.returncode == 2 and "already has users" in again.stderr and "Traceback" not in again.stderr
    _run(["user", "add", "li", "--role", "duty_officer", "--region", "5301"], env, tmp_path)
    bad = _run(["user", "add", "x", "--role", "emperor", "--region", "5301"], env, tmp_path, check=False)
    assert bad.returncode == 2 and "unknown role" in bad.stderr and "Traceback" not in bad.stderr
    assert "intact" in _run(["audit", "verify"], env, tmp_path).stdout
    # --db wins over the environment
    other = tmp_path / "other.db"
    _run(["--help"], env, tmp_path)
    _run(["init", "--db", f"sqlite:///{other}"], env, tmp_path)
    assert other.exists()
    import sqlite3

    con = sqlite3.connect(tmp_path / "home" / "vigil.db")
    con.execute("UPDATE audit_log SET actor='mallory' WHERE seq=1")
    con.commit()
    con.close()
    broken = _run(["audit", "verify"], env, tmp_path, check=False)
    assert broken.returncode == 1 and "broken" in broken.stderr


def test_bad_database_url_is_a_clear_error(tmp_path):
    r = _run(["audit", "verify", "--db", "mysql://nowhere/x"], dict(os.environ), tmp_path, check=False)
    assert r.returncode == 2 and "unsupported database URL" in r.stderr and "Traceback" not in r.stderr


def test_readme_opens_with_the_two_commands():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    head = text[:600]
    assert "make demo" in head and "make test" in head


def test_unexpected_errors_never_show_a_traceback(tmp_path, monkeypatch, capfd):
    import vigil.cli as cli

    def boom():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "app", lambda **kw: boom())
    monkeypatch.delenv("VIGIL_DEBUG", raising=False)
    monkeypatch.delenv("VIGIL_LANG", raising=False)
    import pytest

    from vigil.i18n import cli_language

    cli_language.start("en")  # the app that would start the run is replaced: no earlier test's language lingers

    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 70
    out = capfd.readouterr().err
    assert "disk on fire" in out and "Traceback" not in out
    log = out.split("written to ")[1].split(";")[0].strip()
    assert "Traceback" in Path(log).read_text() and "RuntimeError" in Path(log).read_text()
