"""pydantic's per-field validation messages in the caller's language, by the error's ``type`` and ``ctx``.

The catalogue holds one template per error type (``msgctxt "validation"``, ``msgid`` the type, the ``msgstr``
naming the ``ctx`` values it shows: ``最多 {max_length} 个字符``). A ``value_error`` carries one of Vigil's own
messages, which is translated as any library message is. A 422's English ``msg`` is never parsed; only a
pydantic message that already sits inside one of Vigil's own lines (a zones file's "zones.0.name: Field
required") is read back into its type and ctx by pydantic's own templates (:func:`english_message`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from vigil.i18n import translate_line, translator

__all__ = ["VALIDATION_CONTEXT", "english_message", "field_message", "field_where"]

#: The gettext context of the per-type templates.
VALIDATION_CONTEXT = "validation"
#: Error types whose ``ctx["error"]`` is the whole message (a validator's own words).
_OWN_WORDS = ("value_error", "assertion_error")
#: Where pydantic says a value came from; left out of :func:`field_where` when a field name follows.
_SOURCES = ("body", "query", "path", "header", "cookie")


def _ctx_value(key: str, value: Any, lang: str) -> str:
    """A ``ctx`` value as the template shows it: parser reasons translated, ``'a', 'b' or 'c'`` joined in ``lang``."""
    text = str(value)
    if key in ("expected", "expected_schemes") and " or " in text:
        head, _, last = text.rpartition(" or ")
        return f"{head} {translator(lang).pgettext(VALIDATION_CONTEXT, 'or')} {last}"
    return translate_line(text, lang) if key == "error" else text


def field_message(error: Mapping[str, Any], lang: str) -> str:
    """One pydantic error's message in ``lang`` (its English ``msg`` where the catalogue has no template)."""
    english = str(error.get("msg", ""))
    if lang == "en":
        return english
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    if kind in _OWN_WORDS and "error" in ctx:
        own = str(ctx["error"])
        said = translate_line(own, lang)
        return said if said != own else english
    template = translator(lang).pgettext(VALIDATION_CONTEXT, kind)
    if template == kind:
        return english
    try:
        return template.format(**{k: _ctx_value(k, v, lang) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):  # a template naming a value this error did not carry
        return english


def field_where(loc: list[Any] | tuple[Any, ...]) -> str:
    """A location for a sentence: ``("body", "cameras", 0, "lon")`` -> ``cameras.0.lon`` (``body`` alone stays)."""
    parts = [str(x) for x in loc]
    if len(parts) > 1 and parts[0] in _SOURCES:
        parts = parts[1:]
    return ".".join(parts)


@functools.cache
def _english_forms() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Pydantic's English message templates as patterns (most specific first), each with its error type."""
    try:
        from pydantic_core._pydantic_core import list_all_errors
    except ImportError:  # pragma: no cover - a pydantic-core without its error list: nothing is read back
        return ()
    forms: list[tuple[int, re.Pattern[str], str]] = []
    for e in list_all_errors():
        parts = re.split(r"\{(\w+)\}", str(e["message_template_python"]))
        if len(set(parts[1::2])) != len(parts[1::2]):
            continue  # a value named twice: not read back
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        forms.append((sum(map(len, parts[::2])), re.compile(rx + r"\Z", re.S), str(e["type"])))
    forms.sort(key=lambda f: -f[0])  # the most fixed words first: "a valid list" before "{expected}"
    return tuple((rx, kind) for _, rx, kind in forms)


def english_message(text: str, lang: str) -> str | None:
    """A pydantic English message (``Input should be greater than or equal to 0``) in ``lang``; None if it is none."""
    for rx, kind in _english_forms():
        m = rx.match(text)
        if m:
            said = field_message({"type": kind, "msg": text, "ctx": m.groupdict()}, lang)
            return None if said == text else said
    return None
