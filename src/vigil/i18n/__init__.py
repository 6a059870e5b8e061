"""Server-side translations: gettext catalogues (``.po``) for the CLI's messages, reports and notifications.

The catalogues live in ``vigil/i18n/locale/<ll_CC>/LC_MESSAGES/vigil.po`` and are compiled in memory with
Babel when first used (``make i18n-check`` compiles them the same way). Message ids are the English text,
so English needs no catalogue. The language is, in order: an explicit ``--lang``, ``VIGIL_LANG``, the
instance setting (``vigil lang set``), then English.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from sqlalchemy.orm import Session

from vigil.core.errors import InputError
from vigil.core.models import Secret

__all__ = ["LANG_SETTING", "LANGUAGES", "compile_catalogue", "get_instance_lang", "normalize", "resolve_lang",
           "set_instance_lang", "translator"]

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
    po = _LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "vigil.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang.replace("-", "_"))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


@lru_cache(maxsize=8)
def translator(lang: str) -> NullTranslations:
    """The translations of ``lang`` (English: the identity)."""
    data = compile_catalogue(lang)
    return Translations(io.BytesIO(data), domain="vigil") if data else NullTranslations()


def get_instance_lang(session: Session) -> str | None:
    """The instance's default language, if one is set."""
    row = session.get(Secret, LANG_SETTING)
    return row.value if row else None


def set_instance_lang(session: Session, lang: str) -> str:
    """Set the instance's default language; returns it normalised."""
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
