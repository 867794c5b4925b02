"""Localised texts: a text in metadata is a string or a ``{locale: text}`` map."""

from __future__ import annotations

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
