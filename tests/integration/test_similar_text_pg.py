"""Near-duplicate text on PostgreSQL: ``pg_trgm`` and the Python similarity agree, the
query way and the Python way pick the same match, and the action's cases of
``tests/runtime/test_similar_text.py`` hold here too (imported below, so collected again).

``pg_trgm`` only counts CJK characters as letters in a database whose ``LC_CTYPE`` is a
UTF-8 locale; the test cluster is ``C``, so the Chinese pairs are scored in a sibling
database created with ``LC_CTYPE 'C.UTF-8'`` (or in the test database when it already
qualifies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection

from dajian.runtime.automations.actions import flag_similar_text
from dajian.runtime.automations.actions.flag_similar_text import best_match, similarity
from tests.automation_helpers import run_action
from tests.runtime.test_similar_text import (
    PAIRS,
    SPEC,
    reps,
    test_a_flagged_note_is_not_flagged_again,
    test_a_near_duplicate_chinese_note_is_flagged,
    test_a_relation_scope_compares_notes_about_the_same_customer,
    test_below_the_threshold_nothing_is_flagged_but_the_best_match_is_named,
    test_empty_notes_are_neither_compared_nor_candidates,
    test_notes_of_another_workspace_never_count,
    test_notes_older_than_the_lookback_are_not_compared,
    test_only_earlier_notes_count_and_the_newest_wins_a_tie,
    test_only_the_latest_candidates_are_compared,
    test_the_owner_scope_compares_with_the_same_owners_notes_only,
    visit,
    visit_form,
)

# The fixtures and cases of the SQLite module, collected again here.
__all__ = [
    "reps",
    "test_a_flagged_note_is_not_flagged_again",
    "test_a_near_duplicate_chinese_note_is_flagged",
    "test_a_relation_scope_compares_notes_about_the_same_customer",
    "test_below_the_threshold_nothing_is_flagged_but_the_best_match_is_named",
    "test_empty_notes_are_neither_compared_nor_candidates",
    "test_notes_of_another_workspace_never_count",
    "test_notes_older_than_the_lookback_are_not_compared",
    "test_only_earlier_notes_count_and_the_newest_wins_a_tie",
    "test_only_the_latest_candidates_are_compared",
    "test_the_owner_scope_compares_with_the_same_owners_notes_only",
    "visit_form",
]

LATIN = [
    "Visited the client, discussed the renewal price",
    "Visited client and discussed renewal price again",
    "Sent the quotation for 200 units; waiting for the purchasing manager",
    "Demo of the new dashboard went well, follow up next week",
]


def _connect(dbname: str) -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def _counts_cjk(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT show_trgm(%s)", ["中文"]).fetchone()
    return bool(row and row[0])


@pytest.fixture(scope="module")
def cjk_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """A connection to a database where ``pg_trgm`` counts CJK letters: the test
    database when its LC_CTYPE allows it, else a throw-away sibling with C.UTF-8."""
    with django_db_blocker.unblock():
        test_name = connection.settings_dict["NAME"]
        conn = _connect(test_name)
        if _counts_cjk(conn):
            yield conn
            conn.close()
            return
        conn.close()
        name = f"{test_name}_cjk_{os.getpid()}"
        with _connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_CTYPE 'C.UTF-8' LC_COLLATE 'C'"
            )
        try:
            with _connect(name) as sibling:
                sibling.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                assert _counts_cjk(sibling), "pg_trgm does not count CJK letters under C.UTF-8"
                yield sibling
        finally:
            with _connect("postgres") as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_the_migration_installed_pg_trgm(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == ("pg_trgm",)


def test_pg_trgm_and_python_agree_on_every_pair(cjk_database):
    texts = sorted({t for a, b, _ in PAIRS for t in (a, b)} | set(LATIN))
    pairs = [(a, b) for a in texts for b in texts]

    scores = [
        cjk_database.execute("SELECT similarity(%s, %s)", [a, b]).fetchone()[0] for a, b in pairs
    ]

    disagreements = [
        (a, b, score, similarity(a, b))
        for (a, b), score in zip(pairs, scores, strict=True)
        if abs(score - similarity(a, b)) > 1e-6
    ]
    assert disagreements == []
    assert len(pairs) > 200


def test_the_test_database_agrees_on_latin_text(db):
    with connection.cursor() as cursor:
        for a in LATIN:
            for b in LATIN:
                cursor.execute("SELECT similarity(%s, %s)", [a, b])
                assert cursor.fetchone()[0] == pytest.approx(similarity(a, b), abs=1e-6)


def test_the_query_and_python_pick_the_same_match(workspace, reps, visit_form):
    rep, _ = reps
    for note in LATIN:
        visit(rep, workspace, note)
    new = visit(rep, workspace, "Visited the client again and discussed the renewal price")

    in_sql = best_match(new, SPEC, in_database=True)
    in_python = best_match(new, SPEC, in_database=False)

    assert in_sql is not None and in_python is not None
    assert in_sql.record_id == in_python.record_id
    assert in_sql.score == pytest.approx(in_python.score, abs=1e-6)


def test_the_action_flags_with_pg_trgm(workspace, reps, visit_form, admin_actor, monkeypatch):
    monkeypatch.setattr(flag_similar_text, "pg_trgm_ready", lambda: True)
    rep, _ = reps
    first = visit(rep, workspace, LATIN[0])
    new = visit(rep, workspace, LATIN[1])

    outcomes = run_action(admin_actor, visit_form, SPEC, [new])

    assert outcomes[0].result == {
        "matched": first.pk,
        "score": round(similarity(LATIN[0], LATIN[1]), 6),
        "flagged": True,
    }


def test_pg_trgm_is_used_only_where_it_counts_cjk_letters(db):
    flag_similar_text._pg_trgm_ready.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT show_trgm(%s)", ["中文"])
        counts_cjk = bool(cursor.fetchone()[0])

    assert flag_similar_text.pg_trgm_ready() is counts_cjk
