"""Localised texts: a text in metadata is a string or a ``{locale: text}`` map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation

DEFAULT_LOCALE = "zh-CN"
SUPPORTED_LOCALES = ("zh-CN", "en")


def current_locale() -> str:
    """The request's locale in metadata spelling (``zh-CN`` or ``en``)."""
    lang = (translation.get_language() or "zh-hans").lower()
    return "en" if lang.startswith("en") else "zh-CN"


def localize(text: Any, locale: str | None = None) -> str:
    """Pick the caller's language from a localised text, falling back sensibly."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, dict):
        loc = locale or current_locale()
        for candidate in (loc, loc.split("-")[0], "en", DEFAULT_LOCALE):
            if candidate in text and isinstance(text[candidate], str):
                return text[candidate]
        for value in text.values():
            if isinstance(value, str):
                return value
    return str(text)


def format_message(
    messages: Mapping[str, Any], code: str, default: str | None = None, **params: Any
) -> str:
    """The caller's-language text of ``code`` in a ``{code: {locale: text}}`` table
    (``default``, else the code, when missing), formatted with ``params``; a template
    whose placeholders the params do not fill is returned unformatted."""
    template = messages.get(code)
    text = localize(template) if template else (default or code)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text
