"""Duplicate rules (R5): normalised keys per rule, stored beside the record.

A rule names up to five fields and a normalisation (``text``: Unicode NFKC, case-folded,
whitespace removed; ``digits``: digits only; ``exact``). Records whose normalised values
are equal share a key. ``block`` rules refuse the second record (a unique index makes that
hold under concurrent creates); ``warn`` rules save it and flag ``possible_duplicate``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dajian.builder.definitions import FormDefinition

_SPACE = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D+")


@dataclass(frozen=True)
class DedupeKey:
    rule: str
    key_hash: str
    blocking: bool
    fields: tuple[str, ...]
    message: Any


def normalise(value: Any, how: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if how == "exact":
        return text
    if how == "digits":
        return _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", text))
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def dedupe_keys(definition: FormDefinition, data: Mapping[str, Any]) -> list[DedupeKey]:
    """The keys of ``data`` for each duplicate rule whose fields are all filled."""
    keys = []
    for rule in definition.duplicates:
        values = [data.get(f) for f in rule["fields"]]
        if any(v in (None, "", []) for v in values):
            continue
        normalised = [normalise(v, rule.get("normalize", "text")) for v in values]
        if any(not n for n in normalised):
            continue
        digest = hashlib.sha256(
            json.dumps([rule["key"], normalised], ensure_ascii=False).encode()
        ).hexdigest()
        keys.append(
            DedupeKey(
                rule=rule["key"],
                key_hash=digest,
                blocking=rule.get("action", "block") == "block",
                fields=tuple(rule["fields"]),
                message=rule.get("message"),
            )
        )
    return keys
