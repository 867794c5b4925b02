"""Helpers shared by the scalar field types (not a field type itself): operator sets
and full-width → half-width normalisation."""

from __future__ import annotations

import unicodedata

EQUALITY_OPS = frozenset({"eq", "ne", "in", "nin", "isnull"})
RANGE_OPS = EQUALITY_OPS | {"lt", "lte", "gt", "gte", "between"}
TEXT_OPS = EQUALITY_OPS | {"contains", "icontains", "startswith"}


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation (U+FF11 "1", U+FF0C ",") as ASCII; trimmed."""
    return unicodedata.normalize("NFKC", text).strip()
