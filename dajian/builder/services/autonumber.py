"""Autonumber counters: the next number of a field in a period, safe under concurrency.

One ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` statement (PostgreSQL, SQLite ≥
3.35) creates the counter at 1 or increments it and returns the new value; the row stays
locked until the caller's transaction ends, so two concurrent creates never get the same
number, and a rolled-back create gives its number back.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.db import connection

from dajian.builder.models import AutonumberCounter


def next_number(form_id: int, field_key: str, period: str) -> int:
    """The next number (1, 2, …) of ``field_key`` of form ``form_id`` in ``period``.

    Call it inside the transaction that creates the record."""
    table = connection.ops.quote_name(AutonumberCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (form_id, field_key, period, value) VALUES (%s, %s, %s, 1) "
        "ON CONFLICT (form_id, field_key, period) "
        f"DO UPDATE SET value = {table}.value + 1 RETURNING value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [form_id, field_key, period])
        row = cursor.fetchone()
    return int(row[0])


def assign(form_id: int, field: Any, when: datetime, tz: tzinfo | str | None = None) -> str:
    """The value of autonumber ``field`` (an ``AutonumberField``) for a record of form
    ``form_id`` created at ``when``."""
    number = next_number(form_id, field.key, field.period(when, tz))
    return field.format(number, when, tz)
