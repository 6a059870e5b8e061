"""Server-side translations: gettext catalogues (``.po``) for the CLI's messages, reports and notifications.

The catalogues live in ``vigil/i18n/locale/<ll_CC>/LC_MESSAGES/vigil.po`` and are compiled in memory with
Babel when first used (the stdlib gettext reads the result). Message ids are the English text,
so English needs no catalogue. The language is, in order: an explicit ``--lang``, ``VIGIL_LANG``, the
instance setting (``vigil lang set``), then English.
"""

from __future__ import annotations

import gettext
import io
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.core.errors import InputError

if TYPE_CHECKING:  # the database layer loads only when a command opens the instance
    from sqlalchemy.orm import Session

__all__ = ["CLOSED_SET_PLACEHOLDERS", "LANG_SETTING", "LANGUAGES", "CliLanguage", "cli_language", "compile_catalogue", "get_instance_lang",
           "normalize", "resolve_lang", "set_instance_lang", "take_lang_option", "translate_line", "translate_value",
           "translator", "VALUE_CONTEXT"]

#: Languages with a catalogue (``en`` is the source language).
LANGUAGES = ("en", "zh-CN")
#: The ``instance_settings`` key that holds the instance's default language.
LANG_SETTING = "language"
_LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "en_us": "en", "zh": "zh-CN", "zh-cn": "zh-CN",
            "zh_cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN"}


def normalize(lang: str) -> str:
    """``lang`` as one of :data:`LANGUAGES` (``zh_CN.UTF-8`` -> ``zh-CN``); anything else is an :class:`InputError`."""
    key = lang.strip().split(".", 1)[0].lower()
    if key not in _ALIASES:
        raise InputError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return _ALIASES[key]


def compile_catalogue(lang: str) -> bytes:
    """The ``.mo`` bytes of ``lang``'s catalogue (``b''`` for English)."""
    lang = normalize(lang)
    if lang == "en":
        return b""
    # Babel only when a catalogue is compiled (once per process and language): English runs never load it
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = _LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "vigil.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang.replace("-", "_"))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


@lru_cache(maxsize=8)
def translator(lang: str) -> gettext.NullTranslations:
    """The translations of ``lang`` (English: the identity)."""
    data = compile_catalogue(lang)
    return gettext.GNUTranslations(io.BytesIO(data)) if data else gettext.NullTranslations()


def get_instance_lang(session: Session) -> str | None:
    """The instance's default language, if one is set."""
    from vigil.core.models import Secret

    row = session.get(Secret, LANG_SETTING)
    return row.value if row else None


def set_instance_lang(session: Session, lang: str) -> str:
    """Set the instance's default language; returns it normalised."""
    from vigil.core.models import Secret

    lang = normalize(lang)
    row = session.get(Secret, LANG_SETTING)
    if row is None:
        session.add(Secret(key=LANG_SETTING, value=lang))
    else:
        row.value = lang
    return lang


def resolve_lang(explicit: str | None = None, *, instance: str | None = None) -> str:
    """The language to speak: ``explicit``, else ``VIGIL_LANG``, else ``instance``, else English."""
    for cand in (explicit, os.environ.get("VIGIL_LANG"), instance):
        if cand:
            return normalize(cand)
    return "en"


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=8)
def _patterns(lang: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """The catalogue's messages with ``{name}`` placeholders, as (regex over the English text, translation)."""
    cat = translator(lang)
    out = []
    for msgid, msgstr in getattr(cat, "_catalog", {}).items():
        if isinstance(msgid, str) and msgstr and _PLACEHOLDER.search(msgid):
            parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, ...
            rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            out.append((re.compile(rx + r"\Z", re.S), msgstr))
    return tuple(sorted(out, key=lambda x: -len(x[0].pattern)))  # the most specific first


#: The gettext context of the closed sets of words that appear as values inside messages (states, roles,
#: lifecycles: ``msgctxt "value"``, ``msgid`` the word the server stores).
VALUE_CONTEXT = "value"
#: The placeholders of the catalogue's messages that hold such a word (``plan job {job} is already {state}``);
#: any other value (a user's name, an ID) is never read as one, even when it is spelt ``admin``.
CLOSED_SET_PLACEHOLDERS = frozenset({"state", "old", "new", "role"})


def translate_value(value: str, lang: str, *, closed_set: bool = False) -> str:
    """A value from a message in ``lang``: a word of a closed set, a message of its own, else itself.

    With ``closed_set`` the value is a word of the catalogue's ``msgctxt "value"`` (``done``, ``resolved``,
    ``admin``); a value with spaces may be a message inside another (``zone 'a': {why}``). IDs, names and
    numbers are left alone.
    """
    if lang == "en" or not value:
        return value
    if closed_set:
        word = translator(lang).pgettext(VALUE_CONTEXT, value)
        if word != value:
            return word
    return translate_line(value, lang) if " " in value.strip() else value


def translate_line(text: str, lang: str) -> str:
    """``text`` in ``lang``: a catalogue entry, exact or by its ``{name}`` placeholders, else ``text`` itself.

    The values a placeholder matched go through :func:`translate_value`; a line no entry matches whole may
    still be ``where: message`` with a message the catalogue has.
    """
    if lang == "en" or not text:
        return text
    exact = translator(lang).gettext(text)
    if exact != text:
        return exact
    for rx, msgstr in _patterns(lang):
        m = rx.match(text)
        if m:
            return msgstr.format(**{k: translate_value(v, lang, closed_set=k in CLOSED_SET_PLACEHOLDERS)
                                    for k, v in m.groupdict().items()})
    where, colon, what = text.partition(": ")  # "where: message", the message one of the catalogue's
    said = translate_line(what, lang) if colon else what
    if said != what:
        return f"{where}：{said}"
    from vigil.i18n.validation import english_message  # a pydantic message inside one of Vigil's lines

    return english_message(text, lang) or text


def take_lang_option(args: list[str]) -> tuple[list[str], str | None]:
    """``args`` without ``--lang X`` / ``--lang=X`` (anywhere before ``--``), and the language it named."""
    out: list[str] = []
    lang = None
    it = iter(args)
    for a in it:
        if a == "--":
            out.append(a)
            out.extend(it)
            break
        if a == "--lang":
            lang = next(it, "")
            if not lang:
                raise InputError("--lang needs a value: zh-CN or en")
        elif a.startswith("--lang="):
            lang = a.split("=", 1)[1]
        else:
            out.append(a)
    return out, lang


class CliLanguage:
    """The language of one ``vigil`` run: ``--lang``, else ``VIGIL_LANG``, else the instance setting, else English."""

    def __init__(self) -> None:
        self.explicit: str | None = None
        self.instance: str | None = None

    def start(self, explicit: str | None) -> None:
        """Begin a run (each in-process run starts afresh); an unknown language is an :class:`InputError`."""
        self.explicit, self.instance = None, None
        self.explicit = normalize(explicit) if explicit else None
        if os.environ.get("VIGIL_LANG"):
            normalize(os.environ["VIGIL_LANG"])

    def adopt_instance(self, session: Session) -> None:
        """Take the instance's default language (used only when neither ``--lang`` nor ``VIGIL_LANG`` is set)."""
        value = get_instance_lang(session)
        self.instance = normalize(value) if value else None

    @property
    def lang(self) -> str:
        """The language to speak now."""
        return resolve_lang(self.explicit, instance=self.instance)

    def gettext(self, text: str) -> str:
        """``text`` translated into the run's language."""
        return translator(self.lang).gettext(text)

    def line(self, text: str) -> str:
        """A message line (possibly with values in it) translated into the run's language."""
        return translate_line(text, self.lang)


#: The language of the running ``vigil`` command (one process, one command at a time).
cli_language = CliLanguage()
