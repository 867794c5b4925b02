"""Promoted columns: the fields dashboards aggregate, copied into typed slot columns of
:class:`~dajian.runtime.models.RecordFact` (DESIGN §4).

A group-by over a JSON key of 1,000,000 records costs 0.4–0.9 s; the same over the
narrow typed fact rows 0.1–0.2 s. So publishing a dashboard calls :func:`promote` for
each form it reads, and the dashboard reads facts (:func:`fact_queryset`) when
:func:`promoted_columns` covers every field a widget uses. PostgreSQL only: on SQLite
:func:`promote` does nothing and :func:`promoted_columns` is None (dashboards read the
JSON there).

How a fact stays equal to its record: :func:`promote` installs, per form, a PL/pgSQL
trigger function ``dajian_fact_<form id>()`` and two row triggers on ``runtime_record``
(``…_write`` AFTER INSERT OR UPDATE, ``…_delete`` AFTER DELETE; their WHEN clause names
the form, so other forms' writes only pay the comparison). Every write path — the record
service, bulk ``UPDATE``s of stages, owners and statuses, ``COPY`` — therefore keeps the
fact in the same transaction. The slot values are typed casts of ``data`` that never
fail: a value that does not parse (wrong JSON type, bad text, out of range) becomes NULL.

What each slot holds (``promoted_columns`` maps field keys to slots):
- ``t1``–``t8``: text, single select, email, phone, url (the JSON string); single user,
  relation and department fields (the id as text, ``"42"``); text formulas;
- ``n1``–``n8``: number, money, percent, rating and numeric formulas as
  ``numeric(30,8)`` (rounded to 8 decimals; JSON numbers or decimal strings);
- ``d1``–``d4``: datetime fields and formulas (the UTC instant of the ISO text), and
  date fields as the instant of **local midnight in the workspace's time zone** of that
  day, so a date buckets (``AT TIME ZONE <workspace zone>``) into its own day, week and
  month exactly as a datetime does; a filter on a date field compares with the local
  midnight of the filter's date (:func:`date_instant`);
- ``d1_on``–``d4_on`` and ``created_on``: the local calendar date, in the workspace's
  time zone, of each d-slot and of ``created_at`` (a date field: its own day), so day,
  week, month, quarter, year and weekday buckets read a plain date instead of
  converting every row's instant to the zone (:data:`LOCAL_DATES`).
Multiple-valued fields and other types (long text, multi select, boolean, location…)
are not promoted: widgets using them read the JSON.

Slots are assigned in the order fields are first promoted and never move; a field whose
type changes to another slot kind, or that leaves the form, frees its slot. The trigger
function's SQL is hashed (:attr:`FormPromotion.trigger_hash`); only a changed hash
re-creates it and backfills the form's facts with one ``INSERT … SELECT … ON CONFLICT DO
UPDATE`` that rewrites only the facts whose values differ. That re-install takes a
``SHARE ROW EXCLUSIVE`` lock on ``runtime_record`` until the caller's transaction ends,
so record writes wait for the backfill (seconds per million records of the form):
otherwise a write racing the backfill could store a fact computed by the previous
function. Publishing therefore promotes after its commit, in a short transaction per
form (:mod:`.hooks`), so the lock covers the promotion only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import FieldType
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.calendars.store import time_zone_of
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail
from dajian.platform.models import Workspace
from dajian.platform.permissions import Action
from dajian.runtime.models import FormPromotion, Record, RecordFact
from dajian.runtime.models.facts import NUMBER_SLOTS, TEXT_SLOTS, TIME_SLOTS
from dajian.runtime.models.records import row_scope_condition
from dajian.runtime.policies import definition_of

# Bump when the generated SQL changes meaning: every form's trigger is then re-created
# (and its facts backfilled) on its next promotion.
SQL_VERSION = "2"
SLOTS: dict[str, tuple[str, ...]] = {"t": TEXT_SLOTS, "n": NUMBER_SLOTS, "d": TIME_SLOTS}
# Record columns a widget may name that every fact carries anyway (or, for org_unit,
# derives from owner): promoting them is a no-op.
SYSTEM_FIELDS = frozenset(
    {"id", "stage", "status", "owner", "org_unit", "created_at", "updated_at", "flags"}
)
_TEXT_TYPES = frozenset({"text", "single_select", "email", "phone", "url"})
_ID_TYPES = frozenset({"user", "relation", "department"})
_NUMBER_TYPES = frozenset({"number", "money", "percent", "rating"})
# numeric(30,8) holds |x| < 10^22
_NUMBER_LIMIT = "1e22"
_SYSTEM_COLUMNS = (
    ("record_id", "id"),
    ("workspace_id", "workspace_id"),
    ("form_id", "form_id"),
    ("owner_id", "owner_id"),
    ("stage", "stage"),
    ("status", "status"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("flags", "flags"),
)
ALL_SLOTS = (*TEXT_SLOTS, *NUMBER_SLOTS, *TIME_SLOTS)
# The column holding the local date (workspace time zone) of a time column or slot.
LOCAL_DATES = {"created_at": "created_on", **{slot: f"{slot}_on" for slot in TIME_SLOTS}}
_KIND_NAMES = {"t": "text", "n": "number", "d": "date and time"}


def cast_of(field_type: FieldType) -> str | None:
    """How a field's stored value becomes a slot value: ``text``, ``id``, ``number``,
    ``date``, ``datetime``, or None when the field cannot be promoted."""
    if field_type.type == "formula":
        result = getattr(field_type, "result_field", None)
        return None if result is None else cast_of(result)
    if field_type.type in _ID_TYPES:
        return None if field_type.definition.get("multiple") else "id"
    if field_type.type in _TEXT_TYPES:
        return "text"
    if field_type.type in _NUMBER_TYPES:
        return "number"
    if field_type.type in ("date", "datetime"):
        return field_type.type
    return None


def slot_kind(cast: str) -> str:
    """The slot family of a cast: ``t``, ``n`` or ``d``."""
    return {"text": "t", "id": "t", "number": "n", "date": "d", "datetime": "d"}[cast]


def date_instant(value: str, zone: ZoneInfo) -> dt.datetime:
    """The instant a date slot stores for the date ``value`` (``2026-01-05``): local
    midnight of that day in ``zone`` (the workspace's time zone)."""
    day = dt.date.fromisoformat(value)
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


# --- SQL generation ------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _int(text: str, start: int, length: int) -> str:
    return f"substr({text}, {start}, {length})::int"


def _valid_day(text: str) -> str:
    """SQL: whether the (regex-checked) ``YYYY-MM-DD`` at the start of ``text`` is a
    calendar day. Only called once year and month are known to be in range."""
    first = f"make_date({_int(text, 1, 4)}, {_int(text, 6, 2)}, 1)"
    last = f"extract(day from {first} + interval '1 month - 1 day')::int"
    return f"{_int(text, 9, 2)} BETWEEN 1 AND {last}"


def _checked_day(text: str, then: str) -> str:
    """SQL: ``then`` when the date part of ``text`` is a real day, else NULL. Nested
    CASEs, because SQL does not promise the order in which AND evaluates its terms."""
    year_month = f"{_int(text, 1, 4)} >= 1 AND {_int(text, 6, 2)} BETWEEN 1 AND 12"
    return f"CASE WHEN {year_month} THEN CASE WHEN {_valid_day(text)} THEN {then} END END"


def _bounded(number: str) -> str:
    rounded = f"round({number}, 8)"
    return f"CASE WHEN abs({rounded}) < {_NUMBER_LIMIT} THEN {rounded} END"


def slot_sql(cast: str, key: str, row: str, zone: str) -> str:
    """The SQL expression of a slot: field ``key`` of the record row ``row`` (``NEW``
    in the trigger, an alias in the backfill) cast by ``cast``; never raises."""
    json = f"({row}.data -> {_literal(key)})"
    text = f"({row}.data ->> {_literal(key)})"
    kind = f"jsonb_typeof({json})"
    if cast == "text":
        return f"CASE WHEN {kind} = 'string' THEN {text} END"
    if cast == "id":
        digits = "'^[0-9]{1,18}$'"
        return f"CASE WHEN {kind} IN ('number', 'string') AND {text} ~ {digits} THEN {text} END"
    if cast == "number":
        decimal = r"'^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$'"
        return (
            f"CASE {kind} WHEN 'number' THEN {_bounded(f'{json}::numeric')} "
            f"WHEN 'string' THEN CASE WHEN length({text}) <= 64 AND {text} ~ {decimal} "
            f"THEN {_bounded(f'{text}::numeric')} END END"
        )
    if cast == "date":
        local_midnight = (
            f"make_date({_int(text, 1, 4)}, {_int(text, 6, 2)}, {_int(text, 9, 2)})::timestamp "
            f"AT TIME ZONE {_literal(zone)}"
        )
        shape = r"'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
        return (
            f"CASE WHEN {kind} = 'string' AND {text} ~ {shape} "
            f"THEN {_checked_day(text, local_midnight)} END"
        )
    if cast == "datetime":
        shape = (
            r"'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
            r"(Z|[-+][0-9]{2}:[0-9]{2})$'"
        )
        clock = (
            f"{_int(text, 12, 2)} <= 23 AND {_int(text, 15, 2)} <= 59 "
            f"AND {_int(text, 18, 2)} <= 59 AND (right({text}, 1) = 'Z' OR "
            f"(substr(right({text}, 5), 1, 2)::int <= 15 AND right({text}, 2)::int <= 59))"
        )
        instant = f"CASE WHEN {clock} THEN {text}::timestamptz END"
        return (
            f"CASE WHEN {kind} = 'string' AND {text} ~ {shape} "
            f"THEN {_checked_day(text, instant)} END"
        )
    raise ValueError(f"unknown cast {cast!r}")


def local_date_sql(cast: str, key: str, row: str, zone: str) -> str:
    """The SQL expression of a d-slot's local date column (``d1_on``…): the calendar
    day in ``zone`` of a datetime field's instant, a date field's own day; NULL
    whenever the slot is NULL."""
    if cast == "date":
        text = f"({row}.data ->> {_literal(key)})"
        kind = f"jsonb_typeof({row}.data -> {_literal(key)})"
        day = f"make_date({_int(text, 1, 4)}, {_int(text, 6, 2)}, {_int(text, 9, 2)})"
        shape = r"'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
        return (
            f"CASE WHEN {kind} = 'string' AND {text} ~ {shape} THEN {_checked_day(text, day)} END"
        )
    if cast == "datetime":
        return f"(({slot_sql(cast, key, row, zone)}) AT TIME ZONE {_literal(zone)})::date"
    raise ValueError(f"no local date for cast {cast!r}")


def _names(form_id: int) -> tuple[str, str, str]:
    """The trigger function's and the two triggers' names of a form."""
    base = f"dajian_fact_{int(form_id)}"
    return base, f"{base}_write", f"{base}_delete"


def _values_sql(casts: Mapping[str, tuple[str, str]], row: str, zone: str) -> list[str]:
    """The fact's column values for the record ``row``: system columns, the local date
    of ``created_at``, every slot (NULL when unassigned, so a freed slot is cleared),
    then the local date of every d-slot."""
    by_slot = {slot: slot_sql(cast, key, row, zone) for key, (slot, cast) in casts.items()}
    on_slot = {
        LOCAL_DATES[slot]: local_date_sql(cast, key, row, zone)
        for key, (slot, cast) in casts.items()
        if slot in TIME_SLOTS
    }
    created_on = f"({row}.created_at AT TIME ZONE {_literal(zone)})::date"
    return (
        [f"{row}.{source}" for _, source in _SYSTEM_COLUMNS]
        + [created_on]
        + [by_slot.get(slot, "NULL") for slot in ALL_SLOTS]
        + [on_slot.get(LOCAL_DATES[slot], "NULL") for slot in TIME_SLOTS]
    )


def _columns() -> list[str]:
    """The fact's columns in the order :func:`_values_sql` gives their values."""
    return [
        *(target for target, _ in _SYSTEM_COLUMNS),
        LOCAL_DATES["created_at"],
        *ALL_SLOTS,
        *(LOCAL_DATES[slot] for slot in TIME_SLOTS),
    ]


def _upsert_tail() -> str:
    """Update a fact that exists, only when a value differs: a backfill that changes
    nothing (a republished form, the same slots) writes no row versions."""
    columns = _columns()[1:]
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    table = RecordFact._meta.db_table
    current = ", ".join(f"{table}.{c}" for c in columns)
    new = ", ".join(f"EXCLUDED.{c}" for c in columns)
    return (
        f"ON CONFLICT (record_id) DO UPDATE SET {assignments} "
        f"WHERE ({current}) IS DISTINCT FROM ({new})"
    )


def _column_list() -> str:
    return ", ".join(_columns())


def trigger_function_sql(form_id: int, casts: Mapping[str, tuple[str, str]], zone: str) -> str:
    """``CREATE OR REPLACE FUNCTION`` of the form's trigger function. ``casts`` maps
    field keys to ``(slot, cast)``."""
    function, _, _ = _names(form_id)
    facts = RecordFact._meta.db_table
    values = ",\n      ".join(_values_sql(casts, "NEW", zone))
    return f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- dajian promoted facts v{SQL_VERSION}, form {int(form_id)}
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {facts} WHERE record_id = OLD.id;
    RETURN NULL;
  END IF;
  INSERT INTO {facts} ({_column_list()})
    VALUES (
      {values})
    {_upsert_tail()};
  RETURN NULL;
END
$fn$"""


def _backfill_sql(form_id: int, casts: Mapping[str, tuple[str, str]], zone: str) -> str:
    values = ", ".join(_values_sql(casts, "r", zone))
    return (
        f"INSERT INTO {RecordFact._meta.db_table} ({_column_list()}) "
        f"SELECT {values} FROM {Record._meta.db_table} r WHERE r.form_id = {int(form_id)} "
        f"{_upsert_tail()}"
    )


def _trigger_sql(form_id: int) -> list[str]:
    function, write, delete = _names(form_id)
    records, form = Record._meta.db_table, int(form_id)
    return [
        f"CREATE TRIGGER {write} AFTER INSERT OR UPDATE ON {records} FOR EACH ROW "
        f"WHEN (NEW.form_id = {form}) EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {records} FOR EACH ROW "
        f"WHEN (OLD.form_id = {form}) EXECUTE FUNCTION {function}()",
    ]


def _hash(function_sql: str) -> str:
    return hashlib.sha256(function_sql.encode()).hexdigest()


# --- promotion ----------------------------------------------------------------------------


def _casts(columns: Mapping[str, str], definition: FormDefinition) -> dict[str, tuple[str, str]]:
    """``{key: (slot, cast)}`` of the assignments that still fit the form's fields."""
    out = {}
    for key, slot in columns.items():
        field_type = definition.field_types.get(key)
        cast = cast_of(field_type) if field_type is not None else None
        if cast is not None and slot in SLOTS[slot_kind(cast)]:
            out[key] = (slot, cast)
    return out


def _assign(
    current: Mapping[str, str], definition: FormDefinition, field_keys: Iterable[str]
) -> dict[str, str]:
    """The new assignment: the current one (minus fields that left the form or changed
    slot kind), then each requested promotable field in a free slot of its kind.
    Raises ``UNKNOWN_FIELD`` / ``LIMIT_EXCEEDED`` (path: the field key) for all such
    fields at once."""
    columns = {key: slot for key, (slot, _) in _casts(current, definition).items()}
    errors: list[ErrorDetail] = []
    for key in dict.fromkeys(field_keys):
        if key in columns or key in SYSTEM_FIELDS:
            continue
        field_type = definition.field_types.get(key)
        if field_type is None:
            errors.append(
                ErrorDetail(
                    code="UNKNOWN_FIELD",
                    message=f"The form has no field {key!r} to promote.",
                    field=key,
                    path=key,
                )
            )
            continue
        cast = cast_of(field_type)
        if cast is None:
            continue  # read from the JSON: see the module docstring
        kind = slot_kind(cast)
        free = [slot for slot in SLOTS[kind] if slot not in columns.values()]
        if not free:
            errors.append(
                ErrorDetail(
                    code=CommonErrorCode.LIMIT_EXCEEDED,
                    message=(
                        f"A form can promote at most {len(SLOTS[kind])} {_KIND_NAMES[kind]} "
                        f"fields; {key!r} does not fit."
                    ),
                    field=key,
                    path=key,
                )
            )
            continue
        columns[key] = free[0]
    if errors:
        raise DajianError(errors)
    return columns


def _zone_name(workspace: Workspace) -> str:
    return str(time_zone_of(workspace).key)


def _triggers_installed(form_id: int) -> bool:
    _, write, delete = _names(form_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname IN (%s, %s)",
            [Record._meta.db_table, write, delete],
        )
        return int(cursor.fetchone()[0]) == 2


def promote(form: Form, field_keys: Iterable[str]) -> dict[str, str]:
    """Promote ``field_keys`` of ``form`` (those of promotable types; record columns
    such as ``stage`` or ``owner`` are facts already) and return the form's whole
    assignment ``{field key: slot}``. On PostgreSQL the trigger is (re)installed and the
    form's facts backfilled when the generated SQL changed; all inside the caller's
    transaction, which holds the lock on the records until it ends (callers promote in
    a short transaction of their own: :func:`.hooks.promote_for_dashboards`).
    ``promote(form, [])`` refreshes a form whose definition or workspace time zone
    changed. On other databases: nothing, ``{}``.

    Refusals (nothing changed): ``UNKNOWN_FIELD``, ``LIMIT_EXCEEDED`` (no free slot of
    the field's kind), each with the field key as path."""
    keys = list(field_keys)
    if connection.vendor != "postgresql":
        return {}
    with transaction.atomic():
        # One promotion of a form at a time: the slot assignment reads, then writes.
        Form.objects.select_for_update().filter(pk=form.pk).values_list("pk").first()
        form = Form.objects.select_related("published", "workspace").get(pk=form.pk)
        definition = definition_of(form)
        if definition is None:
            return {}
        promotion = FormPromotion.objects.filter(form_id=form.pk).first()
        current = dict(promotion.columns) if promotion is not None else {}
        columns = _assign(current, definition, keys)
        zone = _zone_name(form.workspace)
        function_sql = trigger_function_sql(form.pk, _casts(columns, definition), zone)
        digest = _hash(function_sql)
        fresh = (
            promotion is not None
            and promotion.trigger_hash == digest
            and promotion.columns == columns
            and _triggers_installed(form.pk)
        )
        if fresh:
            return columns
        _install(form.pk, function_sql, _backfill_sql(form.pk, _casts(columns, definition), zone))
        FormPromotion.objects.update_or_create(
            form_id=form.pk,
            defaults={
                "workspace_id": form.workspace_id,
                "columns": columns,
                "trigger_hash": digest,
            },
        )
    return columns


def _install(form_id: int, function_sql: str, backfill_sql: str) -> None:
    """Replace the trigger function, create the triggers if missing, backfill, and drop
    facts whose record is gone; writers to records wait meanwhile (see the docstring)."""
    records, facts = Record._meta.db_table, RecordFact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {records} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(function_sql)
        if not _triggers_installed(form_id):
            _, write, delete = _names(form_id)
            for name in (write, delete):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {records}")
            for statement in _trigger_sql(form_id):
                cursor.execute(statement)
        cursor.execute(backfill_sql)
        cursor.execute(
            f"DELETE FROM {facts} f WHERE f.form_id = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {records} r WHERE r.id = f.record_id AND r.form_id = f.form_id)",
            [form_id],
        )


# --- reading ------------------------------------------------------------------------------


def _id(row: Any) -> Any:
    """The value a subquery row stands for in ``IN``: a ``values()`` row's one value, a
    model instance's primary key, or the value itself (``values_list(flat=True)``)."""
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row.pk if isinstance(row, Model) else row


_STAMP_SQL = (
    f"SELECT f.published_id, w.time_zone, p.trigger_hash FROM {Form._meta.db_table} f "
    f"JOIN {Workspace._meta.db_table} w ON w.id = f.workspace_id "
    f"LEFT JOIN {FormPromotion._meta.db_table} p ON p.form_id = f.id WHERE f.id = %s"
)
# form id → (what the validating query answered, the columns loaded then)
_by_form: dict[int, tuple[tuple[Any, ...], dict[str, str] | None]] = {}
_by_form_lock = threading.Lock()


def promoted_columns(form: Form) -> dict[str, str] | None:
    """``{field key: slot}`` of ``form``'s promoted fields, or None when its facts are
    not usable (not PostgreSQL, never promoted, nothing promoted, or the form's fields or
    the workspace's time zone changed since the trigger was installed: ``promote`` has
    to run again first). Cached per process; one small query validates the cache (the
    form's published version, the workspace's time zone and the trigger's hash), so a
    promotion or publish elsewhere is seen at once."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, [form.pk])
        row = cursor.fetchone()
    stamp = tuple(row) if row else ()
    with _by_form_lock:
        cached = _by_form.get(form.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    columns = _load_columns(form.pk) if stamp and stamp[2] else None
    with _by_form_lock:
        _by_form[form.pk] = (stamp, columns)
    return columns


def _load_columns(form_id: int) -> dict[str, str] | None:
    form = Form.objects.select_related("published", "workspace").filter(pk=form_id).first()
    promotion = FormPromotion.objects.filter(form_id=form_id).first()
    if form is None or promotion is None or not promotion.columns:
        return None
    definition = definition_of(form)
    if definition is None:
        return None
    casts = _casts(promotion.columns, definition)
    expected = _hash(trigger_function_sql(form_id, casts, _zone_name(form.workspace)))
    if expected != promotion.trigger_hash or len(casts) != len(promotion.columns):
        return None  # the trigger computes what the fields were: stale until re-promoted
    return dict(promotion.columns)


def fact_queryset(actor: Actor, form: Form) -> QuerySet[RecordFact]:
    """Facts of ``form`` in the actor's workspace within their READ row scope: the same
    rows as ``Record.objects.permitted(actor, form)`` (one shared condition on
    ``owner``, the public pool included), with the scope's subqueries (the members of
    the org-chart subtrees the actor sees) read first into lists of ids
    (:func:`materialized`)."""
    return RecordFact.objects.filter(workspace_id=actor.workspace.pk, form_id=form.pk).filter(
        materialized(row_scope_condition(actor, form, Action.READ))
    )


def materialized(condition: Q) -> Q:
    """``condition`` with every ``IN (subquery)`` replaced by the list of ids the subquery
    gives now (one small query each). The same rows: PostgreSQL then tests each row's
    owner against a hashed constant list (``= ANY``), about 4 times cheaper per row than
    the hashed subplan of the subquery (a manager's ~50 members: 18 ms instead of 65 ms
    per 1,000,000 facts). Read in its own statement, the list is as current as a
    subquery of the next statement would be, up to memberships changed in between."""
    out = Q()
    out.connector, out.negated = condition.connector, condition.negated
    for child in condition.children:
        if isinstance(child, Q):
            out.children.append(materialized(child))
        elif isinstance(child, tuple) and isinstance(child[1], QuerySet):
            out.children.append((child[0], [_id(row) for row in child[1]]))
        else:
            out.children.append(child)
    return out


__all__ = [
    "cast_of",
    "date_instant",
    "fact_queryset",
    "promote",
    "promoted_columns",
    "slot_sql",
]
