"""``flag_similar_text`` (R22): flag a note that nearly repeats an earlier one.

Compares the text ``field`` of the record with the same field of earlier records of the
form in ``scope`` — ``"owner"`` (the same owner's records) or a single relation field
key (records pointing at the same related record, e.g. the same customer) — created at
most ``lookback_days`` before it; only the latest ``max_candidates`` of those with text
are compared. When the best trigram similarity reaches ``threshold``, the record gets
the flag ``near_duplicate`` (version bumped, a ``record.flagged`` outbox event and an
audit event); the outcome names the matched record and its score either way.

Similarity is PostgreSQL ``pg_trgm``'s, computed the same way in Python elsewhere
(:func:`similarity`): each text is split into words, a word being a maximal run of
letters and digits of any script (so a Chinese sentence without spaces is one word),
each word is lower-cased and padded with two spaces in front and one behind, its
trigrams are its runs of three characters, and similarity is |shared trigrams| /
|all trigrams| over the two *sets*. Scores are compared rounded to 6 decimals
(``pg_trgm`` computes in single precision), so both ways flag the same records.

On PostgreSQL, one query scores every candidate with ``similarity()`` and keeps the
best; ``pg_trgm`` only counts CJK characters as letters when the database's
``LC_CTYPE`` is a UTF-8 locale (a ``C`` database splits Chinese text into nothing). The
first use on a connection checks that with ``show_trgm('中文')``; where it fails (or the
extension is missing) the Python way runs instead, over the same bounded candidates.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from dajian.builder.errors import MetadataErrorCode
from dajian.builder.metadata.checks_workflow import error
from dajian.platform.audit import record_event
from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.models import Record
from dajian.runtime.services.records import emit_event

logger = logging.getLogger(__name__)

FLAG = "near_duplicate"
TEXT_TYPES = frozenset({"text", "long_text"})
OWNER_SCOPE = "owner"
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script
_pg_trgm_ready: dict[tuple[str, str], bool] = {}


class SimilarTextErrorCode(StrEnum):
    NOT_TEXT_FIELD = "NOT_TEXT_FIELD"
    INVALID_SCOPE = "INVALID_SCOPE"


MESSAGES = {
    "NOT_TEXT_FIELD": {
        "en": "{key!r} is a {type} field; compare a text or long text field.",
        "zh-CN": "{key} 是{type}字段，请选择文本或多行文本字段。",
    },
    "INVALID_SCOPE": {
        "en": 'The scope is "owner" or a single relation field; {key!r} is neither.',
        "zh-CN": "范围应为 owner 或一个单选关联字段，{key} 都不是。",
    },
}


# --- the similarity ------------------------------------------------------------------


def trigrams(text: str) -> set[str]:
    """The trigram set of ``text`` as ``pg_trgm`` builds it (see the module docstring)."""
    found: set[str] = set()
    for word in _WORD.findall(text):
        padded = f"  {word.lower()} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return found


def similarity(a: str, b: str) -> float:
    """``pg_trgm``'s ``similarity(a, b)``: shared trigrams over all trigrams (0 when
    either text has none)."""
    first, second = trigrams(a), trigrams(b)
    if not first or not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def pg_trgm_ready() -> bool:
    """Whether the database is PostgreSQL with ``pg_trgm`` installed and counting CJK
    characters as letters (checked once per database and process)."""
    if connection.vendor != "postgresql":
        return False
    key = (connection.alias, str(connection.settings_dict.get("NAME")))
    if key not in _pg_trgm_ready:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            ready = cursor.fetchone() is not None
            if ready:
                cursor.execute("SELECT show_trgm(%s)", ["中文"])
                ready = bool(cursor.fetchone()[0])
        if not ready:
            logger.warning(
                "pg_trgm is missing or the database's LC_CTYPE does not count CJK letters; "
                "near-duplicate scores are computed in Python"
            )
        _pg_trgm_ready[key] = ready
    return _pg_trgm_ready[key]


# --- candidates and the best match --------------------------------------------------------


@dataclass(frozen=True)
class Match:
    record_id: int
    score: float


def candidates(record: Record, spec: Mapping[str, Any]) -> QuerySet[Record] | None:
    """The latest ``max_candidates`` earlier records in scope with text in the field
    (None when the record has no owner / no related record to scope by)."""
    key = spec["field"]
    lookup = f"data__{key}"
    since = record.created_at - dt.timedelta(days=int(spec.get("lookback_days", 90)))
    rows = Record.objects.filter(
        workspace_id=record.workspace_id,
        form_id=record.form_id,
        pk__lt=record.pk,
        created_at__gte=since,
        **{f"{lookup}__isnull": False},
    ).exclude(**{lookup: None})
    rows = rows.exclude(**{lookup: ""})
    scope = spec.get("scope", OWNER_SCOPE)
    if scope == OWNER_SCOPE:
        if record.owner_id is None:
            return None
        rows = rows.filter(owner_id=record.owner_id)
    else:
        related = record.data.get(scope)
        if related is None:
            return None
        rows = rows.filter(**{f"data__{scope}": related})
    return rows.order_by("-pk")[: int(spec.get("max_candidates", 200))]


def best_match(
    record: Record, spec: Mapping[str, Any], in_database: bool | None = None
) -> Match | None:
    """The most similar candidate (the newest among equals), or None when nothing
    shares a trigram with the text.
    ``in_database``: score with ``pg_trgm`` (True) or in Python (False); by default
    ``pg_trgm`` when :func:`pg_trgm_ready`."""
    text = record.data.get(spec["field"])
    if not isinstance(text, str) or not text.strip():
        return None
    rows = candidates(record, spec)
    if rows is None:
        return None
    if in_database if in_database is not None else pg_trgm_ready():
        match = _best_in_database(rows, spec["field"], text)
    else:
        scored = [
            (similarity(text, other), pk)
            for pk, other in rows.values_list("pk", f"data__{spec['field']}")
            if isinstance(other, str)
        ]
        best = max(scored, default=None)
        match = Match(best[1], best[0]) if best is not None else None
    return match if match is not None and match.score > 0 else None


def _best_in_database(rows: QuerySet[Record], key: str, text: str) -> Match | None:
    from django.contrib.postgres.search import TrigramSimilarity

    best = (
        Record.objects.filter(pk__in=rows.values("pk"))
        .annotate(score=TrigramSimilarity(KT(f"data__{key}"), text))
        .order_by("-score", "-pk")
        .values_list("pk", "score")
        .first()
    )
    return Match(best[0], float(best[1])) if best is not None else None


# --- the action ---------------------------------------------------------------------------


@action
class FlagSimilarTextAction(ActionType):
    """Spec: ``field``, ``threshold`` (0–1, default 0.6), ``scope`` (``"owner"`` or a
    single relation field key, default owner), ``lookback_days`` (default 90),
    ``max_candidates`` (default 200)."""

    type = "flag_similar_text"
    label = {"zh-CN": "标记雷同跟进记录", "en": "Flag near-duplicate text"}
    schema = {
        "type": "object",
        "required": ["type", "field"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "flag_similar_text"},
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "threshold": {"type": "number", "minimum": 0, "maximum": 1},
            "scope": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "lookback_days": {"type": "integer", "minimum": 1, "maximum": 3660},
            "max_candidates": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        errors = []
        key = spec["field"]
        field_type = ctx.fields.get(key)
        if field_type is None:
            errors.append(error(MetadataErrorCode.UNKNOWN_FIELD, f"{path}.field", key=key))
        elif field_type.type not in TEXT_TYPES:
            text = format_message(MESSAGES, "NOT_TEXT_FIELD", key=key, type=field_type.type)
            errors.append(
                ErrorDetail.at(f"{path}.field", SimilarTextErrorCode.NOT_TEXT_FIELD, text)
            )
        scope = spec.get("scope", OWNER_SCOPE)
        scope_type = ctx.fields.get(scope)
        single_relation = (
            scope_type is not None
            and scope_type.type == "relation"
            and not scope_type.definition.get("multiple")
        )
        if scope != OWNER_SCOPE and not single_relation:
            text = format_message(MESSAGES, "INVALID_SCOPE", key=scope)
            errors.append(ErrorDetail.at(f"{path}.scope", SimilarTextErrorCode.INVALID_SCOPE, text))
        return errors

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        match = best_match(target.record, ctx.spec)
        if match is None:
            return Outcome.done(matched=None, score=0.0, flagged=False)
        score = round(match.score, 6)
        flagged = False
        if score >= float(ctx.spec.get("threshold", 0.6)):
            flagged = _flag(ctx, target.record.pk)
        return Outcome.done(matched=match.record_id, score=score, flagged=flagged)


def _flag(ctx: RunContext, record_id: int) -> bool:
    """Add :data:`FLAG` to the record (locked); False when it already has it."""
    record = (
        Record.objects.select_for_update(of=("self",))
        .only("pk", "workspace_id", "form_id", "version", "flags")
        .get(pk=record_id)
    )
    if FLAG in record.flags:
        return False
    before = list(record.flags)
    record.flags = sorted({*before, FLAG})
    record.version += 1
    record.updated_at = timezone.now()
    record.save(update_fields=["flags", "version", "updated_at"])
    emit_event(ctx.actor, "record.flagged", record, flag=FLAG, automation=ctx.automation.source)
    record_event(
        ctx.actor, "record.flagged", "Record", str(record.pk), {"flags": [before, record.flags]}
    )
    return True
