"""pydantic's per-field validation messages in the caller's language, by the error's ``type`` and ``ctx``.

The catalogue holds one template per error type (``msgctxt "validation"``, ``msgid`` the type, the ``msgstr``
naming the ``ctx`` values it shows: ``最多 {max_length} 个字符``). A ``value_error`` carries one of Vigil's own
messages, which is translated as any library message is. pydantic's English ``msg`` is never parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.i18n import translate_line, translator

__all__ = ["VALIDATION_CONTEXT", "field_message", "field_where"]

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
