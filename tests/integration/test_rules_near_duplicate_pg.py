"""R22 on PostgreSQL: the near-duplicate scenario of
``tests/runtime/test_rules_near_duplicate.py`` (imported below, so collected again here)
gives the same flags, and ``pg_trgm`` scores its notes exactly as the SQLite fallback does.

``flag_similar_text`` scores in SQL with ``pg_trgm`` where the database counts CJK
characters as letters (a UTF-8 ``LC_CTYPE``), and in Python elsewhere. The test cluster
is ``C``, so the re-collected scenario takes the Python way for the Chinese notes;
``test_the_latin_scenario_is_scored_in_sql`` runs it through ``pg_trgm``'s query (Latin
letters count in every locale), and ``test_pg_trgm_scores_the_scenario_notes_alike``
scores the Chinese notes with ``similarity()`` in a database that counts CJK letters.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.runtime.automations.actions import flag_similar_text
from dajian.runtime.automations.actions.flag_similar_text import similarity
from tests.integration.test_similar_text_pg import cjk_database
from tests.runtime.rules_plugin import notes, notes_app, rep, rep_actor, supervisor
from tests.runtime.rules_scenarios import NOTES, create, flagged, follow_ups
from tests.runtime.test_rules_near_duplicate import (
    test_a_new_similarity_threshold_applies_to_the_next_note,
    test_only_the_near_duplicate_note_of_the_same_customer_is_flagged,
)

# The scenario's fixtures and the tests of the SQLite module, collected again here.
__all__ = [
    "cjk_database",
    "notes",
    "notes_app",
    "rep",
    "rep_actor",
    "supervisor",
    "test_a_new_similarity_threshold_applies_to_the_next_note",
    "test_only_the_near_duplicate_note_of_the_same_customer_is_flagged",
]


def scored_in_sql(queries: CaptureQueriesContext) -> bool:
    return any("SIMILARITY(" in q["sql"].upper() for q in queries.captured_queries)


@pytest.fixture
def sql_scores(monkeypatch):
    """Score with ``pg_trgm``'s query whatever the database's locale (Latin text only)."""
    monkeypatch.setattr(flag_similar_text, "pg_trgm_ready", lambda: True)


def test_the_latin_scenario_is_scored_in_sql(sql_scores, notes_app, rep_actor):
    latin = NOTES["en"]
    acme = create(rep_actor, "customer", name="ACME")
    bolt = create(rep_actor, "customer", name="Bolt")

    with CaptureQueriesContext(connection) as queries:
        mine = follow_ups(rep_actor, acme, latin.first, latin.other, latin.near)
    theirs = follow_ups(rep_actor, bolt, latin.first)

    assert scored_in_sql(queries)
    assert flagged(mine) == [False, False, True]
    assert flagged(theirs) == [False]


def test_the_chinese_scenario_takes_sql_only_where_cjk_letters_count(notes_app, rep_actor):
    chinese = NOTES["zh"]
    flag_similar_text._pg_trgm_ready.clear()
    acme = create(rep_actor, "customer", name="ACME")

    with CaptureQueriesContext(connection) as queries:
        mine = follow_ups(rep_actor, acme, chinese.first, chinese.near)

    assert flagged(mine) == [False, True]
    with connection.cursor() as cursor:
        cursor.execute("SELECT show_trgm(%s)", ["中文"])
        counts_cjk = bool(cursor.fetchone()[0])
    assert scored_in_sql(queries) is counts_cjk


@pytest.mark.parametrize("language", sorted(NOTES))
def test_pg_trgm_scores_the_scenario_notes_alike(cjk_database: Any, language: str):
    notes = NOTES[language]
    texts = (notes.near, notes.reworded, notes.other)

    in_sql = [
        cjk_database.execute("SELECT similarity(%s, %s)", [notes.first, text]).fetchone()[0]
        for text in texts
    ]

    assert in_sql == pytest.approx([similarity(notes.first, t) for t in texts], abs=1e-6)
    assert [round(score, 2) for score in in_sql] == list(notes.scores)
