"""Every message Vigil raises to a user has a zh-CN catalogue entry: a scan of the source's ``raise`` sites.

A ``raise SomeError("...")`` or ``raise SomeError(f"...")`` whose class is a :class:`~vigil.core.errors.VigilError`
reaches a person: as the CLI's error line or a problem's ``detail``. Each is turned into a sample line (every
``{value}`` replaced by a token) and must come out of :func:`vigil.i18n.translate_line` in Chinese. Builtin errors
(``ValueError``, ``RuntimeError``...) are bugs that reach nobody but the log: the user sees "internal error".
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import vigil
from vigil.core import errors
from vigil.i18n import translate_line

SRC = Path(vigil.__file__).resolve().parent
#: (file relative to src/vigil, message template) of raises that reach no user, each with its reason
INTERNAL = {
    ("worker/fence.py", "a later lease holder has fenced this write off"):
        "the worker's stale-writer guard: the worker stops the job and logs it; no request or command sees it",
}
_TOKEN = "x7"


def _user_errors() -> set[str]:
    """Names of the VigilError classes (vigil.core.errors and every subclass declared under src/vigil)."""
    names = {n for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.VigilError)}
    bases: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                    if isinstance(b, ast.Name | ast.Attribute))
    grown = True
    while grown:
        more = {n for n, bs in bases.items() if n not in names and bs & names}
        names |= more
        grown = bool(more)
    return names


def _message(arg: ast.expr) -> tuple[str, str] | None:
    """(template with ``{}`` holes, sample line) of a literal or f-string message, else None."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value, arg.value
    if not isinstance(arg, ast.JoinedStr):
        return None
    template, sample = [], []
    for part in arg.values:
        if isinstance(part, ast.Constant):
            template.append(str(part.value))
            sample.append(str(part.value))
        else:
            assert isinstance(part, ast.FormattedValue)
            template.append("{}")
            sample.append(repr(_TOKEN) if part.conversion == ord("r") else _TOKEN)
    return "".join(template), "".join(sample)


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _raises() -> list[tuple[str, int, str, str]]:
    """(file, line, template, sample) of every user-facing raise under src/vigil, and of every import row's
    reason (``RowError(line, field, reason)``: a problem's ``errors[].reason``)."""
    user = _user_errors()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            said = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                said = _message(node.exc.args[0]) if _called(node.exc) in user else None
            elif isinstance(node, ast.Call) and _called(node) == "RowError" and len(node.args) >= 3:
                said = _message(node.args[2])
            if said is not None:
                found.append((rel, node.lineno, *said))
    return found


def test_the_scan_sees_the_raise_sites():
    found = _raises()
    files = {f.split("/", 1)[0] for f, *_ in found}
    assert len(found) > 450 and {"gb28181", "analytics", "health", "sim", "demo", "registry"} <= files
    templates = {(f, t) for f, _, t, _ in found}
    assert ("sim/faults.py", "unknown fault {}; known: {}") in templates
    assert ("gb28181/store.py", "needs 1 to 128 characters") in templates  # an import row's reason


def test_every_user_facing_raise_has_a_chinese_entry():
    untranslated = []
    for rel, line, template, sample in _raises():
        if (rel, template) in INTERNAL:
            continue
        if len(re.sub(r"\W", "", template.replace("{}", ""))) < 2:
            continue  # only values ("{where}: {why}"): the line is its parts, each translated as a message
        if translate_line(sample, "zh-CN") == sample:
            untranslated.append(f"{rel}:{line}: {template}")
    assert untranslated == []


@pytest.mark.parametrize(("rel", "template"), sorted(INTERNAL))
def test_the_internal_allow_list_names_real_raise_sites(rel, template):
    assert (rel, template) in {(f, t) for f, _, t, _ in _raises()}, "drop the stale entry"
