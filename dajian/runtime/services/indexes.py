"""Expression indexes on the record table, created when a form version is published.

- ``unique`` fields: a partial UNIQUE index on the field's text value for that form, so
  concurrent creates of the same value cannot both commit (exactly one wins).
- ``indexed`` fields: a partial composite index (workspace, value, created_at, id) that
  serves "filter on this field, newest first" lists (1 ms instead of ~500 ms at 1M rows).
- single ``relation`` fields: a partial index on the related id, for rollups and lookups.

Index names are derived from the form id and field key (``rx_<form>_<key>_<kind>``), so
publishing again is idempotent. Indexes of fields that were removed are left in place
(dropping them could slow queries of older clients); see docs/records.md.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from django.db.models import F, Q

from dajian.builder.definitions import FormDefinition
from dajian.runtime.models import Record


def index_name(form_id: int, key: str, kind: str) -> str:
    # PostgreSQL truncates identifiers at 63 bytes; keys are ≤ 63 chars, so hash long ones.
    name = f"rx_{form_id}_{key}_{kind}"
    if len(name) > 60:
        import hashlib

        name = f"rx_{form_id}_{hashlib.sha1(key.encode()).hexdigest()[:12]}_{kind}"
    return name


def record_indexes(form_id: int, definition: FormDefinition) -> list[Any]:
    """The Django index/constraint objects a definition asks for."""
    partial = Q(form_id=form_id)
    wanted: list[Any] = []
    for f in definition.fields:
        field_type = definition.field_types[f["key"]]
        if f.get("unique"):
            wanted.append(
                models.UniqueConstraint(
                    field_type.sql_text(),
                    condition=partial,
                    name=index_name(form_id, f["key"], "u"),
                )
            )
        if f.get("indexed"):
            wanted.append(
                models.Index(
                    F("workspace"),
                    field_type.sql_value(),
                    F("created_at").desc(),
                    F("id").desc(),
                    condition=partial,
                    name=index_name(form_id, f["key"], "i"),
                )
            )
        if f["type"] == "relation" and not f.get("multiple"):
            wanted.append(
                models.Index(
                    field_type.sort_expression(),
                    condition=partial,
                    name=index_name(form_id, f["key"], "r"),
                )
            )
    return wanted


def ensure_record_indexes(form_version: Any) -> None:
    """Create the indexes ``form_version`` declares that do not exist yet."""
    definition = FormDefinition(form_version.definition)
    wanted = record_indexes(form_version.form_id, definition)
    if not wanted:
        return
    # The editor only renders SQL here: entering it would refuse to run inside the
    # publishing transaction on SQLite, and DDL is transactional on both databases.
    editor = connection.schema_editor(atomic=False)
    with connection.cursor() as cursor:
        existing = set(connection.introspection.get_constraints(cursor, Record._meta.db_table))
        for item in wanted:
            if item.name not in existing:
                cursor.execute(str(item.create_sql(Record, editor)))
